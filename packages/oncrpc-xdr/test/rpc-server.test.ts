import t, { type Test } from 'tap';
import fc from 'fast-check';
import dgram from 'node:dgram';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  AcceptStat,
  AuthFlavor,
  AuthStat,
  RejectStat,
  RpcAcceptError,
  RpcClient,
  RpcConnectionError,
  RpcDeniedError,
  RpcServer,
  RpcTimeoutError,
  XdrWriter,
  decodeRpcMessage,
  encodeRpcMessage,
  recordMark,
  RecordDecoder,
  type Credential,
  type RpcCall,
  type ReplySender,
  type RpcServerOptions,
  type OpaqueAuth,
} from '@netboot/oncrpc-xdr';
import { native } from '@netboot/platform';
import { createNetns } from '../../../test/support/netns.js';
import { run } from '../../../test/support/processes.js';
import { requireNetns } from '../../../test/support/programs.js';
import { until } from '../../../test/support/until.js';

const HOST = '127.0.0.1';
const PROG = 0x20000099;
const NONE: OpaqueAuth = { flavor: 0, body: Buffer.alloc(0) };

type T = Test;

async function serve(t: T, opts: RpcServerOptions = {}) {
  const logs: string[] = [];
  const server = new RpcServer({ log: (l) => logs.push(l), ...opts });
  t.teardown(() => server.close());
  return { server, logs, listen: () => server.listen({ host: HOST }) };
}

async function connect(t: T, port: number, transport: 'udp' | 'tcp', extra: Partial<Parameters<typeof RpcClient.connect>[0]> = {}) {
  const c = await RpcClient.connect({ host: HOST, port, transport, timeoutMs: 5000, ...extra });
  t.teardown(() => c.close());
  return c;
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
}


/**
 * Bytes already in one of the server's sockets have been read once a call on another connection is
 * answered: the server has polled its sockets since (server and test share one event loop).
 */
async function serverPolled(t: T, port: number): Promise<void> {
  const other = await connect(t, port, 'tcp');
  await t.rejects(other.call(PROG, 1, 9), RpcAcceptError, 'another connection is served meanwhile');
}

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { opened, open };
}

function rawCall(xid: number, fields: { rpcvers?: number; prog?: number; vers?: number; proc?: number; cred?: OpaqueAuth; verf?: OpaqueAuth } = {}, args: Buffer = Buffer.alloc(0)): Buffer {
  const header = encodeRpcMessage({
    type: 0,
    xid,
    rpcvers: fields.rpcvers ?? 2,
    prog: fields.prog ?? PROG,
    vers: fields.vers ?? 1,
    proc: fields.proc ?? 0,
    cred: fields.cred ?? NONE,
    verf: fields.verf ?? NONE,
  });
  return Buffer.concat([header, args]);
}

/** A UDP socket for hand-made datagrams, collecting every reply. */
async function rawUdp(t: T, port: number) {
  const s = dgram.createSocket('udp4');
  const replies: Buffer[] = [];
  s.on('message', (m) => replies.push(m));
  await new Promise<void>((r) => s.bind(0, HOST, () => r()));
  t.teardown(() => s.close());
  return {
    replies,
    send: (b: Buffer, cb?: () => void) => s.send(b, port, HOST, cb),
    async exchange(b: Buffer): Promise<Buffer> {
      const n = replies.length;
      s.send(b, port, HOST);
      await until(() => replies.length > n, 'a UDP reply');
      return replies[n];
    },
  };
}

const sum = (call: RpcCall) => {
  const a = call.args.u32('a');
  const b = call.args.u32('b');
  call.args.done('args');
  return { stat: 0 as const, body: [u32((a + b) >>> 0)] };
};

for (const transport of ['udp', 'tcp'] as const) {
  t.test(`${transport}: every accept and reject status as RFC 5531 says`, async (t) => {
    const { server, logs, listen } = await serve(t);
    let seen: RpcCall | undefined;
    server.register(PROG, 1, {
      0: () => ({ stat: 0, body: [] }),
      1: sum,
      2: () => {
        throw new Error('disk on fire');
      },
      3: async () => ({ stat: 'auth', why: AuthStat.AUTH_TOOWEAK }),
      4: async (call) => {
        seen = call;
        return { stat: 0, body: [] };
      },
      5: () => ({ name: 'RpcAcceptError', stat: AcceptStat.PROC_UNAVAIL }),
    });
    server.register(PROG, 3, {});
    server.register(PROG, 5, {});
    const port = await listen();
    const c = await connect(t, port, transport);
    t.equal((await c.call(PROG, 1, 1, [u32(40), u32(2)])).u32('sum'), 42, 'SUCCESS with results');
    await t.rejects(c.call(PROG + 1, 1, 0), new RpcAcceptError(AcceptStat.PROG_UNAVAIL), 'PROG_UNAVAIL');
    await t.rejects(c.call(PROG, 2, 0), { name: 'RpcAcceptError', stat: AcceptStat.PROG_MISMATCH, low: 1, high: 5 }, 'PROG_MISMATCH(1, 5)');
    await t.rejects(c.call(PROG, 1, 99), { name: 'RpcAcceptError', stat: AcceptStat.PROC_UNAVAIL }, 'PROC_UNAVAIL');
    await t.rejects(c.call(PROG, 1, 1, [u32(1)]), { name: 'RpcAcceptError', stat: AcceptStat.GARBAGE_ARGS }, 'short arguments: GARBAGE_ARGS');
    await t.rejects(c.call(PROG, 1, 1, [u32(1), u32(2), u32(3)]), { name: 'RpcAcceptError', stat: AcceptStat.GARBAGE_ARGS }, 'trailing arguments: GARBAGE_ARGS');
    await t.rejects(c.call(PROG, 1, 2), { name: 'RpcAcceptError', stat: AcceptStat.SYSTEM_ERR }, 'a throwing handler: SYSTEM_ERR');
    t.match(logs.join('\n'), /disk on fire/, 'the failure is logged');
    await t.rejects(c.call(PROG, 1, 5), { name: 'RpcAcceptError', stat: AcceptStat.PROC_UNAVAIL }, 'a handler may answer PROC_UNAVAIL');
    const denied = await c.call(PROG, 1, 3).catch((e: unknown) => e);
    t.ok(denied instanceof RpcDeniedError, 'RpcDeniedError');
    t.match(denied, { rejectStat: RejectStat.AUTH_ERROR, authStat: AuthStat.AUTH_TOOWEAK });
    const cred: Credential = { flavor: 1, stamp: 77, machine: 'node12', uid: 1000, gid: 1000, gids: [4, 24, 27] };
    await c.call(PROG, 1, 4, [], { cred });
    t.same(seen?.cred, cred, 'AUTH_SYS credential handed to the handler');
    t.match(seen, { transport, remote: { address: HOST, port: c.localPort, family: 'IPv4' }, local: { address: HOST, port } });
    server.unregister(PROG, 5);
    await t.rejects(c.call(PROG, 2, 0), { name: 'RpcAcceptError', stat: AcceptStat.PROG_MISMATCH, low: 1, high: 3 }, 'unregister narrows the range');
    server.unregister(PROG);
    await t.rejects(c.call(PROG, 1, 0), { name: 'RpcAcceptError', stat: AcceptStat.PROG_UNAVAIL });
  });
}

