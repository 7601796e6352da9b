import t from 'tap';
import fc from 'fast-check';
import {
  callArgs,
  callResult,
  mapping,
  MAX_LIST,
  netbuf,
  pmaplist,
  rmtCallRes,
  rpcb,
  rpcbEntry,
  rpcbEntryList,
  rpcblist,
  rpcbStatByVers,
  uaddrString,
  RPCBSTAT_HIGHPROC,
} from '@netboot/portmap';
import { xdrProperties } from '../../../test/support/xdr-properties.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const i32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const text = (maxLength: number) => fc.string({ maxLength });
const bytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));

// Plain objects, so decoded values (plain objects) compare equal.
function rec<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;
}

const mappingArb = rec({ prog: u32, vers: u32, prot: u32, port: u32 });
const callArb = rec({ prog: u32, vers: u32, proc: u32, args: bytes(64) });
const rpcbArb = rec({ prog: u32, vers: u32, netid: text(16), addr: text(40), owner: text(32) });
const entryArb = rec({ maddr: text(40), netid: text(16), semantics: u32, protofmly: text(8), proto: text(8) });
const statArb = rec({
  info: fc.array(i32, { minLength: RPCBSTAT_HIGHPROC, maxLength: RPCBSTAT_HIGHPROC }),
  setinfo: i32,
  unsetinfo: i32,
  addrinfo: fc.array(rec({ prog: u32, vers: u32, success: i32, failure: i32, netid: text(8) }), { maxLength: 4 }),
  rmtinfo: fc.array(
    rec({ prog: u32, vers: u32, proc: u32, success: i32, failure: i32, indirect: i32, netid: text(8) }),
    { maxLength: 4 },
  ),
});

xdrProperties(t, 'mapping', mapping, mappingArb);
xdrProperties(t, 'pmaplist', pmaplist, fc.array(mappingArb, { maxLength: 6 }));
xdrProperties(t, 'call_args', callArgs, callArb);
xdrProperties(t, 'call_result', callResult, rec({ port: u32, res: bytes(64) }));
xdrProperties(t, 'rpcb', rpcb, rpcbArb);
xdrProperties(t, 'rpcblist', rpcblist, fc.array(rpcbArb, { maxLength: 5 }));
xdrProperties(t, 'rpcb_entry', rpcbEntry, entryArb);
xdrProperties(t, 'rpcb_entry_list', rpcbEntryList, fc.array(entryArb, { maxLength: 5 }));
xdrProperties(t, 'rpcb_rmtcallres', rmtCallRes, rec({ addr: text(40), results: bytes(64) }));
xdrProperties(t, 'netbuf', netbuf, rec({ maxlen: u32, buf: bytes(28) }));
xdrProperties(t, 'rpcb_stat_byvers', rpcbStatByVers, fc.tuple(statArb, statArb, statArb));
xdrProperties(t, 'uaddr', uaddrString, text(60));

// Captured from Debian's rpcinfo (libtirpc 1.3.3): `rpcinfo -T udp 127.0.0.1 100005 3` sends this
// rpcbind version 4 GETADDR; the rpcb arguments start after the 40-byte call header.
const RPCINFO_GETADDR =
  '6b074fe10000000000000002000186a0000000040000000300000000000000000000000000000000' +
  '000186a50000000300000003756470000000000f3132372e302e302e312e302e31313100000000086c69627469727063';

t.test('golden: the rpcb in rpcinfo GETADDR decodes and re-encodes byte-exact', async (t) => {
  const msg = Buffer.from(RPCINFO_GETADDR, 'hex');
  const { value, bytes: n } = rpcb.decode(msg, 40);
  t.same(value, { prog: 100005, vers: 3, netid: 'udp', addr: '127.0.0.1.0.111', owner: 'libtirpc' });
  t.equal(n, msg.length - 40);
  t.equal(rpcb.encode(value).toString('hex'), msg.subarray(40).toString('hex'));
});

// Debian rpcbind 1.2.6's answer to a version 2 DUMP (after the 24-byte reply header),
// with program 300000 version 1 registered on UDP port 4444.
const RPCBIND_PMAP_DUMP =
  '00000001000186a000000004000000060000006f00000001000186a000000003000000060000006f' +
  '00000001000186a000000002000000060000006f00000001000186a000000004000000110000006f' +
  '00000001000186a000000003000000110000006f00000001000186a000000002000000110000006f' +
  '00000001000493e000000001000000110000115c00000000';

t.test('golden: rpcbind pmaplist decodes and re-encodes byte-exact', async (t) => {
  const buf = Buffer.from(RPCBIND_PMAP_DUMP, 'hex');
  const { value, bytes: n } = pmaplist.decode(buf);
  t.equal(n, buf.length);
  t.equal(value.length, 7);
  t.same(value[0], { prog: 100000, vers: 4, prot: 6, port: 111 });
  t.same(value[6], { prog: 300000, vers: 1, prot: 17, port: 4444 });
  t.equal(pmaplist.encode(value).toString('hex'), RPCBIND_PMAP_DUMP);
});

t.test('limits: hostile lengths and counts are refused before allocation', async (t) => {
  const longNetid = Buffer.alloc(24);
  longNetid.writeUInt32BE(1, 0);
  longNetid.writeUInt32BE(1, 4);
  longNetid.writeUInt32BE(0x7fffffff, 8); // r_netid claims 2 GiB
  t.throws(() => rpcb.decode(longNetid), { code: 'TOO_LONG', field: 'rpcb.r_netid', offset: 8 });
  const manyEntries = Buffer.alloc((MAX_LIST + 1) * 20 + 4);
  for (let i = 0; i <= MAX_LIST; i++) manyEntries.writeUInt32BE(1, i * 20);
  t.throws(() => pmaplist.decode(manyEntries), { code: 'TOO_LONG', field: 'pmaplist' });
  t.throws(() => rpcb.encode({ prog: 1, vers: 1, netid: 'x'.repeat(65), addr: '', owner: '' }), {
    code: 'UNREPRESENTABLE',
    field: 'rpcb.r_netid',
  });
  t.throws(() => mapping.encode({ prog: -1, vers: 0, prot: 6, port: 0 }), { code: 'UNREPRESENTABLE', field: 'mapping.prog' });
});
