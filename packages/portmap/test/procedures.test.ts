import t from 'tap';
import fc from 'fast-check';
import { XdrError, XdrReader, bool, u32, type RpcCall, type RpcResult, type XdrCodec } from '@netboot/oncrpc-xdr';
import {
  PmapProc,
  Registry,
  RpcbProc,
  RpcbStats,
  callArgs,
  mapping,
  netbuf,
  pmaplist,
  portmapProcedures,
  rpcb,
  rpcbEntryList,
  rpcblist,
  rpcbStatByVers,
  uaddrString,
} from '@netboot/portmap';

function setup() {
  const lines: string[] = [];
  const registry = new Registry();
  const procs = portmapProcedures({
    registry,
    stats: new RpcbStats(),
    now: () => 1_700_000_000_123,
    log: (l) => lines.push(l),
    logLimited: (_key, l) => lines.push(l),
    localAddress: (call) => (call.remote.address === '127.0.0.1' ? '127.0.0.1' : '198.18.11.1'),
  });
  return { lines, registry, procs };
}

function call(vers: number, proc: number, args: Buffer, remote = '127.0.0.1', transport: 'udp' | 'tcp' = 'udp', port = 1000): RpcCall {
  return {
    xid: 1,
    prog: 100000,
    vers,
    proc,
    cred: { flavor: 0 },
    args: new XdrReader(args),
    transport,
    remote: { address: remote, port, family: remote.includes(':') ? 'IPv6' : 'IPv4' },
    local: { address: '0.0.0.0', port: 111 },
  };
}

async function result<T>(r: RpcResult | Promise<RpcResult>, type: XdrCodec<T>): Promise<T> {
  const res = await r;
  if (res.stat !== 0) throw new Error(`stat ${String(res.stat)}`);
  return type.decode(Buffer.concat(res.body)).value;
}

const m = (prog: number, vers: number, prot: number, port: number) => mapping.encode({ prog, vers, prot, port });
const b = (prog: number, vers: number, netid: string, addr = '', owner = '') => rpcb.encode({ prog, vers, netid, addr, owner });

t.test('version 2: SET, GETPORT (version 0 falls back), DUMP, UNSET', async (t) => {
  const { procs, lines } = setup();
  const v2 = procs[2];
  t.equal(await result(v2[PmapProc.SET](call(2, 1, m(100005, 3, 17, 20048))), bool), true);
  t.equal(await result(v2[PmapProc.SET](call(2, 1, m(100005, 3, 17, 20049))), bool), false, 'taken');
  t.equal(await result(v2[PmapProc.SET](call(2, 1, m(100005, 3, 99, 20048))), bool), false, 'unknown protocol');
  t.equal(await result(v2[PmapProc.GETPORT](call(2, 3, m(100005, 3, 17, 0))), u32), 20048);
  t.equal(await result(v2[PmapProc.GETPORT](call(2, 3, m(100005, 0, 17, 0))), u32), 20048);
  t.equal(await result(v2[PmapProc.GETPORT](call(2, 3, m(100005, 3, 6, 0))), u32), 0, 'not on TCP');
  t.same(await result(v2[PmapProc.DUMP](call(2, 4, Buffer.alloc(0))), pmaplist), [{ prog: 100005, vers: 3, prot: 17, port: 20048 }]);
  t.equal(await result(v2[PmapProc.UNSET](call(2, 2, m(100005, 3, 0, 0))), bool), true);
  t.equal(await result(v2[PmapProc.UNSET](call(2, 2, m(100005, 3, 0, 0))), bool), false);
  t.match(lines.join('\n'), /registered program 100005 version 3 udp 0\.0\.0\.0\.78\.80[^]*unregistered program 100005/);
});