t.test('faults answered before dispatch, on hand-made datagrams', async (t) => {
  const { server, logs, listen } = await serve(t);
  let runs = 0;
  server.register(PROG, 1, { 0: () => (runs++, { stat: 0, body: [] }) });
  const port = await listen();
  const u = await rawUdp(t, port);
  const reply = async (b: Buffer) => decodeRpcMessage(await u.exchange(b)).msg;

  t.match(await reply(rawCall(1, { rpcvers: 3 })), { xid: 1, replyStat: 1, rejected: { stat: RejectStat.RPC_MISMATCH, low: 2, high: 2 } }, 'rpcvers 3: RPC_MISMATCH(2, 2)');
  t.match(await reply(rawCall(2, { cred: { flavor: AuthFlavor.AUTH_DH, body: Buffer.alloc(8) } })), { xid: 2, rejected: { stat: RejectStat.AUTH_ERROR, why: AuthStat.AUTH_BADCRED } }, 'AUTH_DH: AUTH_BADCRED');
  t.match(await reply(rawCall(3, { cred: { flavor: AuthFlavor.RPCSEC_GSS, body: Buffer.alloc(0) } })), { rejected: { why: AuthStat.AUTH_BADCRED } }, 'RPCSEC_GSS: AUTH_BADCRED');
  t.match(await reply(rawCall(4, { cred: { flavor: AuthFlavor.AUTH_SYS, body: Buffer.from('0000000100000200', 'hex') } })), { rejected: { stat: RejectStat.AUTH_ERROR, why: AuthStat.AUTH_BADCRED } }, 'malformed AUTH_SYS: AUTH_BADCRED');
  const longCred = Buffer.concat([rawCall(5).subarray(0, 24), Buffer.from('00000001000001f4', 'hex'), Buffer.alloc(500)]);
  t.match(await reply(longCred), { xid: 5, rejected: { why: AuthStat.AUTH_BADCRED } }, 'a 500-byte credential: AUTH_BADCRED');
  const badVerf = Buffer.concat([rawCall(6).subarray(0, 32), Buffer.from('00000000000001f4', 'hex')]);
  t.match(await reply(badVerf), { xid: 6, rejected: { why: AuthStat.AUTH_BADVERF } }, 'a truncated verifier: AUTH_BADVERF');
  t.equal(runs, 0, 'no handler ran');

  const before = logs.length;
  for (let i = 0; i < 50; i++) u.send(Buffer.from([1, 2, 3]));
  u.send(encodeRpcMessage({ type: 1, xid: 9, replyStat: 0, verf: NONE, accepted: { stat: 0 } }));
  t.match(await reply(rawCall(7)), { xid: 7, accepted: { stat: 0 } }, 'still answering after garbage');
  t.equal(u.replies.length, 7, 'garbage and stray replies got no answer');
  t.ok(logs.length - before >= 1 && logs.length - before <= 6, `garbage logged, rate-limited (${logs.length - before} lines)`);
});

t.test('tcp: 100 calls in flight, answered in completion order and matched by xid', async (t) => {
  const { server, listen } = await serve(t, { maxInFlightPerConnection: 128 });
  const gates = Array.from({ length: 100 }, () => gate());
  let started = 0;
  const order: number[] = [];
  server.register(PROG, 1, {
    1: async (call) => {
      const n = call.args.u32('n');
      started++;
      await gates[n]!.opened;
      order.push(n);
      return { stat: 0, body: [u32(n * 3)] };
    },
  });
  const port = await listen();
  const c = await connect(t, port, 'tcp');
  const calls = Array.from({ length: 100 }, (_, n) => c.call(PROG, 1, 1, u32(n)).then((r) => r.u32('x')));
  await until(() => started === 100, 'all 100 calls running at once');
  // Finish in reverse order of arrival.
  for (let n = 99; n >= 0; n--) gates[n]!.open();
  const results = await Promise.all(calls);
  t.same(results, Array.from({ length: 100 }, (_, n) => n * 3), 'each reply matched its call');
  t.not(order[0], 0, 'replies did not come back in call order');
});

