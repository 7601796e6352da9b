import t from 'tap';
import fc from 'fast-check';
import type { XdrCodec as Codec } from '@netboot/oncrpc-xdr';
import { ascii, hex, samePlain, xdrGoldens, xdrProperties } from '../../../test/support/xdr-properties.js';
import {
  mon,
  monId,
  myId,
  Nlm4Stat,
  nlm4CancArgs,
  nlm4LockArgs,
  nlm4Notify,
  nlm4Res,
  nlm4ShareArgs,
  nlm4ShareRes,
  nlm4TestArgs,
  nlm4TestRes,
  nlm4UnlockArgs,
  nlmProcedures,
  nsmProcedures,
  ShareAccess,
  ShareMode,
  smName,
  smStat,
  smStatRes,
  smStatus,
  statChge,
  type Nlm4Lock,
  type Nlm4TestReply,
} from '@netboot/nlm';



const alock: Nlm4Lock = {
  callerName: 'node21',
  fh: Buffer.alloc(8, 0xaa),
  oh: Buffer.from('owner'),
  svid: 4242,
  offset: 0x100000000n,
  length: 0n,
};
// caller_name "node21" + 2 pad, fh<8>, oh "owner" + 3 pad, svid 4242, l_offset 2^32, l_len 0 (to end of file)
const alockWire = `00000006 ${ascii('node21')}0000 00000008 aaaaaaaaaaaaaaaa 00000005 ${ascii('owner')}000000 00001092 0000000100000000 0000000000000000`;

const goldens: [string, Codec<any>, unknown, string][] = [
  [
    'nlm4_lockargs',
    nlm4LockArgs,
    { cookie: hex('01020304'), block: true, exclusive: true, alock, reclaim: false, state: 3 },
    `00000004 01020304 00000001 00000001 ${alockWire} 00000000 00000003`,
  ],
  ['nlm4_testargs', nlm4TestArgs, { cookie: hex(''), exclusive: false, alock }, `00000000 00000000 ${alockWire}`],
  ['nlm4_cancargs', nlm4CancArgs, { cookie: hex('ff'), block: true, exclusive: false, alock }, `00000001 ff000000 00000001 00000000 ${alockWire}`],
  ['nlm4_unlockargs', nlm4UnlockArgs, { cookie: hex('0102'), alock }, `00000002 01020000 ${alockWire}`],
  [
    'nlm4_testres DENIED with its holder',
    nlm4TestRes,
    { cookie: hex('01020304'), stat: { stat: Nlm4Stat.DENIED, holder: { exclusive: true, svid: -1, oh: hex('0a0b0c'), offset: 10n, length: 20n } } },
    '00000004 01020304 00000001 00000001 ffffffff 00000003 0a0b0c00 000000000000000a 0000000000000014',
  ],
  ['nlm4_testres GRANTED', nlm4TestRes, { cookie: hex(''), stat: { stat: Nlm4Stat.GRANTED } }, '00000000 00000000'],
  ['nlm4_testres DENIED_GRACE_PERIOD', nlm4TestRes, { cookie: hex(''), stat: { stat: Nlm4Stat.DENIED_GRACE_PERIOD } }, '00000000 00000004'],
  ['nlm4_res BLOCKED', nlm4Res, { cookie: Buffer.from('ab'), stat: Nlm4Stat.BLOCKED }, '00000002 61620000 00000003'],
  ['nlm4_res DEADLCK', nlm4Res, { cookie: hex(''), stat: Nlm4Stat.DEADLCK }, '00000000 00000005'],
  [
    'nlm4_shareargs',
    nlm4ShareArgs,
    { cookie: hex(''), share: { callerName: 'pc', fh: hex('deadbeef'), oh: hex(''), mode: ShareMode.DW, access: ShareAccess.RW }, reclaim: false },
    `00000000 00000002 ${ascii('pc')}0000 00000004 deadbeef 00000000 00000002 00000003 00000000`,
  ],
  ['nlm4_shareres', nlm4ShareRes, { cookie: hex(''), stat: Nlm4Stat.DENIED, sequence: 0 }, '00000000 00000001 00000000'],
  ['nlm4_notify', nlm4Notify, { name: 'node21', state: 5 }, `00000006 ${ascii('node21')}0000 00000005`],
  ['sm_name', smName, { monName: 'node21' }, `00000006 ${ascii('node21')}0000`],
  [
    'mon',
    mon,
    { monId: { monName: 'node21', myId: { myName: '127.0.0.1', myProg: 100021, myVers: 4, myProc: 16 } }, priv: hex('000102030405060708090a0b0c0d0e0f') },
    `00000006 ${ascii('node21')}0000 00000009 ${ascii('127.0.0.1')}000000 000186b5 00000004 00000010 000102030405060708090a0b0c0d0e0f`,
  ],
  [
    'mon_id',
    monId,
    { monName: 'a', myId: { myName: 'b', myProg: 100021, myVers: 4, myProc: 16 } },
    `00000001 61000000 00000001 62000000 000186b5 00000004 00000010`,
  ],
  ['my_id', myId, { myName: '', myProg: 100021, myVers: 4, myProc: 16 }, '00000000 000186b5 00000004 00000010'],
  ['sm_stat_res', smStatRes, { res: 0, state: 7 }, '00000000 00000007'],
  ['sm_stat_res fail', smStatRes, { res: 1, state: 7 }, '00000001 00000007'],
  ['sm_stat', smStat, { state: 9 }, '00000009'],
  ['stat_chge', statChge, { monName: 'server', state: 9 }, `00000006 ${ascii('server')}0000 00000009`],
  ['status', smStatus, { monName: 'server', state: 9, priv: Buffer.alloc(16, 7) }, `00000006 ${ascii('server')}0000 00000009 ${'07'.repeat(16)}`],
];

