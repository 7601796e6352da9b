import t from 'tap';
import { execFileSync } from 'node:child_process';
import { requirePrograms, requireNetns } from '../support/programs.js';
import { createLink } from '../support/netns.js';
import { run, start } from '../support/processes.js';
import { netbootCli } from '../support/paths.js';
import { nodeIn } from './ns-node.js';

// A master with a second address on the nodes' interface (an alias), RPC
// services on the wildcard address: a UDP call to the second address must be
// answered from that address, or a client that checks the source of the
// reply (libtirpc's rpcinfo, the kernel's NFS client) never hears it. Node's
// dgram has no IP_PKTINFO, so a socket bound to 0.0.0.0 alone would answer
// from the address the routing table picks (the first one). libtirpc's
// rpcinfo matches replies by xid only and would not notice; our RpcClient,
// like any client on a connected UDP socket, would drop them. RpcServer binds
// a UDP socket per local address as well; the alias exists before the
// server starts, as an address added later is served by the wildcard socket.

const SUBNET = 89;

if (requireNetns(t)) {
  t.test('UDP calls to a second server address are answered from it', async (t) => {
    const progs = requirePrograms(t, { rpcinfo: 'rpcbind' });
    if (!progs) return;
    const link = createLink(t, { subnet: SUBNET, label: 'hmh' });
    const alias = `198.18.${SUBNET}.11`;
    execFileSync('ip', ['-n', link.server, 'addr', 'add', `${alias}/24`, 'dev', link.serverIf]);
    const pm = start(t, process.execPath, [netbootCli, 'portmap'], { ns: link.server });
    await pm.waitFor(/listening on/);
    const primary = await run(progs.rpcinfo, ['-u', link.serverAddr, '100000', '2'], { ns: link.client, timeoutMs: 30_000 });
    t.match(primary.stdout, /ready and waiting/, `control: UDP to the primary address ${link.serverAddr} is answered`);
    const tcp = await run(progs.rpcinfo, ['-t', alias, '100000', '2'], { ns: link.client, timeoutMs: 30_000 });
    t.match(tcp.stdout, /ready and waiting/, `control: TCP to the alias ${alias} is answered`);
    const lenient = await run(progs.rpcinfo, ['-u', alias, '100000', '2'], { ns: link.client, timeoutMs: 30_000 });
    t.match(lenient.stdout, /ready and waiting/, `rpcinfo -u ${alias} gets an answer (it accepts one from any source)`);
    const strict = await nodeIn<{ port?: number; error?: string }>(
      link.client,
      `
      import { PortmapClient } from '@netboot/portmap';
      const { host } = JSON.parse(process.argv[1]);
      try {
        const pm = await PortmapClient.connect({ host, transport: 'udp', timeoutMs: 3000 });
        console.log(JSON.stringify({ port: await pm.getport(100000, 2, 'udp') }));
      } catch (e) {
        console.log(JSON.stringify({ error: e.message }));
      }
      process.exit(0);
      `,
      { host: alias },
    );
    t.equal(strict.port, 111, `a connected UDP client calling ${alias} is answered from it (${strict.error ?? 'answered'})`);
    const late = `198.18.${SUBNET}.12`;
    execFileSync('ip', ['-n', link.server, 'addr', 'add', `${late}/24`, 'dev', link.serverIf]);
    const fallback = await run(progs.rpcinfo, ['-u', late, '100000', '2'], { ns: link.client, timeoutMs: 30_000 });
    t.match(fallback.stdout, /ready and waiting/, `an address added after start (${late}) is still served, by the wildcard socket`);
  });
}