t.test('tcp: a call knows how many others of its connection run or wait (others); a UDP call does not', async (t) => {
  const { server, listen } = await serve(t);
  const seen: Array<number | undefined> = [];
  const gates = [gate(), gate()];
  server.register(PROG, 1, {
    1: async (call) => {
      const n = call.args.u32('n');
      seen[n] = call.others;
      await gates[n]!.opened;
      return { stat: 0, body: [] };
    },
    2: (call) => {
      seen[2] = call.others;
      return { stat: 0, body: [] };
    },
  });
  const port = await listen();
  const c = await connect(t, port, 'tcp');
  const first = c.call(PROG, 1, 1, u32(0));
  await until(() => seen.length === 1, 'the first call running');
  const second = c.call(PROG, 1, 1, u32(1));
  await until(() => seen.length === 2, 'the second call running');
  gates[0]!.open();
  gates[1]!.open();
  await Promise.all([first, second]);
  await c.call(PROG, 1, 2);
  t.same(seen, [0, 1, 0], 'alone, beside one running, alone again');
  const u = await connect(t, port, 'udp');
  seen[2] = -1;
  await u.call(PROG, 1, 2);
  t.equal(seen[2], undefined, 'UDP: undefined');
});

t.test('tcp: a large call is read into a pooled record buffer, given back once answered', async (t) => {
  const { server, listen } = await serve(t);
  const seen: Array<{ pooled: boolean; sum: number }> = [];
  server.register(PROG, 1, {
    1: (call) => {
      const data = call.args.opaque(1 << 20, 'data');
      let sum = 0;
      for (const b of data) sum += b;
      seen.push({ pooled: server.records.isLent(data), sum });
      return { stat: 0, body: [u32(data.length)] };
    },
  });
  const port = await listen();
  const c = await connect(t, port, 'tcp');
  const data = Buffer.alloc(1 << 20, 1);
  const head = u32(data.length);
  const lengths = await Promise.all([1, 2, 3].map(() => c.call(PROG, 1, 1, [head, data]).then((r) => r.u32('n'))));
  t.same(lengths, [1 << 20, 1 << 20, 1 << 20]);
  t.same(seen, [1, 2, 3].map(() => ({ pooled: true, sum: 1 << 20 })), 'each call saw its whole body in a pooled buffer');
  await until(() => server.records.lentCount === 0, 'every record buffer given back');
});

t.test('tcp: the rest of a large fragment is read once all of it has arrived (receiveLowWater), then any byte again', async (t) => {
  const marks: number[] = [];
  const sender: ReplySender = {
    fdOf: (socket) => (socket as unknown as { _handle?: { fd?: number } })._handle?.fd,
    send: (fd, buffers, count) => writeSync(fd, Buffer.concat(buffers.slice(0, count))),
    receiveLowWater: (fd, bytes) => {
      marks.push(bytes);
      native?.receiveLowWater(fd, bytes);
    },
  };
  const { server, listen } = await serve(t, { replySender: sender });
  server.register(PROG, 1, { 1: (call) => ({ stat: 0, body: [u32(call.args.remaining)] }) });
  const port = await listen();
  const record = rawCall(1, { proc: 1 }, Buffer.alloc(300_000, 7));
  const first = 50_000;
  const s = net.connect(port, HOST);
  t.teardown(() => s.destroy());
  await new Promise((r) => s.once('connect', r));
  const replies: Buffer[] = [];
  s.on('data', (chunk: Buffer) => replies.push(chunk));
  s.write(Buffer.concat([recordMark(record.length), record.subarray(0, first)]));
  const rest = record.length - first;
  await until(() => marks.includes(rest), 'the reader waits for the rest of the fragment');
  s.write(record.subarray(first));
  await until(() => Buffer.concat(replies).length >= 4 + 28, 'the call is answered');
  t.equal(Buffer.concat(replies).readUInt32BE(4 + 24), 300_000, 'with its whole body');
  t.equal(marks.at(-1), 1, 'then any byte wakes the reader again');
  t.ok(marks.slice(0, -1).every((m) => m > 64 * 1024), `only the rest of a large fragment is waited for (${marks.join(', ')})`);
  // Small calls on the same connection never set a mark.
  const small = rawCall(2, { proc: 1 }, Buffer.alloc(100, 1));
  const before = marks.length;
  s.write(Buffer.concat([recordMark(small.length), small]));
  await until(() => Buffer.concat(replies).length >= 2 * (4 + 28), 'the small call is answered');
  t.equal(marks.length, before, 'no mark for a small call');
});

t.test('tcp: record buffers of a connection closed mid-record go back to the pool', async (t) => {
  const { server, listen } = await serve(t);
  const g = gate();
  server.register(PROG, 1, {
    1: async () => {
      await g.opened;
      return { stat: 0, body: [] };
    },
  });
  const port = await listen();
  const first = rawCall(1, { proc: 1 }, Buffer.alloc(200_000, 5));
  const second = rawCall(2, { proc: 1 }, Buffer.alloc(200_000, 6));
  const s = net.connect(port, HOST);
  s.on('error', () => {});
  await new Promise((r) => s.once('connect', r));
  // A call running, and half of the next read into its own buffer, when the client goes away.
  s.write(Buffer.concat([recordMark(first.length), first, recordMark(second.length), second.subarray(0, 100_000)]));
  await until(() => server.records.lentCount === 2, 'the running call and the one half read hold pooled buffers');
  s.destroy();
  await serverPolled(t, port); // it has seen the client go
  g.open();
  await until(() => server.records.lentCount === 0, 'both given back');
});

