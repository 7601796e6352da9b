import t, { type Test } from 'tap';
import { AcceptStat, RpcAcceptError, RpcClient } from '@netboot/oncrpc-xdr';
import { PMAP_PROG, PortmapClient, PortmapError, PortmapServer, callArgs } from '@netboot/portmap';

async function startServer(t: Test) {
  const lines: string[] = [];
  const server = new PortmapServer({ log: (l) => lines.push(l) });
  const port = await server.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => server.close());
  return { server, port, lines };
}

for (const transport of ['tcp', 'udp'] as const) {
  t.test(`our client against our server over ${transport}`, async (t) => {
    const { port, lines } = await startServer(t);
    const c = await PortmapClient.connect({ port, transport, timeoutMs: 5000 });
    t.teardown(() => c.close());
    await c.ping();
    await c.ping(4);
    t.equal(await c.getport(PMAP_PROG, 2, transport), port, 'the portmapper registered itself');
    await c.registerService(100005, [1, 3], 20048);
    await c.registerService(100005, [1, 3], 20048); // a restart replaces its old registrations
    t.equal(await c.getport(100005, 3, 'udp'), 20048);
    t.equal(await c.getport(100005, 0, 'tcp'), 20048, 'version 0 falls back');
    t.equal(await c.getport(100099, 1, 'tcp'), 0);
    t.ok((await c.dumpMappings()).some((m) => m.prog === 100005 && m.vers === 1 && m.prot === 17));
    t.equal(await c.getaddr(100005, 3), '127.0.0.1.78.80');
    t.equal(await c.getaddr(100099, 3), '');
    t.ok(await c.set({ prog: 100021, vers: 4, netid: 'tcp6', addr: '::1.3.4', owner: 'nlockmgr' }));
    t.ok((await c.dump(3)).some((r) => r.prog === 100021 && r.netid === 'tcp6'));
    t.ok(await c.unset({ prog: 100021, vers: 4 }));
    t.ok(Math.abs((await c.gettime()) - Date.now() / 1000) < 3600, 'GETTIME is the epoch in seconds');
    t.equal(await c.taddr2uaddr(await c.uaddr2taddr('198.18.0.1.8.1')), '198.18.0.1.8.1');
    t.equal((await c.getaddrlist(100005, 3)).length, 2);
    t.ok((await c.getstat())[0].setinfo >= 4);
    await c.unregisterService(100005, [1, 3]);
    t.equal(await c.getport(100005, 3, 'udp'), 0);
    t.match(lines.join('\n'), /registered program 100005 version 1 tcp/);
    t.match(lines.join('\n'), /unregistered program 100005 version 3 udp/);
  });
}

t.test('version 0 gets PROG_MISMATCH 2..4; CALLIT gets PROC_UNAVAIL; bad arguments GARBAGE_ARGS', async (t) => {
  const { port } = await startServer(t);
  const rpc = await RpcClient.connect({ host: '127.0.0.1', port, transport: 'tcp', timeoutMs: 5000 });
  t.teardown(() => rpc.close());
  const refusal = (p: Promise<unknown>) =>
    p.then(
      () => 'answered',
      (e: unknown) => (e instanceof RpcAcceptError ? [e.stat, e.low, e.high].filter((x) => x !== undefined) : String(e)),
    );
  t.same(await refusal(rpc.call(PMAP_PROG, 0, 0)), [AcceptStat.PROG_MISMATCH, 2, 4]);
  t.same(await refusal(rpc.call(PMAP_PROG, 5, 0)), [AcceptStat.PROG_MISMATCH, 2, 4]);
  const fwd = callArgs.encode({ prog: 100003, vers: 3, proc: 0, args: Buffer.alloc(0) });
  t.same(await refusal(rpc.call(PMAP_PROG, 2, 5)), [AcceptStat.GARBAGE_ARGS]);
  t.same(await refusal(rpc.call(PMAP_PROG, 2, 5, fwd)), [AcceptStat.PROC_UNAVAIL]);
  t.same(await refusal(rpc.call(PMAP_PROG, 2, 1, Buffer.alloc(6))), [AcceptStat.GARBAGE_ARGS]);
  t.same(await refusal(rpc.call(PMAP_PROG, 4, 13)), [AcceptStat.PROC_UNAVAIL]);
  await rpc.call(PMAP_PROG, 3, 0); // the connection survived all of that
});

t.test('registerService says what is wrong when the portmapper refuses', async (t) => {
  const { port } = await startServer(t);
  const c = await PortmapClient.connect({ port, transport: 'udp', timeoutMs: 5000 });
  t.teardown(() => c.close());
  // Loopback callers can't be refused for who they are, so provoke a refusal with a port out of range.
  await t.rejects(c.registerService(100003, [3], 70000), PortmapError);
});

t.test('registerService takes a mapping already there at its port, and names the port when it is another', async (t) => {
  const { server, port } = await startServer(t);
  // Held by root, so an unprivileged caller's UNSET can't drop it: as when another instance registered in between.
  server.registry.set({ prog: 100003, vers: 3, netid: 'tcp', addr: '0.0.0.0.8.1', owner: 'superuser' });
  server.registry.set({ prog: 100003, vers: 3, netid: 'udp', addr: '0.0.0.0.8.1', owner: 'superuser' });
  const c = await PortmapClient.connect({ port, transport: 'tcp', reservedPort: false, timeoutMs: 5000 });
  t.teardown(() => c.close());
  await c.registerService(100003, [3], 2049);
  t.equal(await c.getport(100003, 3, 'udp'), 2049);
  await t.rejects(c.registerService(100003, [3], 2050), {
    name: 'PortmapError',
    message: /registered at port 2049 by another server on this host.*rpcinfo -d 100003 3/,
  });
});

t.test('over IPv6 loopback: rpcbind lookups answer tcp6 addresses, SET from ::1 is accepted', async (t) => {
  const server = new PortmapServer({ log: () => {} });
  let port: number;
  try {
    port = await server.listen({ host: '::1', port: 0 });
  } catch (e) {
    return t.plan(0, `no IPv6 loopback here: ${(e as Error).message}`);
  } finally {
    t.teardown(() => server.close());
  }
  const c = await PortmapClient.connect({ host: '::1', port, transport: 'tcp', timeoutMs: 5000 });
  t.teardown(() => c.close());
  t.equal(await c.getaddr(PMAP_PROG, 4), `::1.${port >> 8}.${port & 255}`);
  t.ok(await c.set({ prog: 100005, vers: 3, netid: 'tcp6', addr: '::.78.80', owner: 'mountd' }));
  t.equal(await c.getaddr(100005, 3), '::1.78.80');
  t.same((await c.getaddrlist(100005, 3)).map((e) => `${e.netid} ${e.protofmly} ${e.maddr}`), ['tcp6 inet6 ::1.78.80']);
  t.equal(await c.getport(100005, 3, 'tcp'), 0, 'version 2 only knows IPv4');
});
