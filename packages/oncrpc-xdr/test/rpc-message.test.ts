import t from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import {
  AcceptStat,
  AuthFlavor,
  AuthStat,
  MsgType,
  RejectStat,
  XdrError,
  credentialFromOpaqueAuth,
  credentialToOpaqueAuth,
  decodeAuthSys,
  decodeRpcMessage,
  encodeAuthSys,
  encodeRpcMessage,
  encodeRpcMessageInto,
  rpcMessageEncodingLength,
  type AuthSysCredential,
  type RpcMessage,
} from '@netboot/oncrpc-xdr';

const fixture = (name: string) => Buffer.from(readFileSync(new URL(`./fixtures/${name}.hex`, import.meta.url), 'utf8').trim(), 'hex');

/** Every proper prefix of `bytes` fails with an XdrError. */
function prefixesFail(bytes: Buffer): number {
  let bad = 0;
  for (let n = 0; n < bytes.length; n++) {
    try {
      decodeRpcMessage(bytes.subarray(0, n));
      bad++;
    } catch (e) {
      if (!(e instanceof XdrError)) bad++;
    }
  }
  return bad;
}

t.test('golden: rpcinfo -u (libtirpc) NULL call, captured', (t) => {
  const bytes = fixture('rpcinfo-null-v2-udp');
  const { msg, bodyOffset } = decodeRpcMessage(bytes);
  t.match(msg, { type: MsgType.CALL, xid: 0x6b07a414, rpcvers: 2, prog: 100000, vers: 2, proc: 0 });
  if (msg.type !== MsgType.CALL) throw new Error('not a call');
  t.equal(msg.cred.flavor, AuthFlavor.AUTH_NONE);
  t.equal(msg.cred.body.length, 0);
  t.equal(msg.verf.flavor, AuthFlavor.AUTH_NONE);
  t.equal(bodyOffset, bytes.length, 'NULL has no arguments');
  t.equal(encodeRpcMessage(msg).toString('hex'), bytes.toString('hex'), 'byte-exact re-encoding');
  t.equal(prefixesFail(bytes), 0, 'every proper prefix is an XdrError');
  t.end();
});

t.test('golden: rpcinfo GETADDR call, captured; body starts after the verifier', (t) => {
  const bytes = fixture('rpcinfo-getaddr-v4-udp');
  const { msg, bodyOffset } = decodeRpcMessage(bytes);
  t.match(msg, { type: MsgType.CALL, prog: 100000, vers: 4, proc: 3 });
  t.equal(bodyOffset, 40);
  t.equal(bytes.readUInt32BE(bodyOffset), 100000, 'rpcb.r_prog');
  t.end();
});

// Replies as RFC 5531 section 9 lays them out, written out by hand.
const replies: [string, string, RpcMessage][] = [
  ['SUCCESS', '00000007' + '00000001' + '00000000' + '00000000' + '00000000' + '00000000', { type: 1, xid: 7, replyStat: 0, verf: { flavor: 0, body: Buffer.alloc(0) }, accepted: { stat: 0 } }],
  ['PROG_UNAVAIL', '00000007000000010000000000000000' + '00000000' + '00000001', { type: 1, xid: 7, replyStat: 0, verf: { flavor: 0, body: Buffer.alloc(0) }, accepted: { stat: 1 } }],
  ['PROG_MISMATCH 2..4', '00000007000000010000000000000000' + '00000000' + '00000002' + '00000002' + '00000004', { type: 1, xid: 7, replyStat: 0, verf: { flavor: 0, body: Buffer.alloc(0) }, accepted: { stat: 2, low: 2, high: 4 } }],
  ['PROC_UNAVAIL', '00000007000000010000000000000000' + '00000000' + '00000003', { type: 1, xid: 7, replyStat: 0, verf: { flavor: 0, body: Buffer.alloc(0) }, accepted: { stat: 3 } }],
  ['GARBAGE_ARGS', '00000007000000010000000000000000' + '00000000' + '00000004', { type: 1, xid: 7, replyStat: 0, verf: { flavor: 0, body: Buffer.alloc(0) }, accepted: { stat: 4 } }],
  ['SYSTEM_ERR', '00000007000000010000000000000000' + '00000000' + '00000005', { type: 1, xid: 7, replyStat: 0, verf: { flavor: 0, body: Buffer.alloc(0) }, accepted: { stat: 5 } }],
  ['RPC_MISMATCH 2..2', '00000007' + '00000001' + '00000001' + '00000000' + '00000002' + '00000002', { type: 1, xid: 7, replyStat: 1, rejected: { stat: 0, low: 2, high: 2 } }],
  ['AUTH_ERROR AUTH_TOOWEAK', '00000007' + '00000001' + '00000001' + '00000001' + '00000005', { type: 1, xid: 7, replyStat: 1, rejected: { stat: 1, why: 5 } }],
];