t.test('udp: a retransmission runs the handler once (duplicate request cache)', async (t) => {
  const { server, listen } = await serve(t);
  let runs = 0;
  const g = gate();
  server.register(PROG, 1, {
    1: async (call) => {
      runs++;
      await g.opened;
      return sum(call);
    },
  });
  const port = await listen();
  const u = await rawUdp(t, port);
  const call = rawCall(0xabcd, { proc: 1 }, Buffer.concat([u32(5), u32(6)]));
  u.send(call);
  await until(() => runs === 1, 'the call to start');
  // A copy that arrives while the original runs is dropped. The server reads a socket's datagrams in
  // order, so once a NULL call sent after the copy is answered, the copy has been read.
  u.send(call);
  await u.exchange(rawCall(0xabce));
  g.open();
  await until(() => u.replies.length >= 2, 'the reply');
  const again = await u.exchange(call); // after it finished: the cached reply
  t.equal(runs, 1, 'the handler ran once');
  t.equal(again.toString('hex'), u.replies[1].toString('hex'), 'the retransmission got the same reply');
  t.equal(u.replies.length, 3, 'the in-progress duplicate was dropped');
  const other = await u.exchange(rawCall(0xabcd, { proc: 1 }, Buffer.concat([u32(1), u32(1)])));
  t.equal(runs, 2, 'same xid, different arguments: a new call');
  t.equal(other.readUInt32BE(24), 2);

  // Through the client: a reply lost once is retransmitted and answered from the cache.
  const c = await connect(t, port, 'udp', { retransmitMs: 50 });
  t.equal((await c.call(PROG, 1, 1, [u32(2), u32(3)])).u32('sum'), 5);
  t.equal(runs, 3);
});

// The batched socket reads the next datagrams into the memory of the last: a call still running must
// hold a copy of its own. Twenty calls arrive together (a batch or a few), each reads its arguments only
// after all have arrived.
for (const udpSockets of native ? (['native', 'dgram'] as const) : (['dgram'] as const)) {
  t.test(`udp (${udpSockets} socket): calls still running when the next datagrams arrive keep their own arguments`, async (t) => {
    const { server, listen } = await serve(t, { udpSockets });
    let started = 0;
    const g = gate();
    server.register(PROG, 1, {
      1: async (call) => {
        started++;
        await g.opened;
        return sum(call);
      },
    });
    const port = await listen();
    const u = await rawUdp(t, port);
    for (let i = 0; i < 20; i++) u.send(rawCall(0x1000 + i, { proc: 1 }, Buffer.concat([u32(i), u32(1000)])));
    await until(() => started === 20, 'every call to start');
    g.open();
    await until(() => u.replies.length === 20, 'every reply');
    const sums = new Map(u.replies.map((r) => [r.readUInt32BE(0), r.readUInt32BE(24)]));
    t.same(
      Array.from({ length: 20 }, (_, i) => sums.get(0x1000 + i)),
      Array.from({ length: 20 }, (_, i) => i + 1000),
      'each reply sums its own call',
    );
  });
}

t.test('udp: procedures registered as idempotent bypass the duplicate request cache', async (t) => {
  const { server, listen } = await serve(t);
  let runs = 0;
  server.register(PROG, 1, { 1: (call) => (runs++, sum(call)), 2: (call) => (runs++, sum(call)) }, { idempotent: [1] });
  const port = await listen();
  const u = await rawUdp(t, port);
  const idem = rawCall(0x1111, { proc: 1 }, Buffer.concat([u32(2), u32(2)]));
  await u.exchange(idem);
  await u.exchange(idem);
  t.equal(runs, 2, 'a retransmitted idempotent call runs again');
  const other = rawCall(0x2222, { proc: 2 }, Buffer.concat([u32(2), u32(2)]));
  await u.exchange(other);
  await u.exchange(other);
  t.equal(runs, 3, 'a retransmitted call of another procedure is answered from the cache');
});

t.test('tcp: reading stops at the in-flight bound and resumes below it', async (t) => {
  const { server, listen } = await serve(t, { maxInFlightPerConnection: 4 });
  let running = 0;
  let peak = 0;
  const gates: (() => void)[] = [];
  server.register(PROG, 1, {
    0: () =>
      new Promise((resolve) => {
        running++;
        peak = Math.max(peak, running);
        gates.push(() => {
          running--;
          resolve({ stat: 0, body: [] });
        });
      }),
  });
  const port = await listen();
  const c = await connect(t, port, 'tcp');
  let answered = 0;
  const calls = Array.from({ length: 10 }, () => c.call(PROG, 1, 0).then(() => answered++));
  await until(() => running === 4, 'four calls running');
  await serverPolled(t, port); // it would have read a fifth call by now had it not stopped reading
  t.equal(running, 4, 'no fifth call started while four run');
  gates.shift()!();
  await until(() => answered === 1 && running === 4, 'a fifth call to start once one finished');
  for (let n = 2; n <= 10; n++) {
    await until(() => gates.length > 0, `call ${n} to be running`);
    gates.shift()!();
    await until(() => answered === n, `reply ${n}`);
  }
  await Promise.all(calls);
  t.equal(peak, 4, 'never more than four at once');
});

/**
 * A ReplySender writing with writeSync to the socket's fd, each send taking at most the next of `limits`
 * bytes (-1: none, as a full socket); what it leaves goes through the stream.
 */
function scriptedSender(limits: number[]) {
  let i = 0;
  const sender: ReplySender = {
    fdOf: (socket) => (socket as unknown as { _handle?: { fd?: number } })._handle?.fd,
    send: (fd, buffers, count) => sendAll(fd, Buffer.concat(buffers.slice(0, count))),
    // The file's bytes as sendfile would take them: after the buffers, up to where the file ends.
    sendFile: (fd, buffers, count, fileFd, position, length) => {
      seen.files++;
      const file = Buffer.alloc(length);
      const got = readSync(fileFd, file, 0, length, position);
      return sendAll(fd, Buffer.concat([...buffers.slice(0, count), file.subarray(0, got)]));
    },
  };
  const seen = { sends: 0, partial: 0, refused: 0, files: 0 };
  const sendAll = (fd: number, all: Buffer): number => {
    seen.sends++;
    const limit = limits[i++ % limits.length]!;
    if (limit < 0) return (seen.refused++, -1);
    try {
      const n = writeSync(fd, all, 0, Math.min(limit, all.length));
      if (n < all.length) seen.partial++;
      return n;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      seen.refused++;
      return -1;
    }
  };
  return { sender, seen };
}

