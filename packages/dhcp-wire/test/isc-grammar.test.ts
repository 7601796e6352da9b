import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigError,
  HookRunner,
  LeasePolicy,
  decode,
  describeIgnored,
  encode,
  formatIpv4,
  getOption,
  loadConfigFile,
  parseConfig,
  parseIpv4,
  resolveConfigNames,
  type DhcpMessage,
  type HookAction,
  type Incoming,
  type Link,
} from '@netboot/dhcp-wire';

/*
 * The ISC dhcpd.conf grammar beyond the boot basics: what has no effect is
 * listed, includes, pools with permit lists, groups holding subnets, host
 * names, infinite leases, site option spaces, expressions as values,
 * ping-check, min-lease-time, ignore-client-uids, set and lease hooks.
 */

const ip = (s: string) => parseIpv4(s)!;
const eth0: Link = { name: 'eth0', address: ip('198.18.60.1'), network: ip('198.18.60.0'), mask: ip('255.255.255.0') };
const KNOWN = '020000000001';
const OTHER = '020000000099';

function msg(type: number, mac: string, extra: { code: number; data: number[] | Buffer }[] = []): DhcpMessage {
  const chaddr = Buffer.alloc(16);
  Buffer.from(mac, 'hex').copy(chaddr);
  const options = [{ code: 53, data: Buffer.from([type]) }];
  for (const e of extra) options.push({ code: e.code, data: Buffer.from(e.data) });
  return {
    op: 1, htype: 1, hlen: 6, hops: 0, xid: 7, secs: 0, flags: 0, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0,
    chaddr, sname: Buffer.alloc(64), file: Buffer.alloc(128), cookie: true, options,
  };
}
const inc = (m: DhcpMessage): Incoming => ({ msg: decode(encode(m)), via: eth0, from: { address: 0, port: 68 }, localPort: 67 });
const ipb = (s: string) => [...Buffer.from(s.split('.').map(Number))];
const text = (d: Uint8Array | undefined) => (d ? Buffer.from(d).toString('latin1') : undefined);

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'isc-grammar-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function dora(p: LeasePolicy, mac: string, extra: { code: number; data: number[] | Buffer }[] = [], now = 1000) {
  const offer = p.handle(inc(msg(1, mac, extra)), now);
  if (!offer.reply) return { offer, ack: undefined };
  const yi = formatIpv4(offer.reply.msg.yiaddr);
  const ack = p.handle(inc(msg(3, mac, [...extra, { code: 50, data: ipb(yi) }, { code: 54, data: ipb('198.18.60.1') }])), now + 1);
  return { offer, ack };
}

t.test('statements with no effect are read and listed once per kind with file:line and why', (t) => {
  const c = parseConfig(
    `log-facility local7;
ddns-update-style interim;
ddns-update-style none;
ignore client-updates;
update-static-leases on;
update-conflict-detection false;
one-lease-per-client true;
key DHCP_UPDATER { algorithm hmac-md5; secret "c2VjcmV0"; }
zone example.org. { primary 127.0.0.1; key DHCP_UPDATER; }
failover peer "dhcp" { primary; address 198.18.60.1; port 647; peer address 198.18.60.2; peer port 647; mclt 3600; split 128; }
subnet 198.18.60.0 netmask 255.255.255.0 { log-facility local6; }`,
    'a.conf',
  );
  const lines = describeIgnored(c);
  t.match(lines[0], /^a\.conf:1: log-facility \(and 1 more\): read, has no effect here, because netboot writes its log to standard output/);
  t.match(lines[1], /^a\.conf:2: ddns-update-style: read, has no effect here, because netboot makes no dynamic DNS updates/);
  t.ok(lines.some((l) => l.startsWith('a.conf:4: ignore client-updates: read, has no effect here')));
  t.ok(lines.some((l) => l.startsWith('a.conf:8: key: read, has no effect here')));
  t.ok(lines.some((l) => /^a\.conf:10: failover peer: read, has no effect here, because netboot masters share leases through the PostgreSQL lease store/.test(l)));
  t.equal(lines.filter((l) => l.includes('ddns-update-style')).length, 1, '"none" is what netboot does anyway: not listed');
  t.equal(c.subnets.length, 1, 'what follows the skipped blocks is read');
  t.end();
});

