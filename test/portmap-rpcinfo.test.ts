import t from 'tap';
import { createLink, createNetns } from './support/netns.js';
import { netbootCli, repoRoot } from './support/paths.js';
import { run, start, type RunResult } from './support/processes.js';
import { requirePrograms, requireNetns } from './support/programs.js';
import { startRpcbind } from './support/rpcbind.js';

/**
 * Debian's rpcinfo (libtirpc) against `netboot portmap`, and our
 * PortmapClient against Debian's rpcbind, each inside namespaces this test
 * creates so port 111 never meets a system rpcbind.
 */

// Runs PortmapClient calls inside a namespace (registrations must come from that namespace's loopback).
const CLIENT = `
import { PortmapClient } from '@netboot/portmap';
const [host, transport, action] = process.argv.slice(1);
const c = await PortmapClient.connect({ host, transport, timeoutMs: 5000 });
const out = {};
try {
  if (action === 'register') {
    await c.registerService(100005, [1, 3], 20048);
    await c.registerService(100003, [3], 2049, ['tcp']);
    out.set4 = await c.set({ prog: 100021, vers: 4, netid: 'tcp', addr: '0.0.0.0.3.4', owner: 'nlockmgr' });
  } else if (action === 'try-register') {
    out.registered = await c.register(100099, 1, 'tcp', 999);
  } else if (action === 'lookup') {
    out.getport = await c.getport(100005, 3, 'udp');
    out.getportAny = await c.getport(100005, 0, 'tcp');
    out.getportNone = await c.getport(100099, 1, 'tcp');
    out.getaddr = await c.getaddr(100005, 3);
    out.getaddrTcpOnly = await c.getaddr(100003, 3);
    out.getaddrNone = await c.getaddr(100099, 1);
    out.dump2 = (await c.dumpMappings()).map((m) => [m.prog, m.vers, m.prot, m.port].join('/'));
    out.dump4 = (await c.dump()).map((r) => [r.prog, r.vers, r.netid, r.addr, r.owner].join(' '));
  } else if (action === 'extras') {
    const stat = await c.getstat();
    out.statInfo = stat.map((s) => s.info.length);
    out.statSet = stat[0].setinfo + stat[1].setinfo + stat[2].setinfo;
    out.addrlist = (await c.getaddrlist(100000, 4)).map((e) => [e.netid, e.protofmly, e.proto, e.semantics, e.maddr].join(' '));
    out.clockSkew = Math.abs((await c.gettime()) - Math.floor(Date.now() / 1000));
    out.taddr = (await c.uaddr2taddr('198.18.0.1.8.1')).toString('hex');
    out.uaddr = await c.taddr2uaddr(Buffer.from('02000801631200010000000000000000', 'hex'));
    out.versaddr = await c.getversaddr(100000, 3);
  } else if (action === 'unregister') {
    await c.unregisterService(100005, [1, 3]);
    await c.unregisterService(100003, [3]);
    out.unset4 = await c.unset({ prog: 100021, vers: 4 });
    out.getport = await c.getport(100005, 3, 'udp');
  }
} finally {
  c.close();
}
console.log(JSON.stringify(out));
`;

