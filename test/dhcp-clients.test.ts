import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { parseLeaseFile, parseIpv4 } from '@netboot/dhcp-wire';
import { createLink, createNetns, type Link } from './support/netns.js';
import { netbootCli, repoRoot } from './support/paths.js';
import { run, start, type Running } from './support/processes.js';
import { requirePrograms, requireNetns } from './support/programs.js';

/*
 * Real Debian DHCP clients against `netboot dhcp`, each test in namespaces
 * it creates: the server namespace holds the master's interface, the client
 * namespace the node's, joined by a veth pair. The client side starts with
 * no address: udhcpc and dhclient configure it from our replies.
 */

const guide = readFileSync(join(repoRoot, 'packages/dhcp-wire/test/fixtures/gentoo-dhcpd.conf'), 'utf8');
const SLAVE_MAC = '00:40:63:c2:ca:c9';

type T = Test;

function tempDir(t: T): string {
  const dir = mkdtempSync(join(tmpdir(), 'dhcp-clients-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The client end loses its static address and takes `mac`, so the DHCP client is what configures it. */
function bareClient(link: Link, mac: string): void {
  const ip = (...a: string[]) => execFileSync('ip', ['-n', link.client, ...a]);
  ip('addr', 'flush', 'dev', link.clientIf);
  ip('link', 'set', link.clientIf, 'down');
  ip('link', 'set', link.clientIf, 'address', mac);
  ip('link', 'set', link.clientIf, 'up');
}

async function startServer(t: T, link: Link, dir: string, conf: string, extra: string[] = []): Promise<Running> {
  const confPath = join(dir, 'dhcpd.conf');
  writeFileSync(confPath, conf);
  const server = start(t, process.execPath, [netbootCli, 'dhcp', '--config', confPath, '--interface', link.serverIf, '--leases', join(dir, 'dhcpd.leases'), ...extra], {
    ns: link.server,
  });
  await server.waitFor(/netboot dhcp: serving on/);
  return server;
}

/** A udhcpc -s script: dumps its environment per event and configures the address on "bound", as the default script would. */
function udhcpcScript(dir: string): string {
  const path = join(dir, 'udhcpc.sh');
  writeFileSync(
    path,
    `#!/bin/sh\nenv | sort > "${dir}/udhcpc.$1"\nif [ "$1" = bound ]; then ip addr add "$ip/$mask" dev "$interface"; fi\n`,
  );
  chmodSync(path, 0o755);
  return path;
}

function envFile(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

t.test('busybox udhcpc as a PXE ROM gets the guide host: fixed address, next-server, pxelinux.0 and the options', async (t) => {
  const progs = requirePrograms(t, { udhcpc: 'udhcpc' });
  if (!progs || !requireNetns(t)) return;
  const link = createLink(t, { subnet: 21, label: 'dhu' });
  bareClient(link, SLAVE_MAC);
  const dir = tempDir(t);
  const server = await startServer(t, link, dir, guide);
  const script = udhcpcScript(dir);
  const r = await run(progs.udhcpc, ['-i', link.clientIf, '-V', 'PXEClient:Arch:00000:UNDI:002001', '-f', '-q', '-n', '-t', '5', '-T', '2', '-s', script, '-O', '43', '-O', '17'], {
    ns: link.client,
    timeoutMs: 30_000,
  });
  t.equal(r.code, 0, `udhcpc got a lease:\n${r.stderr}`);
  const env = envFile(join(dir, 'udhcpc.bound'));
  t.equal(env.ip, '198.18.21.21', 'the fixed address of its MAC');
  t.equal(env.siaddr, '198.18.21.1', 'next-server');
  t.equal(env.boot_file, 'pxelinux.0');
  t.equal(env.rootpath, '/diskless/198.18.21.21');
  t.equal(env.router, '198.18.21.1');
  t.equal(env.dns, '198.18.21.1');
  t.equal(env.domain, 'mydomain.com');
  t.equal(env.serverid, '198.18.21.1');
  t.equal(env.opt43, '010400000000', 'PXE vendor options: mtftp-ip 0.0.0.0, without an END, as dhcpd sends them');
  const addrs = execFileSync('ip', ['-n', link.client, '-4', 'addr', 'show', 'dev', link.clientIf], { encoding: 'utf8' });
  t.match(addrs, /inet 198\.18\.21\.21\/24/, 'udhcpc configured the client side');
  const out = server.output();
  for (const line of [
    `DHCPDISCOVER from ${SLAVE_MAC} via ${link.serverIf}`,
    `DHCPOFFER on 198.18.21.21 to ${SLAVE_MAC} via ${link.serverIf}`,
    `DHCPREQUEST for 198.18.21.21 from ${SLAVE_MAC} via ${link.serverIf}`,
    `DHCPACK on 198.18.21.21 to ${SLAVE_MAC} via ${link.serverIf}`,
  ]) {
    t.ok(out.includes(line), `server logged "${line}"`);
  }
});

t.test('udhcpc with vendor class Etherboot gets vmlinuz_arch', async (t) => {
  const progs = requirePrograms(t, { udhcpc: 'udhcpc' });
  if (!progs || !requireNetns(t)) return;
  const link = createLink(t, { subnet: 21, label: 'dhe' });
  bareClient(link, SLAVE_MAC);
  const dir = tempDir(t);
  await startServer(t, link, dir, guide);
  const r = await run(progs.udhcpc, ['-i', link.clientIf, '-V', 'Etherboot-5.4', '-f', '-q', '-n', '-t', '5', '-T', '2', '-s', udhcpcScript(dir)], {
    ns: link.client,
    timeoutMs: 30_000,
  });
  t.equal(r.code, 0, r.stderr);
  const env = envFile(join(dir, 'udhcpc.bound'));
  t.equal(env.ip, '198.18.21.21');
  t.equal(env.boot_file, 'vmlinuz_arch');
  t.notOk(env.opt43, 'no PXE options for Etherboot');
});

t.test('ISC dhclient gets the fixed address, next-server, pxelinux.0 and the options', async (t) => {
  const progs = requirePrograms(t, { dhclient: 'isc-dhcp-client' });
  if (!progs || !requireNetns(t)) return;
  const link = createLink(t, { subnet: 21, label: 'dhd' });
  bareClient(link, SLAVE_MAC);
  const dir = tempDir(t);
  const server = await startServer(t, link, dir, guide);
  const conf = join(dir, 'dhclient.conf');
  writeFileSync(conf, 'send vendor-class-identifier "PXEClient:Arch:00000:UNDI:002001";\nrequest subnet-mask, routers, domain-name-servers, domain-name, root-path;\n');
  const script = join(dir, 'dhclient.sh');
  writeFileSync(script, `#!/bin/sh\nenv | sort > "${dir}/dhclient.$reason"\nif [ "$reason" = BOUND ]; then ip addr add "$new_ip_address/$new_subnet_mask" dev "$interface"; fi\n`);
  chmodSync(script, 0o755);
  const leaseFile = join(dir, 'dhclient.leases');
  const client = start(t, progs.dhclient, ['-1', '-d', '-v', '-cf', conf, '-lf', leaseFile, '-pf', join(dir, 'dhclient.pid'), '-sf', script, link.clientIf], { ns: link.client });
  await client.waitFor(/bound to 198\.18\.21\.21/, 30_000);
  await client.stop();
  const lease = readFileSync(leaseFile, 'utf8');
  t.match(lease, /fixed-address 198\.18\.21\.21;/);
  t.match(lease, /filename "pxelinux\.0";/);
  t.match(lease, /option root-path "\/diskless\/198\.18\.21\.21";/);
  t.match(lease, /option routers 198\.18\.21\.1;/);
  t.match(lease, /option domain-name-servers 198\.18\.21\.1;/);
  t.match(lease, /option domain-name "mydomain\.com";/);
  t.match(lease, /option dhcp-server-identifier 198\.18\.21\.1;/);
  const env = envFile(join(dir, 'dhclient.BOUND'));
  t.equal(env.new_next_server, '198.18.21.1', 'next-server');
  t.equal(env.new_filename, 'pxelinux.0');
  t.match(server.output(), `DHCPACK on 198.18.21.21 to ${SLAVE_MAC} via ${link.serverIf}`);
});

// A BOOTP client (RFC 951: no cookie, a 64-byte vendor area) crafted with a node dgram socket in the client namespace.
const BOOTP_CLIENT = `
import dgram from 'node:dgram';
import { decode, formatIpv4, getOption } from '@netboot/dhcp-wire';
const mac = Buffer.from(process.argv[1].split(':').map((h) => parseInt(h, 16)));
const req = Buffer.alloc(300);
req[0] = 1; req[1] = 1; req[2] = 6; req.writeUInt32BE(0x0b00ba11, 4); mac.copy(req, 28);
const s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
const timer = setTimeout(() => { console.log('NO REPLY'); process.exit(1); }, 8000);
s.on('message', (m) => {
  const r = decode(m);
  if (r.xid !== 0x0b00ba11) return;
  clearTimeout(timer);
  const root = getOption(r, 17);
  console.log(JSON.stringify({ op: r.op, yiaddr: formatIpv4(r.yiaddr), siaddr: formatIpv4(r.siaddr), type: getOption(r, 53) ? 'dhcp' : 'none', rootPath: root ? Buffer.from(root).toString() : null }));
  process.exit(0);
});
s.bind(68, () => { s.setBroadcast(true); s.send(req, 67, '255.255.255.255'); });
`;

// Fifty datagrams to port 67 that are not BOOTP messages: too short, a bad hlen, options running past the end.
const JUNK_SENDER = `
import dgram from 'node:dgram';
const s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
s.bind(68, async () => {
  s.setBroadcast(true);
  for (let i = 0; i < 50; i++) {
    const b = Buffer.alloc(i % 3 === 0 ? 17 : 300, i);
    if (i % 3 === 1) { b[2] = 99; }
    if (i % 3 === 2) { b.writeUInt32BE(0x63825363, 236); b[240] = 12; b[241] = 200; b[2] = 6; }
    await new Promise((r) => s.send(b, 67, '255.255.255.255', r));
  }
  s.close();
});
`;

t.test('a BOOTP request gets a BOOTREPLY from the host declaration', async (t) => {
  if (!requireNetns(t)) return;
  const link = createLink(t, { subnet: 21, label: 'dhb' });
  execFileSync('ip', ['-n', link.client, 'link', 'set', link.clientIf, 'down']);
  execFileSync('ip', ['-n', link.client, 'link', 'set', link.clientIf, 'address', SLAVE_MAC]);
  execFileSync('ip', ['-n', link.client, 'link', 'set', link.clientIf, 'up']);
  execFileSync('ip', ['-n', link.client, 'route', 'add', 'default', 'dev', link.clientIf]);
  const dir = tempDir(t);
  const server = await startServer(t, link, dir, guide);
  // Malformed datagrams first: logged once (rate-limited), then the server goes on serving.
  const junk = await run(process.execPath, ['--input-type=module', '-e', JUNK_SENDER], { ns: link.client, timeoutMs: 20_000 });
  t.equal(junk.code, 0, junk.stderr);
  const r = await run(process.execPath, ['--input-type=module', '-e', BOOTP_CLIENT, SLAVE_MAC], { ns: link.client, cwd: repoRoot, timeoutMs: 20_000 });
  t.equal(r.code, 0, r.stdout + r.stderr);
  const reply = JSON.parse(r.stdout.trim());
  t.same(reply, { op: 2, yiaddr: '198.18.21.21', siaddr: '198.18.21.1', type: 'none', rootPath: '/diskless/198.18.21.21' });
  t.match(server.output(), `BOOTREPLY for 198.18.21.21 to ${SLAVE_MAC} via ${link.serverIf}`);
  t.equal(server.output().split('dropped a malformed datagram').length - 1, 1, 'fifty malformed datagrams, one log line');
  const leases = parseLeaseFile(readFileSync(join(dir, 'dhcpd.leases'), 'latin1')).leases;
  t.equal(leases.at(-1)?.end, Infinity, 'BOOTP lease is infinite');
});

const POOL = (n: number) => `
ddns-update-style none;
authoritative;
default-lease-time 3600;
max-lease-time 7200;
subnet 198.18.${n}.0 netmask 255.255.255.0 {
  range 198.18.${n}.10 198.18.${n}.250;
  option routers 198.18.${n}.1;
  option domain-name-servers 198.18.${n}.1;
}
`;

function perfdhcpSummary(text: string): { sent: number[]; received: number[]; drops: number[] } {
  const grab = (re: RegExp) => [...text.matchAll(re)].map((m) => Number(m[1]));
  return { sent: grab(/sent packets: (\d+)/g), received: grab(/received packets: (\d+)/g), drops: grab(/drops: (\d+)/g) };
}

t.test('perfdhcp (acting as a relay) completes DORA exchanges with no errors', async (t) => {
  const progs = requirePrograms(t, { perfdhcp: 'kea-admin' });
  if (!progs || !requireNetns(t)) return;
  const link = createLink(t, { subnet: 23, label: 'dhp' });
  const dir = tempDir(t);
  const server = await startServer(t, link, dir, POOL(23));
  // -W: wait 2 s after the last request so replies still in flight are not counted as drops.
  const r = await run(progs.perfdhcp, ['-4', '-r', '50', '-R', '100', '-n', '150', '-p', '10', '-W', '2000000', link.serverAddr], { ns: link.client, timeoutMs: 40_000 });
  const s = perfdhcpSummary(r.stdout);
  t.equal(r.code, 0, `perfdhcp exit status 0 (complete success):\n${r.stdout}\n${r.stderr}`);
  t.same(s.drops, [0, 0], 'no drops in DISCOVER-OFFER or REQUEST-ACK');
  t.ok(s.received[1] > 0 && s.received[1] === s.sent[1], `every REQUEST answered (${s.received[1]}/${s.sent[1]})`);
  t.match(server.output(), /DHCPACK on 198\.18\.23\.\d+ to [0-9a-f:]+ via 198\.18\.23\.2/, 'relayed exchanges logged via the relay');
});

t.test('kill -9 in the middle of a perfdhcp run loses no acknowledged lease', async (t) => {
  const progs = requirePrograms(t, { perfdhcp: 'kea-admin' });
  if (!progs || !requireNetns(t)) return;
  const link = createLink(t, { subnet: 26, label: 'dhk' });
  const dir = tempDir(t);
  const server = await startServer(t, link, dir, POOL(26));
  const load = run(progs.perfdhcp, ['-4', '-r', '400', '-R', '200', '-p', '8', link.serverAddr], { ns: link.client, timeoutMs: 40_000 });
  await server.waitForOutput((out) => out.split('DHCPACK on ').length > 150, '150 DHCPACK lines');
  await server.kill();
  const acked = new Map<string, string>();
  for (const m of server.output().matchAll(/DHCPACK on (\S+) to (\S+) via/g)) acked.set(m[1], m[2]);
  t.ok(acked.size > 0, `${acked.size} addresses were ACKed before the crash`);
  await load;
  const leasesPath = join(dir, 'dhcpd.leases');
  t.ok(existsSync(leasesPath));
  const again = start(t, process.execPath, [netbootCli, 'dhcp', '--config', join(dir, 'dhcpd.conf'), '--interface', link.serverIf, '--leases', leasesPath], { ns: link.server });
  const [, count] = await again.waitFor(/read (\d+) lease records/);
  t.ok(Number(count) >= acked.size, `restart reloaded ${count} records`);
  await again.waitFor(/netboot dhcp: serving on/);
  const final = new Map<number, { mac: string; state: string }>();
  for (const l of parseLeaseFile(readFileSync(leasesPath, 'latin1')).leases) final.set(l.ip, l);
  let lost = 0;
  for (const [ip, mac] of acked) {
    const l = final.get(parseIpv4(ip)!);
    if (!l || l.mac !== mac || l.state !== 'active') lost++;
  }
  t.equal(lost, 0, `every one of the ${acked.size} ACKed addresses is still leased to the same client`);
  // And the restarted server honours them: a DORA from the same clients gets the same addresses back.
  const r = await run(progs.perfdhcp, ['-4', '-r', '50', '-R', '200', '-n', '50', '-p', '5', '-W', '2000000', link.serverAddr], { ns: link.client, timeoutMs: 30_000 });
  let same = 0;
  let total = 0;
  for (const m of again.output().matchAll(/DHCPACK on (\S+) to (\S+) via/g)) {
    const before = [...acked].find(([, mac]) => mac === m[2]);
    if (!before) continue;
    total++;
    if (before[0] === m[1]) same++;
  }
  t.equal(same, total, `after restart, ${total} returning clients got their addresses back (perfdhcp exit ${r.code})`);
});

t.test('only --interface: a client on the master’s other interface gets nothing', async (t) => {
  const progs = requirePrograms(t, { udhcpc: 'udhcpc' });
  if (!progs || !requireNetns(t)) return;
  const link = createLink(t, { subnet: 24, label: 'dhi' });
  bareClient(link, '02:00:00:00:24:02');
  // The master's second interface, to another namespace (say, the internet side), with a network the config also declares.
  const other = createNetns(t, 'dhx');
  const tag = randomBytes(3).toString('hex');
  const [serverB, clientB] = [`xs${tag}`, `xc${tag}`];
  execFileSync('ip', ['link', 'add', serverB, 'netns', link.server, 'type', 'veth', 'peer', 'name', clientB, 'netns', other]);
  execFileSync('ip', ['-n', link.server, 'addr', 'add', '198.18.25.1/24', 'dev', serverB]);
  execFileSync('ip', ['-n', link.server, 'link', 'set', serverB, 'up']);
  execFileSync('ip', ['-n', other, 'link', 'set', clientB, 'address', '02:00:00:00:25:02']);
  execFileSync('ip', ['-n', other, 'link', 'set', clientB, 'up']);
  const dir = tempDir(t);
  const server = await startServer(t, link, dir, POOL(24) + POOL(25));
  const script = udhcpcScript(dir);
  const rogue = await run(progs.udhcpc, ['-i', clientB, '-f', '-q', '-n', '-t', '3', '-T', '1', '-s', script], { ns: other, timeoutMs: 20_000 });
  t.not(rogue.code, 0, 'the client on the other interface got no lease');
  t.notMatch(server.output(), /02:00:00:00:25:02/, 'its requests never reached the server');
  const ok = await run(progs.udhcpc, ['-i', link.clientIf, '-f', '-q', '-n', '-t', '5', '-T', '2', '-s', script], { ns: link.client, timeoutMs: 20_000 });
  t.equal(ok.code, 0, 'the client on --interface gets one');
  t.match(envFile(join(dir, 'udhcpc.bound')).serverid, '198.18.24.1', 'server identifier is the interface address');
});

// A PXE ROM's proxyDHCP exchange: DISCOVER broadcast to 67, then REQUEST unicast to the proxy's port 4011.
const PROXY_CLIENT = `
import dgram from 'node:dgram';
import { decode, encode, getOption, formatIpv4, fieldText } from '@netboot/dhcp-wire';
const [mac, ciaddr, server] = process.argv.slice(1);
const chaddr = Buffer.alloc(16);
Buffer.from(mac.split(':').map((h) => parseInt(h, 16))).copy(chaddr);
const ip = (s) => s.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const base = (type, xid, ci) => ({
  op: 1, htype: 1, hlen: 6, hops: 0, xid, secs: 0, flags: 0, ciaddr: ci, yiaddr: 0, siaddr: 0, giaddr: 0,
  chaddr, sname: Buffer.alloc(0), file: Buffer.alloc(0), cookie: true,
  options: [
    { code: 53, data: Buffer.from([type]) },
    { code: 60, data: Buffer.from('PXEClient:Arch:00000:UNDI:002001') },
    { code: 93, data: Buffer.from([0, 0]) },
    { code: 97, data: Buffer.alloc(17) },
  ],
});
const s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
const seen = [];
const timer = setTimeout(() => { console.log(JSON.stringify(seen)); process.exit(1); }, 8000);
s.on('message', (m, r) => {
  const d = decode(m);
  const v = getOption(d, 60);
  seen.push({ type: getOption(d, 53)?.[0], from: r.address + ':' + r.port, yiaddr: formatIpv4(d.yiaddr), siaddr: formatIpv4(d.siaddr), file: fieldText(d.file), vendor: v ? Buffer.from(v).toString() : null });
  if (d.xid === 1) s.send(encode(base(3, 2, ip(ciaddr))), 4011, server);
  if (d.xid === 2) { clearTimeout(timer); console.log(JSON.stringify(seen)); process.exit(0); }
});
s.bind(68, () => { s.setBroadcast(true); s.send(encode(base(1, 1, 0)), 67, '255.255.255.255'); });
`;

t.test('proxyDHCP: a PXE client gets its boot file on 67 and again from port 4011, and no address', async (t) => {
  if (!requireNetns(t)) return;
  const link = createLink(t, { subnet: 21, label: 'dhx' });
  execFileSync('ip', ['-n', link.client, 'route', 'add', 'default', 'dev', link.clientIf]);
  const dir = tempDir(t);
  const confPath = join(dir, 'dhcpd.conf');
  writeFileSync(confPath, guide);
  const server = start(t, process.execPath, [netbootCli, 'dhcp', '--proxy', '--config', confPath, '--interface', link.serverIf], { ns: link.server });
  await server.waitFor(/proxyDHCP on .* ports 67, 4011/);
  const r = await run(process.execPath, ['--input-type=module', '-e', PROXY_CLIENT, '02:00:00:00:21:99', link.clientAddr, link.serverAddr], { ns: link.client, cwd: repoRoot, timeoutMs: 20_000 });
  t.equal(r.code, 0, r.stdout + r.stderr);
  const [offer, ack] = JSON.parse(r.stdout.trim());
  t.same(offer, { type: 2, from: '198.18.21.1:67', yiaddr: '0.0.0.0', siaddr: '198.18.21.1', file: 'pxelinux.0', vendor: 'PXEClient' });
  t.same(ack, { type: 5, from: '198.18.21.1:4011', yiaddr: '0.0.0.0', siaddr: '198.18.21.1', file: 'pxelinux.0', vendor: 'PXEClient' });
  t.notOk(existsSync(join(dir, 'dhcpd.leases')), 'no lease file: proxyDHCP hands out no addresses');
});

t.test('a dhcpd.conf netboot cannot serve is refused with file:line:column and what to write instead', async (t) => {
  const dir = tempDir(t);
  const confPath = join(dir, 'bad.conf');
  writeFileSync(confPath, 'ddns-update-style none;\nsubnet 198.18.21.0 netmask 255.255.255.0 {\n  switch (option vendor-class-identifier) { }\n}\n');
  const r = await run(process.execPath, [netbootCli, 'dhcp', '--config', confPath, '--interface', 'lo'], { timeoutMs: 20_000 });
  t.equal(r.code, 1);
  t.match(r.stderr, `${confPath}:3:3: "switch": switch/case is not supported: write the same with if / elsif / else`);
});

t.test('dhclient renews (unicast to ciaddr) and releases against a short lease', async (t) => {
  const progs = requirePrograms(t, { dhclient: 'isc-dhcp-client' });
  if (!progs || !requireNetns(t)) return;
  const link = createLink(t, { subnet: 27, label: 'dhr' });
  bareClient(link, '02:00:00:00:27:02');
  const dir = tempDir(t);
  const server = await startServer(t, link, dir, POOL(27).replace('default-lease-time 3600;', 'default-lease-time 8;').replace('max-lease-time 7200;', 'max-lease-time 8;'));
  const script = join(dir, 'dhclient.sh');
  writeFileSync(script, `#!/bin/sh\ncase "$reason" in BOUND|RENEW) ip addr replace "$new_ip_address/$new_subnet_mask" dev "$interface";; esac\n`);
  chmodSync(script, 0o755);
  const args = ['-lf', join(dir, 'dhclient.leases'), '-pf', join(dir, 'dhclient.pid'), '-sf', script];
  const client = start(t, progs.dhclient, ['-1', '-d', '-v', ...args, link.clientIf], { ns: link.client });
  const [, addr] = await client.waitFor(/bound to (198\.18\.27\.\d+)/, 30_000);
  // T1 is half the 8 s lease: dhclient unicasts a REQUEST with ciaddr set, the ACK comes back to ciaddr.
  await client.waitFor(new RegExp(`DHCPREQUEST for ${addr.replace(/\./g, '\\.')} on \\S+ to 198\\.18\\.27\\.1 port 67`), 30_000);
  await client.waitFor(/bound to [^\n]*\n[^]*bound to /, 30_000);
  // The server logs "DHCPACK on" after sending it, so dhclient may say "bound" before that line is read here.
  const ack = `DHCPACK on ${addr.replace(/\./g, '\\.')} to 02:00:00:00:27:02`;
  await server.waitFor(new RegExp(`${ack}[^]*${ack}`), 10_000).catch(() => undefined);
  const acks = server.output().split(`DHCPACK on ${addr} to 02:00:00:00:27:02`).length - 1;
  t.ok(acks >= 2, `${acks} ACKs: the first and the renewal`);
  await client.stop();
  const release = await run(progs.dhclient, ['-r', '-v', ...args, link.clientIf], { ns: link.client, timeoutMs: 20_000 });
  t.equal(release.code, 0, release.stderr);
  await server.waitFor(new RegExp(`DHCPRELEASE of ${addr.replace(/\./g, '\\.')} from 02:00:00:00:27:02 via \\S+ \\(found\\)`), 10_000);
  const leases = parseLeaseFile(readFileSync(join(dir, 'dhcpd.leases'), 'latin1')).leases;
  t.equal(leases.at(-1)?.state, 'released', 'the release is on disk');
});

t.test("udhcpc as each kind of boot client gets its branch of the README's mixed BIOS/UEFI/iPXE/HTTPClient dhcpd.conf", async (t) => {
  const progs = requirePrograms(t, { udhcpc: 'udhcpc' });
  if (!progs || !requireNetns(t)) return;
  const link = createLink(t, { subnet: 0, label: 'dhm' });
  const dir = tempDir(t);
  const mixed = readFileSync(join(repoRoot, 'packages/dhcp-wire/test/fixtures/mixed-boot-dhcpd.conf'), 'utf8');
  await startServer(t, link, dir, mixed);
  const script = udhcpcScript(dir);
  // -x with a numeric code sends hex bytes: 0x5d is option 93 (client architecture), 0x4d option 77 (user class).
  const clients: [string, string, string[], string][] = [
    ['BIOS PXE ROM', '02:00:00:00:00:21', ['-V', 'PXEClient:Arch:00000:UNDI:002001', '-x', '0x5d:0000'], 'undionly.kpxe'],
    ['UEFI PXE x64', '02:00:00:00:00:22', ['-V', 'PXEClient:Arch:00007:UNDI:003016', '-x', '0x5d:0007'], 'ipxe.efi'],
    ['iPXE', '02:00:00:00:00:23', ['-V', 'PXEClient:Arch:00000:UNDI:002001', '-x', '0x5d:0000', '-x', `0x4d:${Buffer.from('iPXE').toString('hex')}`], 'http://198.18.0.1/boot.ipxe'],
    ['UEFI HTTP Boot', '52:54:00:00:00:0b', ['-V', 'HTTPClient:Arch:00016:UNDI:003001', '-x', '0x5d:0010'], 'http://198.18.0.1/ipxe.efi'],
    ['a plain client', '02:00:00:00:00:25', [], 'undionly.kpxe'],
  ];
  for (const [who, mac, args, file] of clients) {
    bareClient(link, mac);
    rmSync(join(dir, 'udhcpc.bound'), { force: true });
    const r = await run(progs.udhcpc, ['-i', link.clientIf, ...args, '-f', '-q', '-n', '-t', '5', '-T', '2', '-s', script, '-O', '60', '-O', '17'], { ns: link.client, timeoutMs: 30_000 });
    t.equal(r.code, 0, `${who}: udhcpc got a lease\n${r.stderr}`);
    const env = envFile(join(dir, 'udhcpc.bound'));
    t.equal(env.boot_file, file, `${who}: ${file}`);
    t.equal(env.siaddr, '198.18.0.1', `${who}: next-server`);
    if (who === 'UEFI HTTP Boot') {
      t.equal(env.vendor, 'HTTPClient', 'vendor class HTTPClient echoed (udhcpc names option 60 "vendor")');
      t.equal(env.ip, '198.18.0.11', 'the host declaration still applies');
      t.equal(env.rootpath, '/diskless/198.18.0.11');
    } else t.notOk(env.vendor, `${who}: no vendor class in the answer`);
  }
});