t.test('SET and UNSET from a caller off loopback are answered false and logged', async (t) => {
  const { procs, lines, registry } = setup();
  t.equal(await result(procs[2][PmapProc.SET](call(2, 1, m(100003, 3, 6, 2049), '198.18.11.2')), bool), false);
  t.equal(await result(procs[4][RpcbProc.SET](call(4, 1, b(100003, 3, 'tcp', '198.18.11.2.8.1'), '198.18.11.2')), bool), false);
  t.equal(registry.list().length, 0);
  registry.set({ prog: 100003, vers: 3, netid: 'tcp', addr: '0.0.0.0.8.1', owner: 'x' });
  t.equal(await result(procs[3][RpcbProc.UNSET](call(3, 2, b(100003, 3, ''), '::ffff:198.18.11.2')), bool), false);
  t.equal(await result(procs[2][PmapProc.UNSET](call(2, 2, m(100003, 3, 6, 0), 'fe80::2')), bool), false);
  t.equal(registry.list().length, 1);
  t.equal(lines.filter((l) => /refused (SET|UNSET) .*only loopback/.test(l)).length, 4);
  t.equal(await result(procs[4][RpcbProc.UNSET](call(4, 2, b(100003, 3, ''), '::1')), bool), true, 'loopback IPv6 may');
});

t.test('rpcbind: SET, GETADDR per transport, GETVERSADDR exact, DUMP, GETADDRLIST', async (t) => {
  const { procs } = setup();
  const v4 = procs[4];
  t.equal(await result(v4[RpcbProc.SET](call(4, 1, b(100005, 3, 'tcp', '0.0.0.0.78.80', 'mountd'))), bool), true);
  t.equal(await result(v4[RpcbProc.SET](call(4, 1, b(100005, 3, 'udp', '0.0.0.0.78.80'))), bool), true);
  t.equal(await result(v4[RpcbProc.SET](call(4, 1, b(100005, 3, 'tcp6', 'bogus'))), bool), false, 'not a uaddr');
  // The netid asked for is ignored: the answer is for the transport the question came over (RFC 1833).
  t.equal(await result(v4[RpcbProc.GETADDR](call(4, 3, b(100005, 3, 'udp'), '198.18.11.2', 'tcp')), uaddrString), '198.18.11.1.78.80');
  t.equal(await result(v4[RpcbProc.GETADDR](call(4, 3, b(100005, 1, 'tcp'), '127.0.0.1', 'tcp')), uaddrString), '127.0.0.1.78.80');
  t.equal(await result(v4[RpcbProc.GETVERSADDR](call(4, 9, b(100005, 1, 'tcp'), '127.0.0.1', 'tcp')), uaddrString), '');
  t.equal(await result(v4[RpcbProc.GETADDR](call(4, 3, b(100099, 1, 'tcp'))), uaddrString), '', 'unregistered: empty uaddr');
  const dump = await result(procs[3][RpcbProc.DUMP](call(3, 4, Buffer.alloc(0))), rpcblist);
  t.same(dump.map((r) => `${r.netid} ${r.owner}`), ['tcp superuser', 'udp superuser'], 'a reserved source port is root; r_owner is not believed');
  const list = await result(v4[RpcbProc.GETADDRLIST](call(4, 11, b(100005, 3, ''), '198.18.11.2')), rpcbEntryList);
  t.same(list, [
    { maddr: '198.18.11.1.78.80', netid: 'tcp', semantics: 3, protofmly: 'inet', proto: 'tcp' },
    { maddr: '198.18.11.1.78.80', netid: 'udp', semantics: 1, protofmly: 'inet', proto: 'udp' },
  ]);
});

t.test('owners: an unprivileged local caller registers as unknown and can only remove its own', async (t) => {
  const { procs, lines, registry } = setup();
  const user = (v: number, proc: number, args: Buffer) => call(v, proc, args, '127.0.0.1', 'tcp', 40000);
  t.equal(await result(procs[2][PmapProc.SET](call(2, 1, m(100003, 3, 6, 2049))), bool), true);
  t.equal(await result(procs[4][RpcbProc.SET](user(4, 1, b(100005, 3, 'tcp', '0.0.0.0.78.80', 'superuser'))), bool), true);
  t.same(registry.list().map((r) => r.owner), ['superuser', 'unknown']);
  t.equal(await result(procs[2][PmapProc.UNSET](user(2, 2, m(100003, 3, 6, 0))), bool), false, "not root's entry");
  t.equal(await result(procs[3][RpcbProc.UNSET](user(3, 2, b(100000, 2, ''))), bool), false);
  t.match(lines.join('\n'), /refused UNSET of program 100003 version 3 tcp .* \(unknown\): only its owner or root may/);
  t.equal(await result(procs[4][RpcbProc.UNSET](user(4, 2, b(100005, 3, ''))), bool), true, 'its own');
  t.equal(await result(procs[2][PmapProc.UNSET](call(2, 2, m(100003, 3, 6, 0))), bool), true, 'root removes anything');
  t.equal(registry.list().length, 0);
});

