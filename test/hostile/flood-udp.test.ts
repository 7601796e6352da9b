import t from 'tap';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePrograms, requireNetns } from '../support/programs.js';
import { createLink } from '../support/netns.js';
import { run, start, type Running } from '../support/processes.js';
import { netbootCli, repoRoot } from '../support/paths.js';

// Garbage at full rate for 10 s at the RPC (portmap, NFS, MOUNT; UDP and TCP),
// TFTP and DHCP ports of the shipped commands: random bytes and mutations of
// valid messages (the fuzz targets' golden vectors), while Debian's rpcinfo,
// showmount, libnfs' nfs-cat, tftp-hpa and perfdhcp keep using the servers. Their work completes, the
// servers stay up, and each logs a bounded number of lines (rate-limited),
// not one per bad packet. HOSTILE_FLOOD_SECONDS changes the 10 s.

const SECONDS = Number(process.env.HOSTILE_FLOOD_SECONDS ?? 10);
const SUBNET = 87;

const FLOODER = `
const { server, seconds } = JSON.parse(process.argv[1]);
import dgram from 'node:dgram';
import net from 'node:net';
const { prng, nextInput } = await import(new URL('fuzz/engine.js', 'file://' + process.cwd() + '/'));
const { rpcTargets, tftpTargets, dhcpTargets } = await import(new URL('fuzz/targets.js', 'file://' + process.cwd() + '/'));
const rng = prng(87);
const pick = (name, list) => list.find((t) => t.name === name);
const aims = [
  { port: 111, target: pick('rpc-message', rpcTargets) },
  { port: 2049, target: pick('rpc-message', rpcTargets) },
  { port: 20048, target: pick('rpc-message', rpcTargets) },
  { port: 69, target: pick('tftp-packet', tftpTargets) },
  { port: 67, target: pick('dhcp-message', dhcpTargets) },
];
const sock = dgram.createSocket('udp4');
sock.on('error', () => {});
await new Promise((r) => sock.bind(0, r));
const sent = { 111: 0, 2049: 0, 20048: 0, 69: 0, 67: 0, tcpBytes: 0, tcpConnections: 0 };
const deadline = Date.now() + seconds * 1000;
// TCP: connections to the RPC port that send garbage streams, one after another.
const tcpLoop = (async () => {
  while (Date.now() < deadline) {
    await new Promise((resolve) => {
      const s = net.connect({ host: server, port: [111, 2049, 20048][sent.tcpConnections % 3] });
      s.on('error', resolve);
      s.on('close', resolve);
      s.on('connect', () => {
        sent.tcpConnections++;
        const chunk = Buffer.concat(Array.from({ length: 8 }, () => nextInput(rng, aims[0].target)));
        sent.tcpBytes += chunk.length;
        s.end(chunk);
        s.setTimeout(50, () => s.destroy()); // a server that keeps the connection open idle
      });
    });
  }
})();
let inflight = 0;
let drained = null;
let announced = false;
while (Date.now() < deadline) {
  for (let k = 0; k < 64; k++) {
    const aim = aims[k % aims.length];
    const b = nextInput(rng, aim.target);
    inflight++;
    sock.send(b, aim.port, server, () => {
      if (--inflight < 1000 && drained) {
        const go = drained;
        drained = null;
        go();
      }
    });
    sent[aim.port]++;
  }
  if (!announced) {
    console.log('flooding'); // the test measures from here
    announced = true;
  }
  // Too many datagrams queued in the socket: wait for sends to complete.
  if (inflight > 2000) await new Promise((r) => (drained = r));
  else await new Promise((r) => setImmediate(r));
}
await tcpLoop;
sock.close();
console.log(JSON.stringify(sent));
process.exit(0);
`;

function lines(r: Running, re: RegExp): number {
  return r.output().split('\n').filter((l) => re.test(l)).length;
}