for (const [name, hex, msg] of replies) {
  t.test(`golden reply: ${name}`, (t) => {
    const bytes = Buffer.from(hex, 'hex');
    t.equal(rpcMessageEncodingLength(msg), bytes.length);
    const out = Buffer.alloc(bytes.length + 9, 0xee);
    t.equal(encodeRpcMessageInto(msg, out, 5), bytes.length);
    t.equal(out.subarray(5, 5 + bytes.length).toString('hex'), hex);
    const { msg: back, bodyOffset } = decodeRpcMessage(out, 5, 5 + bytes.length);
    t.same(back, msg);
    t.equal(bodyOffset, 5 + bytes.length);
    t.equal(prefixesFail(bytes), 0, 'every proper prefix is an XdrError');
    t.end();
  });
}

t.test('AUTH_SYS: golden body, limits', (t) => {
  // stamp 0x12345678, machine "node7", uid 1000, gid 100, gids [100, 27]
  const hex = '12345678' + '00000005' + '6e6f646537000000' + '000003e8' + '00000064' + '00000002' + '00000064' + '0000001b';
  const cred: AuthSysCredential = { flavor: 1, stamp: 0x12345678, machine: 'node7', uid: 1000, gid: 100, gids: [100, 27] };
  t.equal(encodeAuthSys(cred).toString('hex'), hex);
  t.same(decodeAuthSys(Buffer.from(hex, 'hex')), cred);
  t.same(credentialFromOpaqueAuth(credentialToOpaqueAuth(cred)), cred);
  t.throws(() => encodeAuthSys({ ...cred, gids: Array.from({ length: 17 }, (_, i) => i) }), { code: 'UNREPRESENTABLE', field: 'authsys.gids' });
  t.throws(() => encodeAuthSys({ ...cred, machine: 'x'.repeat(256) }), XdrError);
  t.throws(() => decodeAuthSys(Buffer.from(hex + '00000000', 'hex')), { code: 'BAD_VALUE' }, 'trailing bytes');
  const seventeen = Buffer.from('00000000' + '00000000' + '00000000' + '00000000' + '00000011' + '00000000'.repeat(17), 'hex');
  t.throws(() => decodeAuthSys(seventeen), { code: 'TOO_LONG', field: 'authsys.gids', offset: 16 });
  t.equal(credentialFromOpaqueAuth({ flavor: AuthFlavor.AUTH_DH, body: Buffer.alloc(0) }), null, 'unsupported flavor');
  t.end();
});

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const opaqueAuth = fc.record({ flavor: u32, body: fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a)) });
const verfNone = fc.constant({ flavor: 0, body: Buffer.alloc(0) });
const call = fc.record({
  type: fc.constant(0 as const),
  xid: u32,
  rpcvers: u32,
  prog: u32,
  vers: u32,
  proc: u32,
  cred: opaqueAuth,
  verf: opaqueAuth,
});
const accepted = fc.oneof(
  fc.constantFrom(0 as const, 1 as const, 3 as const, 4 as const, 5 as const).map((stat) => ({ stat })),
  fc.record({ stat: fc.constant(2 as const), low: u32, high: u32 }),
);
const rejected = fc.oneof(
  fc.record({ stat: fc.constant(0 as const), low: u32, high: u32 }),
  fc.record({ stat: fc.constant(1 as const), why: u32 }),
);
const message: fc.Arbitrary<RpcMessage> = fc.oneof(
  call,
  fc.record({ type: fc.constant(1 as const), xid: u32, replyStat: fc.constant(0 as const), verf: fc.oneof(verfNone, opaqueAuth), accepted }),
  fc.record({ type: fc.constant(1 as const), xid: u32, replyStat: fc.constant(1 as const), rejected }),
) as fc.Arbitrary<RpcMessage>;

t.test('RPC message round trip at a non-zero offset, encodingLength == bytes written, prefixes fail', (t) => {
  fc.assert(
    fc.property(message, fc.integer({ min: 1, max: 17 }), fc.uint8Array({ maxLength: 12 }), (msg, offset, body) => {
      const len = rpcMessageEncodingLength(msg);
      const buf = Buffer.alloc(offset + len + body.length);
      const n = encodeRpcMessageInto(msg, buf, offset);
      if (n !== len) throw new Error(`wrote ${n}, encodingLength ${len}`);
      buf.set(body, offset + len);
      const { msg: back, bodyOffset } = decodeRpcMessage(buf, offset);
      if (bodyOffset !== offset + len) throw new Error('body offset');
      t.same(back, msg);
      if (prefixesFail(buf.subarray(offset, offset + len)) !== 0) throw new Error('a prefix decoded');
    }),
    { seed: 42, numRuns: 200 },
  );
  t.end();
});