t.test('GETTIME, UADDR2TADDR, TADDR2UADDR, GETSTAT', async (t) => {
  const { procs } = setup();
  t.equal(await result(procs[3][RpcbProc.GETTIME](call(3, 6, Buffer.alloc(0))), u32), 1_700_000_000);
  const taddr = await result(procs[4][RpcbProc.UADDR2TADDR](call(4, 7, uaddrString.encode('127.0.0.1.0.111'))), netbuf);
  t.equal(taddr.buf.toString('hex'), '0200006f7f0000010000000000000000');
  t.equal(await result(procs[4][RpcbProc.TADDR2UADDR](call(4, 8, netbuf.encode(taddr))), uaddrString), '127.0.0.1.0.111');
  t.same(await result(procs[4][RpcbProc.UADDR2TADDR](call(4, 7, uaddrString.encode('nonsense'))), netbuf), { maxlen: 0, buf: Buffer.alloc(0) });
  await procs[2][PmapProc.GETPORT](call(2, 3, m(100003, 3, 6, 0)));
  const stats = await result(procs[4][RpcbProc.GETSTAT](call(4, 12, Buffer.alloc(0))), rpcbStatByVers);
  t.equal(stats[0].info[PmapProc.GETPORT], 1);
  t.same(stats[0].addrinfo, [{ prog: 100003, vers: 3, success: 0, failure: 1, netid: 'tcp' }]);
  t.equal(stats[2].info[RpcbProc.GETSTAT], 1);
});

t.test('CALLIT is never forwarded: PROC_UNAVAIL, counted as a failed remote call', async (t) => {
  const { procs } = setup();
  const args = callArgs.encode({ prog: 100003, vers: 3, proc: 0, args: Buffer.alloc(0) });
  t.same(await procs[2][PmapProc.CALLIT](call(2, 5, args)), { stat: 3 });
  t.same(await procs[4][RpcbProc.INDIRECT](call(4, 10, args)), { stat: 3 });
  const stats = await result(procs[4][RpcbProc.GETSTAT](call(4, 12, Buffer.alloc(0))), rpcbStatByVers);
  t.equal(stats[0].rmtinfo[0].failure, 1);
  t.equal(stats[2].rmtinfo[0].failure, 1);
});

t.test('malformed arguments throw XdrError (the RPC server answers GARBAGE_ARGS)', async (t) => {
  const { procs } = setup();
  t.throws(() => procs[2][PmapProc.SET](call(2, 1, Buffer.alloc(7))), XdrError);
  t.throws(() => procs[4][RpcbProc.GETADDR](call(4, 3, Buffer.from('0000000100000001ffffffff', 'hex'))), XdrError);
  t.throws(() => procs[2][PmapProc.CALLIT](call(2, 5, Buffer.alloc(12))), XdrError);
});

t.test('property: random arguments to any procedure give a result or an XdrError, from anywhere', async (t) => {
  const { procs } = setup();
  const tables = [procs[2], procs[3], procs[4]];
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 2 }),
      fc.integer({ min: 0, max: 12 }),
      fc.uint8Array({ maxLength: 120 }),
      fc.constantFrom('127.0.0.1', '198.18.11.2', '::1', 'fe80::2'),
      fc.constantFrom('udp' as const, 'tcp' as const),
      async (v, proc, args, remote, transport) => {
        const handler = tables[v][proc];
        if (!handler) return true;
        try {
          const r = await handler(call(v + 2, proc, Buffer.from(args), remote, transport));
          return r.stat === 0 || r.stat === 3;
        } catch (e) {
          if (e instanceof XdrError) return true;
          throw e;
        }
      },
    ),
    { seed: 42, numRuns: 500 },
  );
  t.pass();
});
