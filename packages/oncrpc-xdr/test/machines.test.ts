import t from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import {
  AuthStat,
  DuplicateRequestCache,
  RpcDispatcher,
  XdrReader,
  XidAllocator,
  argsChecksum,
  decodeRpcMessage,
  drcKey,
  encodeRpcMessage,
} from '@netboot/oncrpc-xdr';

const NONE = { flavor: 0, body: Buffer.alloc(0) };

t.test('duplicate request cache: replay, in-progress, bound, expiry', (t) => {
  const drc = new DuplicateRequestCache(2, 1000);
  const k = drcKey(1, '10.0.0.1', 800, 100003, 3, 8, Buffer.from('args'));
  t.same(drc.begin(k, 0), { kind: 'new' });
  t.same(drc.begin(k, 1), { kind: 'in-progress' });
  const reply = Buffer.from('reply');
  drc.complete(k, [reply.subarray(0, 2), reply.subarray(2)], 2);
  reply.fill(0);
  const again = drc.begin(k, 3);
  t.equal(again.kind === 'replay' && again.reply.toString(), 'reply', 'a copy of the reply, not the lent buffers');
  t.same(drc.begin(k, 1003), { kind: 'new' }, 'expired after ttl');
  drc.begin('b', 1004);
  drc.begin('c', 1005);
  t.equal(drc.size, 2, 'bounded');
  t.same(drc.begin(k, 1006), { kind: 'new' }, 'the oldest was evicted');
  drc.abandon(k);
  t.same(drc.begin(k, 1007), { kind: 'new' }, 'abandoned calls run again');
  t.not(drcKey(1, 'a', 1, 1, 1, 1, Buffer.from([1])), drcKey(1, 'a', 1, 1, 1, 1, Buffer.from([2])), 'args are part of the key');
  t.not(argsChecksum(Buffer.alloc(300)), argsChecksum(Buffer.alloc(301)), 'length is part of the checksum');
  t.end();
});

t.test('duplicate request cache: never above capacity, completed calls replay until evicted', (t) => {
  const op = fc.tuple(fc.constantFrom('begin', 'complete', 'abandon'), fc.integer({ min: 0, max: 9 }));
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 5 }), fc.array(op, { maxLength: 60 }), (capacity, ops) => {
      const drc = new DuplicateRequestCache(capacity, 1e9);
      const model = new Map<string, string | null>();
      ops.forEach(([kind, n], now) => {
        const key = `k${n}`;
        if (kind === 'begin') {
          const d = drc.begin(key, now);
          const m = model.get(key);
          if (m === undefined) {
            if (d.kind !== 'new') throw new Error(`${key}: expected new, got ${d.kind}`);
            model.set(key, null);
            while (model.size > capacity) model.delete(model.keys().next().value as string);
          } else if (m === null ? d.kind !== 'in-progress' : d.kind !== 'replay' || d.reply.toString() !== m) {
            throw new Error(`${key}: unexpected ${d.kind}`);
          }
        } else if (kind === 'complete') {
          drc.complete(key, [Buffer.from(`r${now}`)], now);
          if (model.has(key)) model.set(key, `r${now}`);
        } else {
          drc.abandon(key);
          model.delete(key);
        }
        if (drc.size > capacity || drc.size !== model.size) throw new Error(`size ${drc.size}, model ${model.size}`);
      });
    }),
    { seed: 42, numRuns: 300 },
  );
  t.pass('matches a model LRU');
  t.end();
});

t.test('xid allocation: consecutive from the start, skipping xids in use, wrapping at 2^32', (t) => {
  const x = new XidAllocator(0xfffffffe);
  const inUse = new Set([0xffffffff]);
  t.equal(x.allocate(inUse), 0xfffffffe);
  t.equal(x.allocate(inUse), 0);
  t.not(new XidAllocator().allocate(new Set()), new XidAllocator().allocate(new Set()), 'random starts');
  t.end();
});

t.test('dispatcher: any bytes become a drop, a reply or a call, never an exception', (t) => {
  const logs: string[] = [];
  const d = new RpcDispatcher((_k, l) => logs.push(l));
  d.register(100000, 2, { 0: () => ({ stat: 0, body: [] }) });
  const call = encodeRpcMessage({ type: 0, xid: 5, rpcvers: 2, prog: 100000, vers: 2, proc: 0, cred: NONE, verf: NONE });
  const check = (bytes: Uint8Array) => {
    const out = d.decide(Buffer.from(bytes), 'test');
    if (out.kind === 'reply') decodeRpcMessage(Buffer.from(out.reply.chunks[0]));
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), check), { seed: 42, numRuns: 1000 });
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }), fc.nat(), (edits, cut) => {
      const b = Buffer.from(call);
      for (const [at, v] of edits) b[at % b.length] = v;
      check(b.subarray(0, cut % (b.length + 1)));
    }),
    { seed: 42, numRuns: 1000 },
  );
  t.match(d.decide(call, 'test'), { kind: 'call', xid: 5, argsOffset: call.length });
  t.match(d.decide(call.subarray(0, 7), 'test'), { kind: 'drop' }, 'no xid and type: dropped');
  t.match(d.decide(call.subarray(0, 20), 'test'), { kind: 'drop' }, 'truncated header: dropped');
  const badSys = encodeRpcMessage({ type: 0, xid: 6, rpcvers: 2, prog: 100000, vers: 2, proc: 0, cred: { flavor: 1, body: Buffer.alloc(3) }, verf: NONE });
  const r = d.decide(badSys, 'test');
  t.equal(r.kind === 'reply' && decodeRpcMessage(Buffer.from(r.reply.chunks[0])).msg.type, 1);
  t.match(r.kind === 'reply' && decodeRpcMessage(Buffer.from(r.reply.chunks[0])).msg, { replyStat: 1, rejected: { stat: 1, why: AuthStat.AUTH_BADCRED } });
  t.end();
});