xdrGoldens(t, goldens);

t.test('errors name the field and offset', async (t) => {
  t.throws(() => nlm4Res.decode(hex('00000000 0000000a')), { code: 'BAD_VALUE', field: 'nlm4_res.stat', offset: 4 }, 'nlm4_stats beyond NLM4_FAILED');
  t.throws(() => nlm4LockArgs.decode(hex('00000000 00000002')), { code: 'BAD_VALUE', field: 'nlm4_lockargs.block', offset: 4 }, 'a bool other than 0 or 1');
  t.throws(() => nlm4Res.decode(hex('00000401')), { code: 'TOO_LONG', field: 'nlm4_res.cookie', offset: 0 }, 'a netobj over 1024 bytes, refused before reading it');
  t.throws(() => nlm4ShareArgs.decode(hex(`00000000 00000000 00000000 00000000 00000004 00000000 00000000`)), { code: 'BAD_VALUE', field: 'nlm4_share.mode' });
  t.throws(() => smStatRes.decode(hex('00000002 00000000')), { code: 'BAD_VALUE', field: 'sm_stat_res.res_stat' });
  t.throws(() => nlm4Res.encode({ cookie: Buffer.alloc(1025), stat: 0 }), { code: 'UNREPRESENTABLE' });
});

t.test('every procedure has codecs for its arguments and results', async (t) => {
  t.equal(Object.keys(nlmProcedures).length, 20, 'NLM v4: 0-15 and 20-23');
  t.same(
    Object.values(nlmProcedures).map((p) => p.proc),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 20, 21, 22, 23],
  );
  t.same(
    Object.values(nsmProcedures).map((p) => p.proc),
    [0, 1, 2, 3, 4, 5, 6],
  );
});

const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((b) => Buffer.from(b));
const text = (max: number) => fc.string({ maxLength: max });
const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const stat = fc.constantFrom(...Object.values(Nlm4Stat));
const lockArb = fc.record({ callerName: text(40), fh: bytes(64), oh: bytes(40), svid: int32, offset: u64, length: u64 });
const holderArb = fc.record({ exclusive: fc.boolean(), svid: int32, oh: bytes(40), offset: u64, length: u64 });
const testReplyArb = fc.oneof(
  fc.record({ stat: fc.constant(Nlm4Stat.DENIED), holder: holderArb }),
  fc.record({ stat: stat.filter((s) => s !== Nlm4Stat.DENIED) }),
) as fc.Arbitrary<Nlm4TestReply>;
const myIdArb = fc.record({ myName: text(30), myProg: int32, myVers: int32, myProc: int32 });

const arbitraries: [string, Codec<any>, fc.Arbitrary<unknown>][] = [
  ['nlm4_testargs', nlm4TestArgs, fc.record({ cookie: bytes(16), exclusive: fc.boolean(), alock: lockArb })],
  ['nlm4_lockargs', nlm4LockArgs, fc.record({ cookie: bytes(16), block: fc.boolean(), exclusive: fc.boolean(), alock: lockArb, reclaim: fc.boolean(), state: int32 })],
  ['nlm4_cancargs', nlm4CancArgs, fc.record({ cookie: bytes(16), block: fc.boolean(), exclusive: fc.boolean(), alock: lockArb })],
  ['nlm4_unlockargs', nlm4UnlockArgs, fc.record({ cookie: bytes(16), alock: lockArb })],
  ['nlm4_testres', nlm4TestRes, fc.record({ cookie: bytes(16), stat: testReplyArb })],
  ['nlm4_res', nlm4Res, fc.record({ cookie: bytes(16), stat })],
  [
    'nlm4_shareargs',
    nlm4ShareArgs,
    fc.record({
      cookie: bytes(16),
      share: fc.record({ callerName: text(40), fh: bytes(64), oh: bytes(40), mode: fc.constantFrom(0, 1, 2, 3), access: fc.constantFrom(0, 1, 2, 3) }),
      reclaim: fc.boolean(),
    }),
  ],
  ['nlm4_shareres', nlm4ShareRes, fc.record({ cookie: bytes(16), stat, sequence: int32 })],
  ['nlm4_notify', nlm4Notify, fc.record({ name: text(60), state: int32 })],
  ['sm_name', smName, fc.record({ monName: text(60) })],
  ['my_id', myId, myIdArb],
  ['mon_id', monId, fc.record({ monName: text(60), myId: myIdArb })],
  ['mon', mon, fc.record({ monId: fc.record({ monName: text(60), myId: myIdArb }), priv: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b)) })],
  ['sm_stat_res', smStatRes, fc.record({ res: fc.constantFrom(0, 1), state: int32 })],
  ['sm_stat', smStat, fc.record({ state: int32 })],
  ['stat_chge', statChge, fc.record({ monName: text(60), state: int32 })],
  ['status', smStatus, fc.record({ monName: text(60), state: int32, priv: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b)) })],
];

for (const [name, codec, arb] of arbitraries) xdrProperties(t, name, codec, arb, { equal: samePlain });