async function client(ns: string, host: string, transport: 'tcp' | 'udp', action: string): Promise<Record<string, unknown>> {
  const r = await run(process.execPath, ['--input-type=module', '-e', CLIENT, host, transport, action], {
    ns,
    cwd: repoRoot,
    timeoutMs: 20_000,
  });
  if (r.code !== 0) throw new Error(`client ${action} failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

function rpcinfo(ns: string, ...args: string[]): Promise<RunResult> {
  return run('rpcinfo', args, { ns, timeoutMs: 20_000 });
}

const programs = requirePrograms(t, { rpcinfo: 'rpcbind', rpcbind: 'rpcbind' });
if (programs && requireNetns(t)) {
  t.test('Debian rpcinfo against netboot portmap', async (t) => {
    const link = createLink(t, { subnet: 11, label: 'pm' });
    const host = link.serverAddr;
    const server = start(t, process.execPath, [netbootCli, 'portmap', '--listen', host, '--port', '111'], { ns: link.server });
    await server.waitFor(/listening on 198\.18\.11\.1 port 111/);

    await client(link.server, '127.0.0.1', 'tcp', 'register');
    await server.waitFor(/registered program 100021 version 4 tcp/);
    t.same(await client(link.client, host, 'udp', 'try-register'), { registered: false }, 'SET from off loopback is refused');
    await server.waitFor(/refused SET of program 100099 from 198\.18\.11\.2:\d+: only loopback/);

    const p = await rpcinfo(link.client, '-p', host);
    t.equal(p.code, 0, `rpcinfo -p: ${p.stderr}`);
    for (const row of [/100000\s+2\s+tcp\s+111\s+portmapper/, /100000\s+4\s+udp\s+111/, /100005\s+1\s+udp\s+20048/, /100005\s+3\s+tcp\s+20048/, /100003\s+3\s+tcp\s+2049/, /100021\s+4\s+tcp\s+772/]) {
      t.match(p.stdout, row, `rpcinfo -p lists ${row}`);
    }
    t.notMatch(p.stdout, /100099/, 'the refused registration is absent');

    const s = await rpcinfo(link.client, '-s', host);
    t.equal(s.code, 0, `rpcinfo -s: ${s.stderr}`);
    t.match(s.stdout, /100000\s+[234],[234],[234]\s+\S*tcp\S*\s+portmapper\s+superuser/);
    t.match(s.stdout, /100005\s+[13],[13]\s+\S*udp\S*\s+mountd/);
    t.match(s.stdout, /100021\s+4\s+tcp\s+nlockmgr\s+superuser/, 'like rpcbind: root (a reserved source port) is superuser, r_owner is not believed');

    for (const [transport, vers] of [['udp', '2'], ['tcp', '3'], ['tcp', '4'], ['udp', '4']]) {
      const r = await rpcinfo(link.client, '-T', transport, host, '100000', vers);
      t.equal(r.code, 0, `rpcinfo -T ${transport} ${host} 100000 ${vers}: ${r.stderr}`);
      t.match(r.stdout, new RegExp(`program 100000 version ${vers} ready and waiting`));
    }
    for (const flag of ['-u', '-t']) {
      const r = await rpcinfo(link.client, flag, host, '100000');
      t.equal(r.code, 0, `rpcinfo ${flag} ${host} 100000: ${r.stderr}`);
      for (const v of [2, 3, 4]) t.match(r.stdout, new RegExp(`program 100000 version ${v} ready and waiting`));
    }

    const l = await rpcinfo(link.client, '-l', host, '100005', '3');
    t.equal(l.code, 0, `rpcinfo -l: ${l.stderr}`);
    t.match(l.stdout, /100005\s+3\s+inet\/tcp\/cots_ord\s+198\.18\.11\.1\.78\.80/, 'a wildcard registration is given the address the caller reached');
    t.match(l.stdout, /100005\s+3\s+inet\/udp\/clts\s+198\.18\.11\.1\.78\.80/);

    const m = await rpcinfo(link.client, '-m', host);
    t.equal(m.code, 0, `rpcinfo -m: ${m.stderr}`);
    t.match(m.stdout, /PORTMAP \(version 2\) statistics/);
    t.match(m.stdout, /RPCBIND \(version 4\) statistics/);
    t.match(m.stdout, /RPCB_GETADDR \(version 4\) call statistics/);

    const none = await rpcinfo(link.client, '-T', 'tcp', host, '100099', '1');
    t.not(none.code, 0);
    t.match(none.stdout + none.stderr, /Program not registered/, 'an unregistered program gets an empty uaddr');

    const local = await rpcinfo(link.server, '-p', '127.0.0.1');
    t.equal(local.code, 0, `rpcinfo -p 127.0.0.1 in the server namespace: ${local.stderr}`);
    t.match(local.stdout, /100005\s+3\s+udp\s+20048\s+mountd/);

    for (const transport of ['udp', 'tcp'] as const) {
      const o = await client(link.client, host, transport, 'lookup');
      t.same([o.getport, o.getportAny, o.getportNone, o.getaddr, o.getaddrNone], [20048, 20048, 0, '198.18.11.1.78.80', '']);
      t.equal(o.getaddrTcpOnly, transport === 'tcp' ? '198.18.11.1.8.1' : '', 'GETADDR answers for the transport asked over');
    }
    const gone = await client(link.server, '127.0.0.1', 'udp', 'unregister');
    t.same(gone, { unset4: true, getport: 0 });
    await server.waitFor(/unregistered program 100003 version 3 tcp/);
    const after = await rpcinfo(link.client, '-p', host);
    t.notMatch(after.stdout, /100005|100003|100021/, 'unregistered services are gone');
    t.equal(await server.stop(), 0, 'SIGTERM stops it cleanly');
  });

  t.test('bound to the wildcard (the default), callers get the address they reached', async (t) => {
    const link = createLink(t, { subnet: 12, label: 'pw' });
    const host = link.serverAddr;
    const server = start(t, process.execPath, [netbootCli, 'portmap'], { ns: link.server });
    await server.waitFor(/listening on 0\.0\.0\.0 port 111/);
    await client(link.server, '127.0.0.1', 'udp', 'register');
    for (const transport of ['udp', 'tcp']) {
      const r = await rpcinfo(link.client, '-T', transport, host, '100000', '2');
      t.equal(r.code, 0, `rpcinfo -T ${transport} ${host} 100000 2: ${r.stderr}`);
    }
    const l = await rpcinfo(link.client, '-l', host, '100005', '3');
    t.match(l.stdout, /inet\/udp\/clts\s+198\.18\.12\.1\.78\.80/, 'UDP on the wildcard: the address of the interface on the caller\'s subnet');
    t.match(l.stdout, /inet\/tcp\/cots_ord\s+198\.18\.12\.1\.78\.80/);
    const local = await rpcinfo(link.server, '-l', '127.0.0.1', '100005', '3');
    t.match(local.stdout, /inet\/udp\/clts\s+127\.0\.0\.1\.78\.80/, 'and loopback for a loopback caller');
  });

  t.test('our PortmapClient against Debian rpcbind', async (t) => {
    const ns = createNetns(t, 'pmrb');
    await startRpcbind(t, ns, programs);
    t.pass('rpcbind answers');

    for (const transport of ['tcp', 'udp'] as const) {
      t.same(await client(ns, '127.0.0.1', transport, 'register'), { set4: true }, `register over ${transport}`);
      const p = await rpcinfo(ns, '-p', '127.0.0.1');
      t.match(p.stdout, /100005\s+3\s+udp\s+20048\s+mountd/, 'rpcbind lists what we registered');
      t.match(p.stdout, /100003\s+3\s+tcp\s+2049\s+nfs/);
      const found = await client(ns, '127.0.0.1', transport, 'lookup');
      t.equal(found.getport, 20048);
      t.equal(found.getportAny, 20048, 'rpcbind also falls back for version 0');
      t.equal(found.getportNone, 0);
      t.equal(found.getaddr, '127.0.0.1.78.80');
      t.equal(found.getaddrTcpOnly, transport === 'tcp' ? '127.0.0.1.8.1' : '', 'GETADDR answers for the transport asked over');
      t.equal(found.getaddrNone, '');
      t.ok((found.dump2 as string[]).includes('100005/1/17/20048'), 'version 2 DUMP decodes');
      t.ok((found.dump4 as string[]).some((r) => r.startsWith('100000 4 local /run/rpcbind.sock superuser')), 'rpcbind DUMP (with its local netid) decodes');
      t.ok((found.dump4 as string[]).includes('100021 4 tcp 0.0.0.0.3.4 superuser'), 'rpcbind also records root as superuser, whatever r_owner says');
      const extras = await client(ns, '127.0.0.1', transport, 'extras');
      t.same(extras.statInfo, [13, 13, 13], 'rpcbind GETSTAT decodes');
      t.ok((extras.statSet as number) >= 1, 'and counted our SETs');
      t.ok((extras.addrlist as string[]).includes(`${transport} inet ${transport} ${transport === 'tcp' ? 3 : 1} 127.0.0.1.0.111`), 'rpcbind GETADDRLIST decodes');
      t.ok((extras.clockSkew as number) < 60, 'GETTIME');
      t.equal(extras.taddr, '02000801c61200010000000000000000', 'rpcbind UADDR2TADDR gives the sockaddr_in our codec builds');
      t.equal(extras.uaddr, '99.18.0.1.8.1', 'rpcbind TADDR2UADDR reads the sockaddr_in our codec builds');
      t.equal(extras.versaddr, `127.0.0.1.0.111`);
      t.same(await client(ns, '127.0.0.1', transport, 'unregister'), { unset4: true, getport: 0 }, `unregister over ${transport}`);
      const after = await rpcinfo(ns, '-p', '127.0.0.1');
      t.notMatch(after.stdout, /100005|100003|100021/);
    }
  });
}