t.test('dispatcher: synchronous handlers answer synchronously; bad results are SYSTEM_ERR', async (t) => {
  const logs: string[] = [];
  const d = new RpcDispatcher((_k, l) => logs.push(l));
  d.register(7, 1, { 1: () => ({ stat: 0, body: [Buffer.from('abcd')] }), 2: () => ({ stat: 0, body: ['text'] }) as never });
  const ctx = { transport: 'udp' as const, remote: { address: '127.0.0.1', port: 1, family: 'IPv4' as const }, local: { address: '127.0.0.1', port: 2 } };
  const call = (proc: number) => encodeRpcMessage({ type: 0, xid: 9, rpcvers: 2, prog: 7, vers: 1, proc, cred: NONE, verf: NONE });
  const d1 = d.decide(call(1), 't');
  if (d1.kind !== 'call') throw new Error('expected a call');
  const out = d.invoke(d1, call(1), ctx);
  t.notOk(out instanceof Promise, 'no promise for a synchronous handler');
  t.same((out as { chunks: Uint8Array[] }).chunks.map((c) => Buffer.from(c).toString('hex')), ['000000090000000100000000000000000000000000000000', '61626364']);
  const d2 = d.decide(call(2), 't');
  if (d2.kind !== 'call') throw new Error('expected a call');
  const bad = await d.invoke(d2, call(2), ctx);
  t.match(decodeRpcMessage(Buffer.from(bad.chunks[0])).msg, { accepted: { stat: 5 } });
  t.match(logs.join(), /not an array of Uint8Array/);
  t.ok(new XdrReader(Buffer.alloc(0)), 'reader export');
});

t.test("dispatcher: a version's watcher sees each call start and its result, whatever the handler does", async (t) => {
  const seen: string[] = [];
  const d = new RpcDispatcher(() => {});
  const watcher = {
    start: (c: { proc: number }) => `token ${c.proc}`,
    done: (c: { proc: number }, r: unknown, started: unknown) => seen.push(`${c.proc} ${JSON.stringify((r as { stat?: number } | undefined)?.stat)} ${String(started)}`),
  };
  d.register(
    7,
    1,
    {
      1: () => ({ stat: 0, body: [Buffer.from('abcd')] }),
      2: async () => ({ stat: 5 }),
      3: () => {
        throw new Error('boom');
      },
      4: async () => {
        throw new Error('late boom');
      },
    },
    watcher,
  );
  const ctx = { transport: 'tcp' as const, remote: { address: '127.0.0.1', port: 1, family: 'IPv4' as const }, local: { address: '127.0.0.1', port: 2 } };
  for (const proc of [1, 2, 3, 4]) {
    const bytes = encodeRpcMessage({ type: 0, xid: proc, rpcvers: 2, prog: 7, vers: 1, proc, cred: NONE, verf: NONE });
    const dec = d.decide(bytes, 't');
    if (dec.kind !== 'call') throw new Error('expected a call');
    await d.invoke(dec, bytes, ctx);
  }
  t.same(seen, ['1 0 token 1', '2 5 token 2', '3 undefined token 3', '4 undefined token 4'], 'results, and undefined for a handler that threw');
  d.register(7, 2, { 1: () => ({ stat: 0, body: [] }) });
  const bytes = encodeRpcMessage({ type: 0, xid: 9, rpcvers: 2, prog: 7, vers: 2, proc: 1, cred: NONE, verf: NONE });
  const dec = d.decide(bytes, 't');
  if (dec.kind !== 'call') throw new Error('expected a call');
  d.invoke(dec, bytes, ctx);
  t.equal(seen.length, 4, 'a version registered without one is not watched');
});

t.test('dispatcher replies are byte-identical to libtirpc rpcbind captures', async (t) => {
  const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}.hex`, import.meta.url), 'utf8').trim();
  const d = new RpcDispatcher(() => {});
  for (const vers of [2, 3, 4]) d.register(100000, vers, { 0: () => ({ stat: 0, body: [] }) });
  const ctx = { transport: 'udp' as const, remote: { address: '127.0.0.1', port: 1, family: 'IPv4' as const }, local: { address: '127.0.0.1', port: 111 } };
  const reply = async (f: { xid: number; prog?: number; vers?: number; proc?: number; cred?: { flavor: number; body: Buffer } }) => {
    const bytes = encodeRpcMessage({ type: 0, rpcvers: 2, prog: 100000, vers: 2, proc: 0, cred: NONE, verf: NONE, ...f });
    const out = d.decide(bytes, 'test');
    if (out.kind === 'drop') return 'dropped';
    const r = out.kind === 'reply' ? out.reply : await d.invoke(out, bytes, ctx);
    return Buffer.concat(r.chunks).toString('hex');
  };
  t.equal(await reply({ xid: 0x101 }), fixture('rpcbind-reply-null'), 'NULL');
  t.equal(await reply({ xid: 0x102, vers: 0 }), fixture('rpcbind-reply-prog-mismatch'), 'PROG_MISMATCH 2..4');
  t.equal(await reply({ xid: 0x103, proc: 99 }), fixture('rpcbind-reply-proc-unavail'), 'PROC_UNAVAIL');
  t.equal(await reply({ xid: 0x104, prog: 100099 }), fixture('rpcbind-reply-prog-unavail'), 'PROG_UNAVAIL');
  t.equal(await reply({ xid: 0x108, cred: { flavor: 1, body: Buffer.from('0000000100000200', 'hex') } }), fixture('rpcbind-reply-bad-authsys'), 'AUTH_BADCRED');
});