t.test('AUTH_SYS round trip', (t) => {
  const cred = fc.record({
    flavor: fc.constant(1 as const),
    stamp: u32,
    machine: fc.string({ unit: 'binary', maxLength: 60 }).filter((s) => Buffer.byteLength(s) <= 255),
    uid: u32,
    gid: u32,
    gids: fc.array(u32, { maxLength: 16 }),
  });
  fc.assert(
    fc.property(cred, (c) => {
      t.same(decodeAuthSys(encodeAuthSys(c)), c);
    }),
    { seed: 42, numRuns: 200 },
  );
  t.end();
});

t.test('a CALL with the same AUTH_SYS body as the last one shares its decoded credential; another body does not', (t) => {
  const a = { flavor: 1 as const, stamp: 7, machine: 'node-1', uid: 1000, gid: 100, gids: [100, 27] };
  const received = Buffer.from(encodeAuthSys(a));
  const first = credentialFromOpaqueAuth({ flavor: 1, body: received });
  t.same(first, a);
  t.ok(Object.isFrozen(first) && Object.isFrozen((first as typeof a).gids), 'frozen: every call with that body holds it');
  // As a receive buffer reused by the next call: the remembered body is a copy.
  received.fill(0);
  t.equal(credentialFromOpaqueAuth({ flavor: 1, body: encodeAuthSys(a) }), first, 'the same bytes: the same credential');
  const other = credentialFromOpaqueAuth({ flavor: 1, body: encodeAuthSys({ ...a, uid: 0 }) });
  t.equal((other as typeof a).uid, 0, 'another body is decoded');
  t.throws(() => credentialFromOpaqueAuth({ flavor: 1, body: encodeAuthSys(a).subarray(0, 10) }), 'a malformed body still fails');
  t.end();
});

t.test('random bytes, and mutations of valid messages, give a value or an XdrError', (t) => {
  const check = (bytes: Uint8Array) => {
    const buf = Buffer.from(bytes);
    try {
      const { msg } = decodeRpcMessage(buf);
      if (msg.type === MsgType.CALL && msg.cred.flavor === AuthFlavor.AUTH_SYS) credentialFromOpaqueAuth(msg.cred);
    } catch (e) {
      if (!(e instanceof XdrError)) throw e;
    }
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 128 }), check), { seed: 42, numRuns: 1000 });
  fc.assert(
    fc.property(message, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), (msg, edits) => {
      const buf = encodeRpcMessage(msg);
      for (const [at, b] of edits) if (buf.length) buf[at % buf.length] = b;
      check(buf);
    }),
    { seed: 42, numRuns: 500 },
  );
  t.pass('no other exception');
  t.end();
});

t.test('encoder refuses what the wire cannot carry', (t) => {
  t.throws(() => encodeRpcMessage({ type: 0, xid: -1, rpcvers: 2, prog: 1, vers: 1, proc: 0, cred: { flavor: 0, body: Buffer.alloc(0) }, verf: { flavor: 0, body: Buffer.alloc(0) } }), { code: 'UNREPRESENTABLE', field: 'xid' });
  t.throws(() => encodeRpcMessage({ type: 0, xid: 1, rpcvers: 2, prog: 1, vers: 1, proc: 0, cred: { flavor: 1, body: Buffer.alloc(401) }, verf: { flavor: 0, body: Buffer.alloc(0) } }), { code: 'UNREPRESENTABLE', field: 'call.cred.body' });
  t.throws(() => decodeRpcMessage(Buffer.from('00000001' + '00000000' + '00000002' + '00000001'.repeat(3) + '00000001' + '00000191', 'hex')), { code: 'TOO_LONG', field: 'call.cred.body', offset: 28 });
  t.throws(() => encodeRpcMessage({ type: 1, xid: 1, replyStat: 0, verf: { flavor: 0, body: Buffer.alloc(0) }, accepted: { stat: 9 } as never }), { code: 'UNREPRESENTABLE' });
  t.equal(AcceptStat.SYSTEM_ERR, 5);
  t.equal(RejectStat.AUTH_ERROR, 1);
  t.equal(AuthStat.AUTH_TOOWEAK, 5);
  t.end();
});
