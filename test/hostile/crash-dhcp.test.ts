import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseIpv4, parseLeaseFile } from '@netboot/dhcp-wire';
import { requirePrograms, requireNetns } from '../support/programs.js';
import { createLink } from '../support/netns.js';
import { start } from '../support/processes.js';
import { netbootCli } from '../support/paths.js';

// kill -9 of `netboot dhcp` at random moments of a perfdhcp run, again and
// again on the same lease file: after every restart each address ever ACKed
// is still leased to the client it was ACKed to, and the returning clients
// get exactly those addresses back (an address never moves to another
// client, a client never gets a second address). HOSTILE_DHCP_KILLS sets the
// number of kills (12 in npm test, 4 to 8 s each on the loaded development machine; the issue's full run is HOSTILE_DHCP_KILLS=100).

const KILLS = Number(process.env.HOSTILE_DHCP_KILLS ?? 12);
const SUBNET = 84;

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

t.test(`kill -9 at ${KILLS} random moments of a perfdhcp run`, async (t) => {
  const progs = requirePrograms(t, { perfdhcp: 'kea-admin' });
  if (!progs) return;
  if (!requireNetns(t)) return;
  const link = createLink(t, { subnet: SUBNET, label: 'hdk' });
  const dir = mkdtempSync(join(tmpdir(), 'hostile-dhcp-kill-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const conf = join(dir, 'dhcpd.conf');
  const leases = join(dir, 'dhcpd.leases');
  writeFileSync(
    conf,
    `authoritative;
default-lease-time 3600;
max-lease-time 7200;
subnet 198.18.${SUBNET}.0 netmask 255.255.255.0 {
  range 198.18.${SUBNET}.10 198.18.${SUBNET}.250;
}
`,
  );
  const random = prng(84);
  const ackedTo = new Map<string, string>(); // ip -> mac, every ACK ever logged
  const ipOf = new Map<string, string>(); // mac -> ip
  const conflicts: string[] = [];
  const lost: string[] = [];
  let acks = 0;
  let reloaded = 0;
  const started = Date.now();

  for (let k = 0; k < KILLS; k++) {
    const server = start(t, process.execPath, [netbootCli, 'dhcp', '--config', conf, '--interface', link.serverIf, '--leases', leases], { ns: link.server });
    await server.waitFor(/netboot dhcp: serving on/, 20_000);
    const read = server.output().match(/read (\d+) lease records/);
    if (read) reloaded = Number(read[1]);
    // 200 clients from perfdhcp's fixed base MAC: each run brings back the clients of the earlier ones.
    const load = start(t, progs.perfdhcp, ['-4', '-r', '300', '-R', '200', '-p', '10', link.serverAddr], { ns: link.client });
    // Killed at a random point of the run: after a random number of ACKs (none to a few hundred).
    const killAt = Math.floor(random() * 300);
    await server.waitForOutput((out) => out.split('DHCPACK on ').length > killAt, `${killAt} DHCPACK lines`);
    await server.kill();
    await load.stop(500);
    for (const m of server.output().matchAll(/DHCPACK on (\S+) to (\S+) via/g)) {
      const [, ip, mac] = m;
      acks++;
      const before = ackedTo.get(ip);
      if (before && before !== mac) conflicts.push(`${ip} ACKed to ${before}, then to ${mac} (kill ${k})`);
      const had = ipOf.get(mac);
      if (had && had !== ip) conflicts.push(`${mac} had ${had}, then got ${ip} (kill ${k})`);
      ackedTo.set(ip, mac);
      ipOf.set(mac, ip);
    }
    // What the next start will read back.
    const onDisk = new Map<number, { mac: string; state: string }>();
    for (const l of parseLeaseFile(readFileSync(leases, 'latin1')).leases) onDisk.set(l.ip, l);
    for (const [ip, mac] of ackedTo) {
      const l = onDisk.get(parseIpv4(ip)!);
      if (!l || l.mac !== mac || l.state !== 'active') lost.push(`${ip} (${mac}) after kill ${k}: ${l ? `${l.mac} ${l.state}` : 'missing'}`);
    }
  }
  const final = start(t, process.execPath, [netbootCli, 'dhcp', '--config', conf, '--interface', link.serverIf, '--leases', leases], { ns: link.server });
  const [, count] = await final.waitFor(/read (\d+) lease records/, 20_000);
  await final.waitFor(/netboot dhcp: serving on/, 20_000);
  await final.stop();

  t.ok(acks > 0, `${acks} ACKs over ${KILLS} runs`);
  t.same(lost, [], `after each of ${KILLS} kills every ACKed lease (${ackedTo.size} addresses) is on disk for the same client`);
  t.same(conflicts, [], 'returning clients always got their own address back; no address moved to another client');
  t.comment(`dhcp crash: ${KILLS} kill -9s in ${((Date.now() - started) / 1000).toFixed(0)} s, ${acks} ACKs, ${ackedTo.size} distinct leases kept, ${lost.length} lost; last restart read ${count} records (previous ${reloaded}); addresses: ${[...ackedTo.keys()].slice(0, 3).join(', ')}...`);
});