t.test('include reads the file in place, relative to the including file; a cycle is refused', (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'conf.d'));
  writeFileSync(join(dir, 'main.conf'), 'include "conf.d/nets.conf";\n');
  writeFileSync(join(dir, 'conf.d/nets.conf'), 'subnet 198.18.60.0 netmask 255.255.255.0 {\n  include "hosts.conf";\n}\n');
  writeFileSync(join(dir, 'conf.d/hosts.conf'), 'host n1 { hardware ethernet 02:00:00:00:00:01; fixed-address 198.18.60.11; }\n');
  const c = parseConfig('include "conf.d/nets.conf";\n', join(dir, 'main.conf'));
  t.equal(c.hosts[0].name, 'n1');
  t.equal(c.hosts[0].scope.parent?.kind, 'subnet', 'the included host is inside the subnet that included it');
  t.same(c.files.map((f) => f.slice(dir.length + 1)), ['main.conf', 'conf.d/nets.conf', 'conf.d/hosts.conf']);
  writeFileSync(join(dir, 'conf.d/hosts.conf'), 'include "nets.conf";\n');
  t.throws(() => parseConfig('include "conf.d/nets.conf";\n', join(dir, 'main.conf')), /conf\.d\/hosts\.conf:1:1: include "nets\.conf" includes a file that is already being read/);
  t.throws(() => parseConfig('include "missing.conf";', join(dir, 'main.conf')), /main\.conf:1:1: cannot read included file .*missing\.conf/);
  t.end();
});

t.test('pools: permit lists decide who gets which addresses; pool statements apply to its addresses', (t) => {
  const c = parseConfig(`
    class "pxe" { match if substring(option vendor-class-identifier, 0, 9) = "PXEClient"; }
    subnet 198.18.60.0 netmask 255.255.255.0 {
      pool { range 198.18.60.100 198.18.60.100; allow members of "pxe"; filename "pxelinux.0"; }
      pool { range 198.18.60.150 198.18.60.150; deny known-clients; failover peer "x"; }
      pool { range 198.18.60.200 198.18.60.200; allow known clients; }
      host n1 { hardware ethernet 02:00:00:00:00:01; }
    }`);
  const pxe = { code: 60, data: Buffer.from('PXEClient:Arch:00000:UNDI:002001') };
  const p = new LeasePolicy(c);
  const a = dora(p, OTHER, [pxe]);
  t.equal(formatIpv4(a.ack!.reply!.msg.yiaddr), '198.18.60.100', 'a PXE client: the pxe pool');
  t.equal(text(a.ack!.reply!.msg.file.subarray(0, 10)), 'pxelinux.0', "the pool's filename");
  t.equal(formatIpv4(dora(p, '020000000098').ack!.reply!.msg.yiaddr), '198.18.60.150', 'an unknown plain client: the pool that denies known clients');
  const k = dora(p, KNOWN);
  t.equal(formatIpv4(k.ack!.reply!.msg.yiaddr), '198.18.60.200', 'the known host: the pool that allows known clients');
  t.equal(k.ack!.reply!.msg.file.length, 0, 'no pool filename outside the pxe pool');
  t.notOk(dora(p, '020000000097').offer.reply, 'another unknown plain client: no pool left for it');
  t.end();
});

t.test('a group holds subnets and shared-networks; infinite and min lease times', (t) => {
  const c = parseConfig(`
    default-lease-time -1;
    group {
      max-lease-time infinite;
      shared-network lab { subnet 198.18.60.0 netmask 255.255.255.0 { range 198.18.60.10 198.18.60.20; } }
    }
    group { subnet 198.18.61.0 netmask 255.255.255.0 { min-lease-time 3000; default-lease-time 600; max-lease-time 7200; range 198.18.61.10 198.18.61.20; } }`);
  t.equal(c.subnets.length, 2);
  t.equal(c.subnets[0].label, 'lab');
  const p = new LeasePolicy(c);
  const { ack } = dora(p, OTHER);
  t.equal(Buffer.from(getOption(ack!.reply!.msg, 51)!).readUInt32BE(0), 0x7fffffff - 1, 'an infinite lease, told as lasting until 2^31 - 1 s, as dhcpd tells it');
  t.equal(ack!.commit!.end, Infinity);
  t.notOk(getOption(ack!.reply!.msg, 58), 'no renewal time for a lease without end');
  const via61: Link = { name: 'eth1', address: ip('198.18.61.1'), network: ip('198.18.61.0'), mask: ip('255.255.255.0') };
  const o = p.handle({ ...inc(msg(1, OTHER, [{ code: 51, data: [0, 0, 0, 60] }])), via: via61 }, 1000);
  t.equal(getOption(o.reply!.msg, 51)!.length === 4 && Buffer.from(getOption(o.reply!.msg, 51)!).readUInt32BE(0), 3000, 'a 60 s request is raised to min-lease-time');
  t.end();
});

