import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLink } from '../support/netns.js';
import { start } from '../support/processes.js';
import { requireNetns } from '../support/programs.js';
import { netbootCli } from '../support/paths.js';
import { nodeIn } from './ns-node.js';
import { rssMiB } from './proc-rss.js';

// DHCPDISCOVERs from 50,000 random MACs at `netboot dhcp` with a pool of 100
// addresses: the pool runs out cleanly (offers for the first 100, then
// `no free leases` logged), memory stays bounded, and a known host still
// gets its fixed address in the middle of it all.

const MACS = Number(process.env.HOSTILE_DHCP_MACS ?? 50_000);
const SUBNET = 86;

/** The pids of processes running `netboot dhcp` in namespace `ns` (one: it binds its device sockets itself). */
function dhcpPids(ns: string): number[] {
  return execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' })
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('dhcp');
      } catch {
        return false;
      }
    });
}

const FLOOD = `
import dgram from 'node:dgram';
import { encode, decode, getOption, formatIpv4 } from '@netboot/dhcp-wire';
const { server, macs, known } = JSON.parse(process.argv[1]);
const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
await new Promise((r) => sock.bind(68, r));
sock.setBroadcast(true);
sock.setRecvBufferSize(8 * 1024 * 1024);
// A DISCOVER is answered at once or lost: a client that heard nothing sends again after its retransmit timer.
const CLIENT_TIMEOUT_MS = 2000;
const KNOWN_XID = 0x4b4e4f57; // the known host, in the middle of the flood
const LAST_XID = 0x4c415354; // the known host again after the flood: its OFFER comes after every earlier DISCOVER's
const knownMac = Buffer.from(known, 'hex');
const offers = new Set();
let knownOffer;
let lastOffer;
let knownReplies = 0; // OFFERs to the known host, each one a DHCPOFFER line in the server's log
let heard = () => {};
sock.on('message', (b) => {
  try {
    const m = decode(b);
    if (getOption(m, 53)?.[0] !== 2) return;
    if (m.xid === KNOWN_XID) knownOffer = formatIpv4(m.yiaddr);
    else if (m.xid === LAST_XID) lastOffer = formatIpv4(m.yiaddr);
    else offers.add(formatIpv4(m.yiaddr));
    if (m.xid === KNOWN_XID || m.xid === LAST_XID) knownReplies++;
    heard();
  } catch {}
});
/** Resolves once check() holds after an OFFER, or when the client's retransmit timer fires. */
const offerOrTimer = (check) =>
  new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      heard = () => {};
      resolve();
    };
    const timer = setTimeout(done, CLIENT_TIMEOUT_MS);
    heard = () => check() && done();
    if (check()) done();
  });
const discover = (mac, xid) => {
  const chaddr = Buffer.alloc(16);
  mac.copy(chaddr);
  return encode({ op: 1, htype: 1, hlen: 6, hops: 0, xid, secs: 0, flags: 0x8000, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0,
    chaddr, sname: Buffer.alloc(64), file: Buffer.alloc(128), cookie: true, options: [{ code: 53, data: Buffer.from([1]) }] });
};
let x = 86;
const rand = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
const started = Date.now();
for (let i = 0; i < macs; i++) {
  const mac = Buffer.alloc(6);
  mac.writeUInt32BE(rand(), 0);
  mac.writeUInt16BE(rand() & 0xffff, 4);
  mac[0] = (mac[0] & 0xfe) | 0x02; // unicast, locally administered
  // Every 200 DISCOVERs the flood waits for the kernel to take the last one, letting OFFERs in.
  if (i % 200 === 199) await new Promise((r) => sock.send(discover(mac, i + 1), 67, server, r));
  else sock.send(discover(mac, i + 1), 67, server);
  if (i === (macs >> 1)) sock.send(discover(knownMac, KNOWN_XID), 67, server);
}
const sentMs = Date.now() - started;
// The server answers in the order DISCOVERs reach it: once the last one's OFFER is here, so is every earlier OFFER.
for (let tries = 0; tries < 5 && lastOffer === undefined; tries++) {
  sock.send(discover(knownMac, LAST_XID), 67, server);
  await offerOrTimer(() => lastOffer !== undefined);
}
// Once more, as a client whose first DISCOVER was lost would.
if (!knownOffer) {
  sock.send(discover(knownMac, KNOWN_XID), 67, server);
  await offerOrTimer(() => knownOffer !== undefined);
}
sock.close();
console.log(JSON.stringify({ offers: offers.size, knownOffer: knownOffer ?? null, lastOffer: lastOffer ?? null, knownReplies, sentMs }));
process.exit(0);
`;