/** A file of `size` bytes (byte i is i * 13 mod 251) in a directory removed at the end; its open descriptor. */
function patternFile(t: T, size: number) {
  const dir = mkdtempSync(join(tmpdir(), 'rpc-file-'));
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 13) % 251;
  writeFileSync(join(dir, 'f'), bytes);
  const fd = openSync(join(dir, 'f'), 'r');
  t.teardown(() => {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  });
  return { fd, bytes };
}

/**
 * Procedure 1 of PROG answering call n with u32(n) and then FILE_SPANS[n % length] of `fd` as a ReplyFile
 * (not read by the handler); each reply's buffer is given back (counted) once sent.
 */
const FILE_SPANS = [[0, 4], [100, 70_000], [4, 300_000], [8, 33_000], [65_536, 0], [1, 12]] as const;
function fileProcedure(fd: number) {
  const given = { count: 0 };
  const proc = (call: RpcCall) => {
    const n = call.args.u32('n');
    const [position, length] = FILE_SPANS[n % FILE_SPANS.length]!;
    const buf = Buffer.alloc(4 + length, 0xee);
    buf.writeUInt32BE(n, 0);
    const reply = { stat: 0 as const, body: [buf], onSent: () => given.count++, file: { fd, position, into: buf.subarray(4) } };
    return n % 3 === 0 ? Promise.resolve(reply) : reply;
  };
  return { proc, given };
}

t.test('tcp: with a ReplySender, what a send leaves goes on through the stream, every reply whole and matched', async (t) => {
  const { sender, seen } = scriptedSender([Infinity, 3, -1, 70_000, 1, Infinity, 0, 5000]);
  const { server, listen } = await serve(t, { replySender: sender, maxInFlightPerConnection: 128 });
  const SIZES = [0, 4, 100, 70_000, 300_000, 8, 33_000];
  const body = (n: number) => Buffer.alloc(SIZES[n % SIZES.length]!, n & 0xff);
  server.register(PROG, 1, {
    1: (call) => {
      const n = call.args.u32('n');
      // Some answer at once, some a tick later: batches of both kinds.
      const reply = { stat: 0 as const, body: [u32(n), body(n)] };
      return n % 3 === 0 ? Promise.resolve(reply) : reply;
    },
  });
  const port = await listen();
  const c = await connect(t, port, 'tcp');
  for (let round = 0; round < 3; round++) {
    const got = await Promise.all(
      Array.from({ length: 100 }, (_, n) =>
        c.call(PROG, 1, 1, u32(n)).then((r) => {
          const echoed = r.u32('n');
          const data = r.fixedOpaque(r.remaining, 'data');
          return echoed === n && Buffer.from(data).equals(body(n));
        }),
      ),
    );
    t.equal(got.filter(Boolean).length, 100, `round ${round}: every reply whole and matched to its call`);
  }
  t.ok(seen.partial > 0 && seen.refused > 0, `sends taken in part (${seen.partial}) and refused (${seen.refused}) along the way`);
});

for (const how of ['a ReplySender', 'the stream', 'udp'] as const) t.test(`a reply's file bytes arrive in place, sent from the file or read in where a send stops (${how})`, async (t) => {
  const { fd, bytes } = patternFile(t, 400_000);
  const { sender, seen } = scriptedSender([Infinity, 3, -1, 70_000, 1, Infinity, 0, 5000, 40]);
  const { server, listen } = await serve(t, { replySender: how === 'a ReplySender' ? sender : undefined, maxInFlightPerConnection: 128 });
  const { proc, given } = fileProcedure(fd);
  server.register(PROG, 1, { 1: proc });
  const port = await listen();
  const c = await connect(t, port, how === 'udp' ? 'udp' : 'tcp');
  const calls = how === 'udp' ? [0, 3, 4, 5, 6, 9] : Array.from({ length: 100 }, (_, n) => n);
  for (let round = 0; round < 2; round++) {
    const got = await Promise.all(
      calls.map((n) =>
        c.call(PROG, 1, 1, u32(n)).then((r) => {
          const [position, length] = FILE_SPANS[n % FILE_SPANS.length]!;
          return r.u32('n') === n && Buffer.from(r.fixedOpaque(r.remaining, 'data')).equals(bytes.subarray(position, position + length));
        }),
      ),
    );
    t.equal(got.filter(Boolean).length, calls.length, `round ${round}: every reply whole, the file's bytes in place`);
  }
  await until(() => given.count === 2 * calls.length, 'every reply buffer given back once sent');
  if (how === 'a ReplySender') t.ok(seen.files > 0 && seen.partial > 0 && seen.refused > 0, `sent with files (${seen.files}), in part (${seen.partial}) and refused (${seen.refused})`);
});