t.test('host names where addresses go are resolved when loaded; one that does not resolve names file:line:col', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'dhcpd.conf');
  writeFileSync(
    file,
    'next-server localhost;\noption domain-name-servers 198.18.60.1, localhost;\nsubnet 198.18.60.0 netmask 255.255.255.0 {\n  host n1 { hardware ethernet 02:00:00:00:00:01; fixed-address localhost; }\n}\n',
  );
  const c = await loadConfigFile(file, { lookup: async (n) => (n === 'localhost' ? '198.18.60.7' : Promise.reject(Object.assign(new Error('x'), { code: 'ENOTFOUND' }))) });
  t.same(c.hosts[0].fixedAddresses.map(formatIpv4), ['198.18.60.7']);
  const { ack } = dora(new LeasePolicy(c), KNOWN);
  t.equal(formatIpv4(ack!.reply!.msg.siaddr), '198.18.60.7');
  t.same([...getOption(ack!.reply!.msg, 6)!], [198, 18, 60, 1, 198, 18, 60, 7]);
  const real = await loadConfigFile(file);
  t.equal(formatIpv4(real.hosts[0].fixedAddresses[0]), '127.0.0.1', 'node:dns lookup reads /etc/hosts');
  const bad = parseConfig('subnet 198.18.60.0 netmask 255.255.255.0 {\n  next-server boot-server.invalid;\n}', 'b.conf');
  t.throws(() => new LeasePolicy(bad), /b\.conf:2:15: the host name "boot-server\.invalid" is not resolved yet/);
  const err = await resolveConfigNames(bad, async () => Promise.reject(Object.assign(new Error('x'), { code: 'ENOTFOUND' }))).catch((e) => e);
  t.ok(err instanceof ConfigError);
  t.match(err.message, /^b\.conf:2:15: the host name "boot-server\.invalid" does not resolve \(ENOTFOUND\): write its IPv4 address/);
});

t.test('site-option-space: PXELINUX options by their own codes; unquoted text; expressions as values', (t) => {
  const c = parseConfig(`
    option space pxelinux code width 1 length width 1 hash size 2;
    option pxelinux.magic code 208 = string;
    option pxelinux.reboottime code 211 = unsigned integer 32;
    site-option-space "pxelinux";
    option pxelinux.magic f1:00:74:7e;
    option pxelinux.reboottime 30;
    option domain-name lab;
    subnet 198.18.60.0 netmask 255.255.255.0 {
      range 198.18.60.10 198.18.60.20;
      option host-name = concat("n", binary-to-ascii(16, 8, "-", substring(hardware, 5, 2)));
      filename = concat("pxe/", option vendor-class-identifier);
      option root-path = concat("/srv/nfs/", binary-to-ascii(10, 8, ".", leased-address));
    }`);
  const p = new LeasePolicy(c);
  const { ack } = dora(p, '0200000000a1', [{ code: 60, data: Buffer.from('X') }, { code: 55, data: [1, 12, 15, 17, 208, 211] }]);
  const r = ack!.reply!.msg;
  t.same([...getOption(r, 208)!], [0xf1, 0, 0x74, 0x7e], 'pxelinux.magic as option 208');
  t.same([...getOption(r, 211)!], [0, 0, 0, 30]);
  t.equal(text(getOption(r, 15)), 'lab');
  t.equal(text(getOption(r, 12)), 'n0-a1', 'binary-to-ascii writes no leading zeros, as dhcpd');
  t.equal(text(r.file.subarray(0, 5)), 'pxe/X');
  t.equal(text(getOption(r, 17)), `/srv/nfs/${formatIpv4(r.yiaddr)}`, 'leased-address is the address being acked');
  t.end();
});

