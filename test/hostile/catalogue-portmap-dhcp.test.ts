import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLink } from '../support/netns.js';
import { start } from '../support/processes.js';
import { netbootCli } from '../support/paths.js';
import { nodeIn } from './ns-node.js';
import { requireNetns } from '../support/programs.js';

// "Nobody gets in", portmap and DHCP, against the shipped commands in test
// namespaces: a host on the LAN cannot change the portmapper's registrations,
// and the DHCP server neither hands out an address for another server's
// offer, nor off its subnet, nor to a relay it does not know.

if (requireNetns(t)) {
  t.test('portmap: SET and UNSET from a non-loopback address are refused and logged', async (t) => {
    const link = createLink(t, { subnet: 81, label: 'hpm' });
    const pm = start(t, process.execPath, [netbootCli, 'portmap', '--listen', link.serverAddr], { ns: link.server });
    await pm.waitFor(/listening on/);
    const remote = await nodeIn<Record<string, unknown>>(
      link.client,
      `
      import { PortmapClient } from '@netboot/portmap';
      const { host } = JSON.parse(process.argv[1]);
      const out = {};
      for (const transport of ['udp', 'tcp']) {
        const pm = await PortmapClient.connect({ host, transport, timeoutMs: 5000 });
        out[transport + 'Set'] = await pm.register(100099, 1, transport, 4242);
        out[transport + 'SetV4'] = await pm.set({ prog: 100099, vers: 2, netid: transport, addr: '198.18.81.2.16.146', owner: 'root' });
        out[transport + 'Unset'] = await pm.unregister(100000, 2);
        out[transport + 'UnsetV4'] = await pm.unset({ prog: 100000, vers: 4, netid: '' });
        out[transport + 'Getport'] = await pm.getport(100000, 2, 'tcp');
        out[transport + 'Registered'] = await pm.getport(100099, 1, transport);
        pm.close();
      }
      console.log(JSON.stringify(out));
      `,
      { host: link.serverAddr },
    );
    for (const transport of ['udp', 'tcp']) {
      t.equal(remote[`${transport}Set`], false, `${transport}: v2 SET from ${link.clientAddr} answered false`);
      t.equal(remote[`${transport}SetV4`], false, `${transport}: rpcbind v4 SET answered false`);
      t.equal(remote[`${transport}Unset`], false, `${transport}: v2 UNSET of the portmapper itself answered false`);
      t.equal(remote[`${transport}UnsetV4`], false, `${transport}: v4 UNSET answered false`);
      t.equal(remote[`${transport}Getport`], 111, `${transport}: the portmapper's own entry is still there`);
      t.equal(remote[`${transport}Registered`], 0, `${transport}: nothing was registered`);
    }
    const line = await pm.waitFor(/portmap: refused \S+ of program \d+ from 198\.18\.81\.2[^\n]*/);
    t.pass(`logged: ${line[0]}`);
    t.notMatch(pm.output(), /registered [^\n]*100099/, 'no registration was logged');
  });

  t.test('DHCP: another server’s REQUEST, an address off the subnet, an unknown relay', async (t) => {
    const link = createLink(t, { subnet: 82, label: 'hdh' });
    const dir = mkdtempSync(join(tmpdir(), 'hostile-dhcp-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(
      join(dir, 'dhcpd.conf'),
      `authoritative;
default-lease-time 600;
subnet 198.18.82.0 netmask 255.255.255.0 {
  range 198.18.82.100 198.18.82.120;
}
host known { hardware ethernet 52:54:00:00:82:21; fixed-address 198.18.82.21; }
`,
    );
    const server = start(
      t,
      process.execPath,
      [netbootCli, 'dhcp', '--config', join(dir, 'dhcpd.conf'), '--interface', link.serverIf, '--leases', join(dir, 'dhcpd.leases')],
      { ns: link.server },
    );
    await server.waitFor(/netboot dhcp: serving on/);

    // Each probe is one datagram, unicast to the server (an in-subnet client
    // may do that), then whatever comes back before the answer to a sentinel:
    // a REQUEST from the known host for its own address. The server handles
    // datagrams in order and sends an ACK only once its lease is on disk, in
    // the order of the commits, so the sentinel's ACK comes after any reply
    // to the probe, ACKs included.
    const probes = {
      otherServer: { mac: '525400008201', type: 3, requested: '198.18.82.101', serverId: '198.18.82.99', giaddr: '0.0.0.0' },
      offSubnet: { mac: '525400008202', type: 3, requested: '198.19.200.5', giaddr: '0.0.0.0' },
      unknownRelay: { mac: '525400008203', type: 1, giaddr: '198.19.77.1' },
      unknownRelayRequest: { mac: '525400008204', type: 3, requested: '198.19.77.50', giaddr: '198.19.77.1' },
      known: { mac: '525400008221', type: 1, giaddr: '0.0.0.0' },
    };
    type Replies = { got: Record<string, { type: number; yiaddr: string }[]>; sentinelAcks: number; unanswered: string[] };
    const { got: replies, sentinelAcks, unanswered } = await nodeIn<Replies>(
      link.client,
      `
      import dgram from 'node:dgram';
      import { encode, decode, parseIpv4, formatIpv4, getOption } from '@netboot/dhcp-wire';
      const { server, probes, known, knownAddress } = JSON.parse(process.argv[1]);
      const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
      await new Promise((r) => sock.bind(68, r));
      sock.setBroadcast(true);
      const got = {};
      const byXid = new Map();
      let sentinelAcks = 0;
      let heard = () => {};
      sock.on('message', (b) => {
        try {
          const m = decode(b);
          const name = byXid.get(m.xid);
          if (name === 'sentinel') {
            if (getOption(m, 53)?.[0] !== 5) return;
            sentinelAcks++;
            heard(m.xid);
          } else if (name) got[name].push({ type: getOption(m, 53)?.[0] ?? 0, yiaddr: formatIpv4(m.yiaddr) });
        } catch {}
      });
      const send = (xid, p) => {
        const chaddr = Buffer.alloc(16);
        Buffer.from(p.mac, 'hex').copy(chaddr);
        const options = [{ code: 53, data: Buffer.from([p.type]) }];
        if (p.requested) options.push({ code: 50, data: Buffer.from(p.requested.split('.').map(Number)) });
        if (p.serverId) options.push({ code: 54, data: Buffer.from(p.serverId.split('.').map(Number)) });
        const msg = { op: 1, htype: 1, hlen: 6, hops: p.giaddr === '0.0.0.0' ? 0 : 1, xid, secs: 0, flags: 0x8000, ciaddr: 0, yiaddr: 0, siaddr: 0,
          giaddr: parseIpv4(p.giaddr), chaddr, sname: Buffer.alloc(64), file: Buffer.alloc(128), cookie: true, options };
        sock.send(encode(msg), 67, server);
      };
      // A client that hears nothing sends again after its retransmit timer.
      const CLIENT_TIMEOUT_MS = 2000;
      /** Sends the sentinel REQUEST until it is ACKed (at most 3 times, a client's timer apart); resolves whether it was. */
      const sentinel = async (xid) => {
        byXid.set(xid, 'sentinel');
        for (let tries = 0; tries < 3; tries++) {
          send(xid, { mac: known, type: 3, requested: knownAddress, giaddr: '0.0.0.0' });
          const answered = await new Promise((resolve) => {
            const timer = setTimeout(() => resolve(false), CLIENT_TIMEOUT_MS);
            heard = (x) => x === xid && (clearTimeout(timer), resolve(true));
          });
          if (answered) return true;
        }
        return false;
      };
      let xid = 0x8200;
      const unanswered = [];
      for (const [name, p] of Object.entries(probes)) {
        got[name] = [];
        byXid.set(++xid, name);
        send(xid, p);
        if (!(await sentinel(0x5e000000 + xid))) unanswered.push(name);
      }
      sock.close();
      console.log(JSON.stringify({ got, sentinelAcks, unanswered }));
      `,
      { server: link.serverAddr, probes, known: '525400008221', knownAddress: '198.18.82.21' },
    );
    t.same(unanswered, [], 'the sentinel after each probe was ACKed');
    // The server logs in the order it answers: once the sentinels' ACK lines are in, so is every line before them.
    const sentinelLines = (out: string) => (out.match(/^DHCPACK on 198\.18\.82\.21 to 52:54:00:00:82:21 /gm) ?? []).length;
    await server.waitForOutput((out) => sentinelLines(out) >= sentinelAcks, `the log lines of the ${sentinelAcks} ACKs to the sentinel`);
    t.same(replies.otherServer, [], 'a REQUEST naming another server (198.18.82.99) gets no ACK, no answer at all');
    t.match(server.output(), /DHCPREQUEST for 198\.18\.82\.101 from 52:54:00:00:82:01 via \S+: for server 198\.18\.82\.99, not us/, 'and is logged');
    t.same(replies.offSubnet.map((r) => r.type), [6], 'a REQUEST for 198.19.200.5 (off the subnet) gets a DHCPNAK');
    t.match(server.output(), /DHCPNAK on 198\.19\.200\.5 to 52:54:00:00:82:02/, 'and is logged');
    t.same(replies.unknownRelay, [], 'a DISCOVER relayed by unknown giaddr 198.19.77.1 gets nothing');
    t.match(server.output(), /DHCPDISCOVER from 52:54:00:00:82:03 via 198\.19\.77\.1: unknown network segment/, 'and is logged');
    t.same(replies.unknownRelayRequest, [], 'a REQUEST through the unknown relay gets nothing');
    t.match(server.output(), /DHCPREQUEST for 198\.19\.77\.50 from 52:54:00:00:82:04 via 198\.19\.77\.1: unknown network segment/, 'and is logged');
    t.same(replies.known.map((r) => [r.type, r.yiaddr]), [[2, '198.18.82.21']], 'control: the known host is offered its fixed address');
    t.same(
      server.output().match(/^DHCPACK on .*$/gm)?.filter((l) => !/^DHCPACK on 198\.18\.82\.21 to 52:54:00:00:82:21 /.test(l)) ?? [],
      [],
      'nothing but the sentinel was ACKed',
    );
  });
}