for (const how of ['a ReplySender', 'the stream'] as const) t.test(`tcp: a file that ends before its reply's promised bytes closes the connection, never a short record (${how})`, async (t) => {
  const { fd } = patternFile(t, 1000);
  const { sender } = scriptedSender([Infinity]);
  const { server, logs, listen } = await serve(t, { replySender: how === 'a ReplySender' ? sender : undefined });
  let given = 0;
  server.register(PROG, 1, {
    1: (call) => {
      const buf = Buffer.alloc(8 + 4096);
      buf.writeUInt32BE(call.xid, 0);
      buf.writeUInt32BE(4096, 4);
      // 4096 bytes promised from byte 500 of a 1000-byte file: it ends first, as one truncated meanwhile would.
      return { stat: 0, body: [buf], onSent: () => given++, file: { fd, position: 500, into: buf.subarray(8) } };
    },
    2: () => ({ stat: 0, body: [u32(2)] }),
  });
  const port = await listen();
  const sock = net.connect(port, HOST);
  t.teardown(() => sock.destroy());
  const records = new RecordDecoder(1024 * 1024);
  const replies: Buffer[] = [];
  sock.on('data', (d: Buffer) => replies.push(...records.push(d)));
  const closed = new Promise((r) => sock.once('close', r));
  await new Promise((r) => sock.once('connect', r));
  const one = rawCall(41, { proc: 1 });
  sock.write(Buffer.concat([recordMark(one.length), one]));
  await closed;
  t.same(replies, [], 'no record: the connection closed with the reply unfinished');
  t.equal(given, 1, 'the reply buffer given back');
  t.match(logs.join('\n'), /ended first/, 'logged');
  const c = await connect(t, port, 'tcp');
  t.equal((await c.call(PROG, 1, 2, Buffer.alloc(0))).u32('n'), 2, 'the server answers a new connection');
});

for (const how of ['the stream', 'a ReplySender'] as const) t.test(`tcp: a client that stops reading its replies stops the server reading its calls, by bytes waiting (${how})`, async (t) => {
  const { server, listen } = await serve(t, how === 'the stream' ? {} : { replySender: scriptedSender([Infinity]).sender });
  const CALLS = 60;
  const reply = Buffer.alloc(1024 * 1024, 0x5a); // above Node's own high-water mark: one reply alone stops nothing
  let ran = 0;
  server.register(PROG, 1, { 1: () => (ran++, { stat: 0, body: [reply] }) });
  const port = await listen();
  const sock = net.connect(port, HOST);
  t.teardown(() => sock.destroy());
  await new Promise((r) => sock.once('connect', r));
  const records = new RecordDecoder(2 * 1024 * 1024);
  const replies: Buffer[] = [];
  sock.on('data', (d: Buffer) => replies.push(...records.push(d)));
  const one = rawCall(1, { proc: 1 });
  sock.write(Buffer.concat([recordMark(one.length), one]));
  await until(() => replies.length === 1, 'the reply of a first call, read as it comes');
  t.equal(replies[0].length - 24, reply.length, 'the whole 1 MiB reply');
  sock.pause();
  const calls = Array.from({ length: CALLS }, (_, i) => rawCall(100 + i, { proc: 1 }));
  sock.write(Buffer.concat(calls.flatMap((c) => [recordMark(c.length), c])));
  await until(() => ran > 4, 'calls to run while the kernel takes their replies');
  // 60 MiB of replies: more than the kernel's socket buffers hold (a few MiB) plus the server's bound.
  for (let i = 0, last = -1; i < 20 && ran !== last; i++) {
    last = ran;
    await serverPolled(t, port);
  }
  t.ok(ran < CALLS + 1, `the server stopped reading calls (${ran - 1} of ${CALLS} ran) while their replies wait`);
  sock.resume();
  await until(() => replies.length === CALLS + 1, 'every reply once the client reads again', 30_000);
  t.equal(ran, CALLS + 1, 'every call ran');
  t.same(replies.slice(1).map((r) => r.readUInt32BE(0)).sort((a, b) => a - b), calls.map((_, i) => 100 + i), 'one reply to each call');
});

t.test('tcp: an idle connection is closed; one with a call running is not', async (t) => {
  const { server, listen } = await serve(t, { idleTimeoutMs: 100 });
  const g = gate();
  let started = 0;
  server.register(PROG, 1, { 0: async () => (started++, await g.opened, { stat: 0, body: [] }) });
  const port = await listen();
  const busy = net.connect(port, HOST);
  const records = new RecordDecoder(4096);
  const replies: Buffer[] = [];
  busy.on('data', (d: Buffer) => replies.push(...records.push(d)));
  const busyClosed = new Promise((r) => busy.once('close', r));
  await new Promise((r) => busy.once('connect', r));
  const call = rawCall(7);
  busy.write(Buffer.concat([recordMark(call.length), call]));
  await until(() => started === 1, 'the call to start');
  // The silent connection opened after the call was sent, so the busy one has been quiet longer when it closes.
  const s = net.connect(port, HOST).resume();
  await new Promise((r) => s.once('connect', r));
  await new Promise((r) => s.once('close', r));
  t.pass('the silent connection was closed by the server');
  g.open();
  await until(() => replies.length === 1, 'the reply');
  t.equal(replies[0]!.readUInt32BE(0), 7, 'a call running longer than an idle period completed');
  await busyClosed;
  t.pass('and its connection, idle once answered, was closed too');
});

t.test('tcp: an oversize fragment header closes only that connection', async (t) => {
  const { server, logs, listen } = await serve(t, { maxRecordSize: 4096 });
  server.register(PROG, 1, { 1: sum });
  const port = await listen();
  const good = await connect(t, port, 'tcp');
  t.equal((await good.call(PROG, 1, 1, [u32(1), u32(2)])).u32('sum'), 3);
  const bad = net.connect(port, HOST).resume();
  await new Promise((r) => bad.once('connect', r));
  bad.write(Buffer.concat([recordMark(4097), Buffer.alloc(100)]));
  await new Promise((r) => bad.once('close', r));
  t.pass('the offending connection was closed');
  t.equal(logs.filter((l) => /exceed the maximum of 4096/.test(l)).length, 1, 'one log line');
  t.equal((await good.call(PROG, 1, 1, [u32(3), u32(4)])).u32('sum'), 7, 'the other connection still works');
  // A multi-fragment record within the limit is fine, split however it arrives.
  const raw = net.connect(port, HOST);
  await new Promise((r) => raw.once('connect', r));
  const call = rawCall(55, { proc: 1 }, Buffer.concat([u32(10), u32(20)]));
  const records = new RecordDecoder(4096);
  const got = new Promise<Buffer>((resolve) => raw.on('data', (d: Buffer) => records.push(d).forEach(resolve)));
  for (const piece of [recordMark(10, false), call.subarray(0, 10), recordMark(call.length - 10)]) raw.write(piece);
  for (const b of call.subarray(10)) raw.write(Buffer.from([b]));
  const reply = await got;
  t.equal(reply.readUInt32BE(24), 30, 'byte-by-byte multi-fragment call answered');
  raw.destroy();
});