t.test('ping-check asks for a probe of new addresses only; abandon moves the offer on', (t) => {
  const c = parseConfig('ping-check true; ping-timeout 2;\nsubnet 198.18.60.0 netmask 255.255.255.0 { range 198.18.60.10 198.18.60.11; host n1 { hardware ethernet 02:00:00:00:00:01; fixed-address 198.18.60.5; } }');
  const p = new LeasePolicy(c);
  const o = p.handle(inc(msg(1, OTHER)), 1000);
  t.same(o.probe, { ip: ip('198.18.60.10'), timeoutMs: 2000 });
  p.abandon(ip('198.18.60.10'), 1001);
  const again = p.handle(inc(msg(1, OTHER)), 1002);
  t.equal(formatIpv4(again.reply!.msg.yiaddr), '198.18.60.11');
  t.notOk(p.handle(inc(msg(1, KNOWN)), 1003).probe, 'a fixed address is not probed');
  t.end();
});

t.test('ignore-client-uids keys leases by hardware address', (t) => {
  const c = parseConfig('ignore-client-uids true;\nsubnet 198.18.60.0 netmask 255.255.255.0 { range 198.18.60.10 198.18.60.20; }');
  const p = new LeasePolicy(c);
  const first = dora(p, OTHER, [{ code: 61, data: [1, 2, 3] }]);
  const second = dora(p, OTHER, [{ code: 61, data: [9, 9, 9] }], 2000);
  t.equal(second.ack!.reply!.msg.yiaddr, first.ack!.reply!.msg.yiaddr, 'another client identifier, same MAC: the same lease');
  t.equal(first.ack!.commit!.client, `01${OTHER}`);
  t.end();
});

t.test('set and on commit/release: hooks become actions with their arguments evaluated', (t) => {
  const c = parseConfig(`
    subnet 198.18.60.0 netmask 255.255.255.0 {
      range 198.18.60.10 198.18.60.20;
      set vc = option vendor-class-identifier;
      on commit {
        set clip = binary-to-ascii(10, 8, ".", leased-address);
        execute("/bin/echo", "commit", clip, vc);
        log(info, concat("committed ", clip));
      }
      on release or expiry { if known { execute("/bin/false"); } else { execute("/bin/echo", "gone", binary-to-ascii(10, 8, ".", leased-address)); } }
    }`);
  const p = new LeasePolicy(c);
  const { ack } = dora(p, OTHER, [{ code: 60, data: Buffer.from('PXEClient') }]);
  const yi = formatIpv4(ack!.reply!.msg.yiaddr);
  t.same(ack!.hooks, [
    { kind: 'execute', program: '/bin/echo', args: ['commit', yi, 'PXEClient'], where: 'dhcpd.conf:7:9' },
    { kind: 'log', line: `committed ${yi}` },
  ]);
  const rel = msg(7, OTHER);
  rel.ciaddr = ack!.reply!.msg.yiaddr;
  const r = p.handle(inc(rel), 5000);
  t.same(r.hooks, [{ kind: 'execute', program: '/bin/echo', args: ['gone', yi], where: 'dhcpd.conf:10:73' }]);
  t.end();
});

t.test('HookRunner runs programs without a shell, logs their output, and bounds time and number', async (t) => {
  const lines: string[] = [];
  const runner = new HookRunner({ log: (l) => lines.push(l), timeoutMs: 500, concurrency: 1, queueLimit: 1 });
  const act = (args: string[], program = '/bin/echo'): HookAction => ({ kind: 'execute', program, args, where: 'x.conf:1:1' });
  runner.run([act(['a;', 'echo', 'no-shell']), act(['second']), act(['dropped'])]);
  await runner.settled();
  t.ok(lines.some((l) => l.endsWith('exit 0: a; echo no-shell')), 'the arguments reach the program as they are');
  t.ok(lines.some((l) => l.endsWith('exit 0: second')), 'the queued one ran after the first');
  t.ok(lines.some((l) => l.includes('execute("/bin/echo") not run: 1 hooks running and 1 waiting (1 dropped so far)')), 'beyond the queue: dropped, said');
  lines.length = 0;
  runner.run([act(['5'], '/bin/sleep')]);
  await runner.settled();
  t.match(lines[0], /execute\("\/bin\/sleep", "5"\): killed after 500 ms/);
});