if (requireNetns(t)) {
  t.test(`DISCOVERs from ${MACS} random MACs`, async (t) => {
    const link = createLink(t, { subnet: SUBNET, label: 'hdf' });
    const dir = mkdtempSync(join(tmpdir(), 'hostile-dhcp-flood-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(
      join(dir, 'dhcpd.conf'),
      `authoritative;
default-lease-time 600;
subnet 198.18.${SUBNET}.0 netmask 255.255.255.0 {
  range 198.18.${SUBNET}.100 198.18.${SUBNET}.199;
}
host node21 { hardware ethernet 52:54:00:00:86:21; fixed-address 198.18.${SUBNET}.21; }
`,
    );
    const server = start(t, process.execPath, [netbootCli, 'dhcp', '--config', join(dir, 'dhcpd.conf'), '--interface', link.serverIf, '--leases', join(dir, 'dhcpd.leases')], { ns: link.server });
    await server.waitFor(/netboot dhcp: serving on/);
    const rss = () => Math.max(...dhcpPids(link.server).map(rssMiB));
    const before = rss();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rss())), 200);
    t.teardown(() => clearInterval(sampler));
    const r = await nodeIn<{ offers: number; knownOffer: string | null; lastOffer: string | null; knownReplies: number; sentMs: number }>(
      link.client,
      FLOOD,
      { server: link.serverAddr, macs: MACS, known: '525400008621' },
      180_000,
    );
    t.equal(r.lastOffer, `198.18.${SUBNET}.21`, 'a DISCOVER after the flood is answered (so every earlier OFFER has arrived)');
    // The server logs in the order it answers: the line of the known host's last OFFER closes the log of the flood.
    const knownLines = (out: string) => (out.match(new RegExp(`^DHCPOFFER on 198\\.18\\.${SUBNET}\\.21 `, 'gm')) ?? []).length;
    await server.waitForOutput((out) => knownLines(out) >= r.knownReplies, `the log lines of the ${r.knownReplies} OFFERs to the known host`);
    clearInterval(sampler);
    const after = rss();
    const out = server.output();
    const noFree = (out.match(/no free leases/g) ?? []).length;
    const offered = (out.match(/DHCPOFFER on /g) ?? []).length;
    const handled = (out.match(/^DHCPDISCOVER from \S+ via \S+$/gm) ?? []).length;
    t.equal(r.offers, 100, 'the 100 addresses of the pool were offered');
    t.ok(noFree > 0, `then "no free leases" was logged (${noFree} times)`);
    t.equal(r.knownOffer, `198.18.${SUBNET}.21`, 'the known host got its fixed address in the middle of the flood');
    t.equal(server.child.exitCode, null, 'the server is still running');
    t.ok(peak - before < 200, `RSS ${before.toFixed(1)} -> peak ${peak.toFixed(1)} MiB`);
    t.comment(
      `dhcp flood: ${MACS} DISCOVERs sent in ${(r.sentMs / 1000).toFixed(1)} s, ${handled} reached the server (the rest overflowed its socket buffer): ${r.offers} addresses offered (${offered} OFFER log lines), "no free leases" logged ${noFree} times, known host got ${r.knownOffer}; server RSS ${before.toFixed(1)} -> peak ${peak.toFixed(1)} MiB, ${after.toFixed(1)} after; ${out.split('\n').length} log lines in all`,
    );
  });
}

t.test('the policy under the same flood: offers expire, nothing grows per unknown MAC', async (t) => {
  const { LeasePolicy, parseConfig, parseIpv4, getOption } = await import('@netboot/dhcp-wire');
  const ip = (s: string) => parseIpv4(s)!;
  const config = parseConfig(
    `authoritative;
subnet 198.18.${SUBNET}.0 netmask 255.255.255.0 { range 198.18.${SUBNET}.100 198.18.${SUBNET}.199; }
host node21 { hardware ethernet 52:54:00:00:86:21; fixed-address 198.18.${SUBNET}.21; }
`,
    'dhcpd.conf',
  );
  const policy = new LeasePolicy(config, { offerTimeoutMs: 60_000 });
  const via = { name: 'eth1', address: ip(`198.18.${SUBNET}.1`), network: ip(`198.18.${SUBNET}.0`), mask: ip('255.255.255.0') };
  const discover = (mac: Buffer) => {
    const chaddr = Buffer.alloc(16);
    mac.copy(chaddr);
    return {
      msg: { op: 1, htype: 1, hlen: 6, hops: 0, xid: 1, secs: 0, flags: 0, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0, chaddr, sname: Buffer.alloc(64), file: Buffer.alloc(128), cookie: true, options: [{ code: 53, data: Buffer.from([1]) }] },
      via,
      from: { address: 0, port: 68 },
      localPort: 67,
    };
  };
  const heapBefore = process.memoryUsage().heapUsed;
  let offers = 0;
  let noFree = 0;
  const t0 = 1_000_000;
  for (let i = 0; i < MACS; i++) {
    const mac = Buffer.alloc(6);
    mac.writeUInt32BE(0x02000000 + i, 0);
    const out = policy.handle(discover(mac), t0 + i);
    if (out.reply && getOption(out.reply.msg, 53)?.[0] === 2) offers++;
    if (out.log.some((l) => l.includes('no free leases'))) noFree++;
  }
  const heapAfter = process.memoryUsage().heapUsed;
  t.equal(offers, 100, 'the pool of 100 was offered');
  t.equal(noFree, MACS - 100, 'every later DISCOVER: no free leases');
  const known = policy.handle(discover(Buffer.from('525400008621', 'hex')), t0 + MACS);
  t.equal(known.reply?.msg.yiaddr, ip(`198.18.${SUBNET}.21`), 'the known host gets its fixed address');
  const later = policy.handle(discover(Buffer.from('02ffffffffff', 'hex')), t0 + MACS + 61_000);
  t.ok(later.reply && getOption(later.reply.msg, 53)?.[0] === 2, 'a minute later the offers have expired: a new client gets an address');
  t.equal([...policy.leases()].length, 0, 'no lease was made for anyone who only sent DISCOVER');
  t.comment(`dhcp policy: ${MACS} DISCOVERs: ${offers} offers, ${noFree} "no free leases"; heap ${(heapBefore / 1048576).toFixed(1)} -> ${(heapAfter / 1048576).toFixed(1)} MiB; offers expired after 60 s`);
});