t.test('client: UDP retransmits with backoff, then gives up with RpcTimeoutError', async (t) => {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, HOST, () => r()));
  t.teardown(() => s.close());
  const seen: Buffer[] = [];
  s.on('message', (m, rinfo) => {
    seen.push(m);
    // Answer only the third copy.
    if (seen.length === 3) {
      const { msg } = decodeRpcMessage(m);
      s.send(Buffer.concat([encodeRpcMessage({ type: 1, xid: msg.xid, replyStat: 0, verf: NONE, accepted: { stat: 0 } }), u32(9)]), rinfo.port, rinfo.address);
    }
  });
  const port = s.address().port;
  const c = await connect(t, port, 'udp', { retransmitMs: 20, retries: 5 });
  t.equal((await c.call(PROG, 1, 0)).u32('x'), 9);
  t.equal(seen.length, 3);
  t.equal(new Set(seen.map((m) => m.toString('hex'))).size, 1, 'retransmissions are byte-identical (same xid)');
  const lost = await connect(t, port, 'udp', { retransmitMs: 10, retries: 2, timeoutMs: 1500 });
  const before = seen.length;
  const e = await lost.call(PROG, 1, 0).catch((err: unknown) => err);
  t.ok(e instanceof RpcTimeoutError, 'RpcTimeoutError');
  t.equal(seen.length - before, 3, 'one send and two retransmissions');
});

t.test('client: malformed replies, closed connections, reserved ports', async (t) => {
  const srv = net.createServer((sock) => {
    const d = new RecordDecoder(1 << 16);
    sock.on('data', (chunk: Buffer) => {
      for (const rec of d.push(chunk)) {
        const xid = rec.readUInt32BE(0);
        const proc = rec.readUInt32BE(20);
        if (proc === 1) {
          const body = Buffer.concat([u32(xid), u32(1), u32(0), u32(0), u32(0), u32(77)]);
          sock.write(Buffer.concat([recordMark(body.length), body]));
        } else sock.destroy();
      }
    });
  });
  await new Promise<void>((r) => srv.listen(0, HOST, () => r()));
  t.teardown(() => srv.close());
  const port = (srv.address() as net.AddressInfo).port;
  const c = await connect(t, port, 'tcp', { reservedPort: true });
  if (process.getuid?.() === 0) t.ok(c.localPort >= 600 && c.localPort <= 1023, `reserved source port ${c.localPort}`);
  await t.rejects(c.call(PROG, 1, 1), { name: 'XdrError', code: 'BAD_VALUE', field: 'reply.accept_stat' }, 'accept_stat 77: XdrError');
  const pending = [c.call(PROG, 1, 2), c.call(PROG, 1, 0)];
  for (const p of pending) await t.rejects(p, RpcConnectionError, 'calls in flight fail when the connection closes');
  await t.rejects(c.call(PROG, 1, 1), RpcConnectionError, 'later calls fail at once');
  const u = await connect(t, port, 'udp', { reservedPort: true });
  if (process.getuid?.() === 0) t.ok(u.localPort >= 600 && u.localPort <= 1023, `reserved UDP source port ${u.localPort}`);
});

t.test('listen: port 0 gives one number for UDP and TCP; a taken port is an error', async (t) => {
  const { server, listen } = await serve(t);
  server.register(PROG, 1, { 0: () => ({ stat: 0, body: [] }) });
  const port = await listen();
  await (await connect(t, port, 'udp')).call(PROG, 1, 0);
  await (await connect(t, port, 'tcp')).call(PROG, 1, 0);
  t.pass(`UDP and TCP both answer on ${port}`);
  const other = new RpcServer({ log: () => {} });
  t.teardown(() => other.close());
  await t.rejects(other.listen({ host: HOST, port }), { code: 'EADDRINUSE' });
  t.ok(XdrWriter, 'exports the writer');
});

t.test('client: nothing listening is a RpcConnectionError that says so', async (t) => {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, HOST, () => r()));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((r) => probe.close(r));
  await t.rejects(RpcClient.connect({ host: HOST, port, transport: 'tcp' }), { name: 'RpcConnectionError', code: 'ECONNREFUSED', message: /connection refused/ });
  const u = await connect(t, port, 'udp', { retransmitMs: 20, timeoutMs: 2000 });
  const e = await u.call(PROG, 1, 0).catch((err: unknown) => err);
  t.ok(e instanceof RpcConnectionError || e instanceof RpcTimeoutError, `UDP: ${(e as Error).message}`);
});

t.test('dual-stack: IPv4 peers of a server on "::" are reported as IPv4 and answered over UDP and TCP, local address included', async (t) => {
  if (!requireNetns(t)) return;
  // The wildcard bind happens inside a namespace of the test's own, so nothing listens on the host's interfaces.
  const ns = createNetns(t, 'dual');
  const r = await run(process.execPath, [fileURLToPath(new URL('./fixtures/dual-stack-probe.mjs', import.meta.url))], { ns, timeoutMs: 30_000 });
  t.equal(r.code, 0, `probe ran ${r.stderr}`);
  const seen = JSON.parse(r.stdout) as { transport: string; remote: { address: string; family: string }; local: { address: string } }[];
  t.same(
    seen.map((s) => `${s.transport} ${s.remote.address} ${s.remote.family} to ${s.local.address}`),
    ['udp ::1 IPv6 to ::1', 'tcp ::1 IPv6 to ::1', 'udp 127.0.0.1 IPv4 to 127.0.0.1', 'tcp 127.0.0.1 IPv4 to 127.0.0.1'],
    'UDP calls land on the socket of the address they were sent to',
  );
});