if (requireNetns(t)) {
  t.test(`${SECONDS} s of garbage at the RPC, TFTP and DHCP ports while real clients work`, async (t) => {
    const progs = requirePrograms(t, { rpcinfo: 'rpcbind', tftp: 'tftp-hpa', perfdhcp: 'kea-admin', 'nfs-cat': 'libnfs-utils', showmount: 'nfs-common' });
    if (!progs) return;
    const link = createLink(t, { subnet: SUBNET, label: 'hfl' });
    const dir = mkdtempSync(join(tmpdir(), 'hostile-flood-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const file = randomBytes(256 * 1024);
    writeFileSync(join(dir, 'kernel.bin'), file);
    chmodSync(dir, 0o755); // root is squashed on the export: the directory must be open to others
    const text = 'netboot '.repeat(32 * 1024); // 256 KiB of text, so nfs-cat's stdout compares as a string
    writeFileSync(join(dir, 'kernel.txt'), text);
    writeFileSync(join(dir, 'exports'), `${dir} ${link.clientAddr}(ro,insecure)\n`);
    writeFileSync(
      join(dir, 'dhcpd.conf'),
      `authoritative;
default-lease-time 3600;
subnet 198.18.${SUBNET}.0 netmask 255.255.255.0 {
  range 198.18.${SUBNET}.10 198.18.${SUBNET}.250;
}
`,
    );
    const ns = { ns: link.server };
    const portmap = start(t, process.execPath, [netbootCli, 'portmap'], ns);
    const tftp = start(t, process.execPath, [netbootCli, 'tftp', '--root', dir, '--listen', '0.0.0.0'], ns);
    const dhcp = start(t, process.execPath, [netbootCli, 'dhcp', '--config', join(dir, 'dhcpd.conf'), '--interface', link.serverIf, '--leases', join(dir, 'dhcpd.leases')], ns);
    await portmap.waitFor(/listening on/);
    await tftp.waitFor(/listening on/);
    await dhcp.waitFor(/serving on/);
    const nfs = start(t, process.execPath, [netbootCli, 'nfs', '--exports', join(dir, 'exports'), '--state-dir', join(dir, 'nfs-state')], ns);
    await nfs.waitFor(/nlm: lock manager .* on port \d+/); // the last service it registers
    await portmap.waitFor(/registered program 100024 version 1 udp/); // ... logged by the portmapper
    const quiet = { portmap: portmap.output().split('\n').length, tftp: tftp.output().split('\n').length, dhcp: dhcp.output().split('\n').length };

    const flood = start(t, process.execPath, ['--input-type=module', '-e', FLOODER, JSON.stringify({ server: link.serverAddr, seconds: SECONDS })], {
      ns: link.client,
      cwd: repoRoot,
    });
    let floodDone = false;
    void flood.exited.then(() => (floodDone = true));
    await flood.waitFor(/^flooding$/m);

    const tally = { rpcinfoUdp: [0, 0], rpcinfoTcp: [0, 0], showmount: [0, 0], nfs: [0, 0], tftp: [0, 0], dhcp: [0, 0] };
    const out = join(dir, 'got.bin');
    while (!floodDone) {
      const [u, tc, sm, n, g, d] = await Promise.all([
        run(progs.rpcinfo, ['-u', link.serverAddr, '100000', '2'], { ns: link.client, timeoutMs: 30_000 }),
        run(progs.rpcinfo, ['-p', link.serverAddr], { ns: link.client, timeoutMs: 30_000 }),
        run(progs.showmount, ['-e', link.serverAddr], { ns: link.client, timeoutMs: 30_000 }),
        run(progs['nfs-cat'], [`nfs://${link.serverAddr}${dir}/kernel.txt?version=3`], { ns: link.client, timeoutMs: 30_000 }),
        (async () => {
          rmSync(out, { force: true });
          const r = await run(progs.tftp, [link.serverAddr], { ns: link.client, input: `binary\nrexmt 1\ntimeout 30\nget kernel.bin ${out}\nquit\n`, timeoutMs: 40_000 });
          let same = false;
          try {
            same = readFileSync(out).equals(file);
          } catch {
            // nothing fetched
          }
          return same && !r.timedOut;
        })(),
        run(progs.perfdhcp, ['-4', '-r', '10', '-n', '20', '-R', '20', '-W', '2000000', link.serverAddr], { ns: link.client, timeoutMs: 30_000 }),
      ]);
      tally.rpcinfoUdp[u.code === 0 && /ready and waiting/.test(u.stdout) ? 0 : 1]++;
      tally.rpcinfoTcp[tc.code === 0 && /100000\s+2\s+tcp\s+111\s+portmapper/.test(tc.stdout) ? 0 : 1]++;
      tally.tftp[g ? 0 : 1]++;
      tally.showmount[sm.code === 0 && sm.stdout.includes(dir) ? 0 : 1]++;
      tally.nfs[n.code === 0 && n.stdout === text ? 0 : 1]++;
      if (n.code !== 0 || n.stdout !== text) t.comment(`nfs-cat: exit ${n.code}, ${n.stdout.length} bytes, ${n.stderr.trim()}`);
      // perfdhcp's summary: "sent packets: N" / "received packets: M" per exchange; count full DORA exchanges.
      const received = [...d.stdout.matchAll(/received packets: (\d+)/g)].map((m) => Number(m[1]));
      tally.dhcp[0] += received[1] ?? 0;
      tally.dhcp[1] += 20 - (received[1] ?? 0);
    }
    t.equal(await flood.exited, 0, `the flooder ran: ${flood.output()}`);
    const sent = JSON.parse(flood.output().trim().split('\n').pop()!) as Record<string, number>;

    t.equal(tally.rpcinfoUdp[1], 0, `rpcinfo -u: ${tally.rpcinfoUdp[0]} of ${tally.rpcinfoUdp[0] + tally.rpcinfoUdp[1]} runs answered`);
    t.equal(tally.rpcinfoTcp[1], 0, `rpcinfo -p: ${tally.rpcinfoTcp[0]} of ${tally.rpcinfoTcp[0] + tally.rpcinfoTcp[1]} runs listed the portmapper`);
    t.equal(tally.showmount[1], 0, `showmount -e: ${tally.showmount[0]} of ${tally.showmount[0] + tally.showmount[1]} runs listed the export`);
    t.equal(tally.nfs[1], 0, `nfs-cat: ${tally.nfs[0]} of ${tally.nfs[0] + tally.nfs[1]} reads of 256 KiB over NFS complete`);
    t.equal(tally.tftp[1], 0, `tftp-hpa: ${tally.tftp[0]} of ${tally.tftp[0] + tally.tftp[1]} fetches of 256 KiB byte-identical`);
    t.ok(tally.dhcp[0] > 0, `perfdhcp: ${tally.dhcp[0]} of ${tally.dhcp[0] + tally.dhcp[1]} DORA exchanges completed during the flood`);
    for (const [name, r] of Object.entries({ portmap, nfs, tftp, dhcp })) t.equal(r.child.exitCode, null, `${name} is still running`);
    // Rate-limited logging: a bounded number of lines for hundreds of thousands of bad packets.
    // Undecodable packets are what must be rate-limited; a well-formed request (a mutated RRQ with a
    // strange name or mode) is logged as tftp-hpa and dhcpd log every request.
    const logged = {
      portmap: portmap.output().split('\n').length - quiet.portmap,
      nfs: lines(nfs, /rpc:|suppressed/),
      tftp: lines(tftp, /malformed|suppressed/i),
      dhcp: lines(dhcp, /malformed|suppressed/i),
    };
    const requests = { tftp: lines(tftp, /[RW]RQ from/), dhcp: lines(dhcp, /^DHCP|^BOOT/) };
    t.ok(logged.portmap < 500, `portmap logged ${logged.portmap} lines for ${sent[111]} datagrams and ${sent.tcpConnections} garbage connections`);
    t.ok(logged.nfs < 200, `nfs and mountd logged ${logged.nfs} lines for ${sent[2049]} + ${sent[20048]} datagrams and its share of the garbage connections`);
    t.ok(logged.tftp < 200, `tftp logged ${logged.tftp} lines about malformed datagrams for ${sent[69]} sent`);
    t.ok(logged.dhcp < 200, `dhcp logged ${logged.dhcp} lines about malformed datagrams for ${sent[67]} sent`);
    t.comment(
      `udp flood ${SECONDS} s: sent ${sent[111]} to RPC/111, ${sent[2049]} to NFS/2049, ${sent[20048]} to MOUNT/20048, ${sent[69]} to TFTP/69, ${sent[67]} to DHCP/67, ${sent.tcpConnections} garbage TCP connections (${sent.tcpBytes} bytes); ` +
        `rpcinfo -u ${tally.rpcinfoUdp[0]}/${tally.rpcinfoUdp[0] + tally.rpcinfoUdp[1]}, rpcinfo -p ${tally.rpcinfoTcp[0]}/${tally.rpcinfoTcp[0] + tally.rpcinfoTcp[1]}, showmount -e ${tally.showmount[0]}/${tally.showmount[0] + tally.showmount[1]}, nfs-cat ${tally.nfs[0]}/${tally.nfs[0] + tally.nfs[1]}, tftp-hpa ${tally.tftp[0]}/${tally.tftp[0] + tally.tftp[1]}, perfdhcp DORA ${tally.dhcp[0]}/${tally.dhcp[0] + tally.dhcp[1]}; ` +
        `log lines about bad packets: portmap ${logged.portmap}, nfs ${logged.nfs}, tftp ${logged.tftp}, dhcp ${logged.dhcp}; well-formed requests logged one per request: tftp ${requests.tftp}, dhcp ${requests.dhcp}`,
    );
  });
}