t.test('tcp: at maxConnections the connection idle longest is closed for a newcomer (logged); busy ones never are', async (t) => {
  const { server, logs, listen } = await serve(t, { maxConnections: 2 });
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let slowStarted = 0;
  const slow = async () => {
    slowStarted++;
    await gate;
    return { stat: 0 as const, body: [] };
  };
  server.register(PROG, 1, { 1: sum, 2: slow });
  const port = await listen();
  const idle = await connect(t, port, 'tcp');
  t.equal((await idle.call(PROG, 1, 1, [u32(2), u32(2)])).u32('sum'), 4);
  const busy = await connect(t, port, 'tcp');
  const running = busy.call(PROG, 1, 2, []);
  await until(() => slowStarted === 1, 'the call on the busy connection to start');
  const newcomer = await connect(t, port, 'tcp');
  t.equal((await newcomer.call(PROG, 1, 1, [u32(3), u32(3)])).u32('sum'), 6, 'the newcomer is served');
  await t.rejects(idle.call(PROG, 1, 1, [u32(1), u32(1)]), 'the connection idle longest was closed for it');
  t.match(logs.join('\n'), /2 TCP connections \(maxConnections\) are open; closed the one idle longest/);
  const alsoRunning = newcomer.call(PROG, 1, 2, []);
  await until(() => slowStarted === 2, 'the call of the newcomer to start');
  const refused = net.connect(port, HOST);
  refused.on('error', () => {});
  await new Promise((r) => refused.once('close', r));
  t.pass('with every connection busy, a further one is refused');
  t.match(logs.join('\n'), /refused a TCP connection .* all 2 connections \(maxConnections\) are busy/);
  release();
  await running;
  await alsoRunning;
  t.pass('the busy connections finished their calls');
});

t.test('random bytes over UDP and TCP never stop the server', async (t) => {
  const { server, listen } = await serve(t, { maxRecordSize: 2048 });
  server.register(PROG, 1, { 0: () => ({ stat: 0, body: [] }), 1: sum });
  const port = await listen();
  const u = await rawUdp(t, port);
  const valid = rawCall(1, { proc: 1 }, Buffer.concat([u32(1), u32(2)]));
  const samples = fc.sample(
    fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
      fc.tuple(fc.nat(valid.length), fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 })).map(([cut, edits]) => {
        const b = Buffer.from(valid.subarray(0, cut));
        for (const [at, v] of edits) if (at < b.length) b[at] = v;
        return b;
      }),
    ),
    { seed: 42, numRuns: 300 },
  );
  for (const s of samples) u.send(s);
  for (let i = 0; i < 10; i++) {
    const sock = net.connect(port, HOST);
    sock.on('error', () => {});
    sock.resume(); // discard the replies, so the end of the stream is seen
    await new Promise((r) => sock.once('connect', r));
    const bytes = Buffer.concat(samples.slice(i * 30, i * 30 + 30).map((s) => Buffer.concat([recordMark(s.length, i % 2 === 0), s])));
    sock.end(bytes);
    await new Promise((r) => sock.once('close', r));
  }
  const c = await connect(t, port, 'tcp');
  t.equal((await c.call(PROG, 1, 1, [u32(20), u32(22)])).u32('sum'), 42, 'still answering over TCP');
  const cu = await connect(t, port, 'udp');
  t.equal((await cu.call(PROG, 1, 1, [u32(1), u32(1)])).u32('sum'), 2, 'still answering over UDP');
});

t.test('tcp: a client that shuts down its sending side still gets its replies', async (t) => {
  const { server, listen } = await serve(t);
  const g = gate();
  let started = 0;
  server.register(PROG, 1, { 1: async (call) => (started++, await g.opened, sum(call)) });
  const port = await listen();
  const sock = net.connect(port, HOST);
  const records = new RecordDecoder(4096);
  const replies: Buffer[] = [];
  sock.on('data', (d: Buffer) => replies.push(...records.push(d)));
  await new Promise((r) => sock.once('connect', r));
  const calls = [1, 2, 3].map((xid) => rawCall(xid, { proc: 1 }, Buffer.concat([u32(xid), u32(10)])));
  const closed = new Promise((r) => sock.once('close', r));
  sock.end(Buffer.concat(calls.flatMap((c) => [recordMark(c.length), c])));
  await new Promise((r) => sock.once('finish', r));
  await until(() => started === 3, 'the three calls to start');
  await serverPolled(t, port); // it has seen the end of the stream: the replies go out after the shutdown
  g.open();
  await closed;
  t.same(replies.map((r) => [r.readUInt32BE(0), r.readUInt32BE(24)]).sort(), [[1, 11], [2, 12], [3, 13]], 'all three replies, then the server closed');
});

t.test('client: UDP arguments too big for a datagram fail that call only', async (t) => {
  const { server, listen } = await serve(t);
  server.register(PROG, 1, { 0: () => ({ stat: 0, body: [] }) });
  const port = await listen();
  const c = await connect(t, port, 'udp');
  const other = c.call(PROG, 1, 0);
  await t.rejects(c.call(PROG, 1, 0, Buffer.alloc(70_000)), { name: 'RpcConnectionError', code: 'EMSGSIZE' });
  await other;
  t.pass('the other call was answered');
});
