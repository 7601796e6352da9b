import t from 'tap';
import { readFileSync } from 'node:fs';
import {
  parseConfig,
  resolve,
  matchingClasses,
  subnetFor,
  parseIpv4,
  ConfigError,
  decodeSubOptions,
  type DhcpMessage,
} from '@netboot/dhcp-wire';

const guide = readFileSync(new URL('./fixtures/gentoo-dhcpd.conf', import.meta.url), 'utf8');

function request(vendorClass?: string, arch?: number): DhcpMessage {
  const options = [{ code: 53, data: Buffer.from([1]) }];
  if (vendorClass) options.push({ code: 60, data: Buffer.from(vendorClass) });
  if (arch !== undefined) options.push({ code: 93, data: Buffer.from([arch >> 8, arch & 255]) });
  return {
    op: 1, htype: 1, hlen: 6, hops: 0, xid: 1, secs: 0, flags: 0, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0,
    chaddr: Buffer.alloc(16), sname: Buffer.alloc(64), file: Buffer.alloc(128), cookie: true, options,
  };
}

const opt = (eff: ReturnType<typeof resolve>, code: number) => eff.options.find((o) => o.code === code)?.data;

t.test("the Gentoo guide's dhcpd.conf parses and resolves per class and host", (t) => {
  const c = parseConfig(guide, 'gentoo-dhcpd.conf');
  t.equal(c.subnets.length, 1);
  t.equal(c.hosts.length, 1);
  t.equal(c.classes.length, 2);
  const host = c.hostsByMac.get('00:40:63:c2:ca:c9')![0];
  t.same(host.fixedAddresses, [parseIpv4('198.18.21.21')]);
  const subnet = subnetFor(c, host.fixedAddresses[0])!;
  t.ok(subnet);

  const pxe = request('PXEClient:Arch:00000:UNDI:002001');
  const classes = matchingClasses(c, subnet, host, pxe);
  t.same(classes.map((k) => k.name), ['pxeclient']);
  const eff = resolve(c, subnet, host, classes);
  t.equal(eff.filename, 'pxelinux.0');
  t.equal(eff.nextServer, parseIpv4('198.18.21.1'));
  t.same([...opt(eff, 3)!], [198, 18, 21, 1], 'routers');
  t.same([...opt(eff, 6)!], [198, 18, 21, 1], 'domain-name-servers');
  t.equal(Buffer.from(opt(eff, 15)!).toString(), 'mydomain.com');
  t.equal(Buffer.from(opt(eff, 17)!).toString(), '/diskless/198.18.21.21', 'root-path from the host');
  t.same([...opt(eff, 43)!], [1, 4, 0, 0, 0, 0], 'option 43 from the PXE vendor space, without an END, as dhcpd builds it');
  t.same(decodeSubOptions(opt(eff, 43)!, '43', 0).map((o) => o.code), [1]);

  const eb = resolve(c, subnet, host, matchingClasses(c, subnet, host, request('Etherboot-5.4')));
  t.equal(eb.filename, 'vmlinuz_arch');
  t.equal(opt(eb, 43), undefined, 'no PXE options for Etherboot');

  const plain = resolve(c, subnet, host, matchingClasses(c, subnet, host, request('udhcp 1.35.0')));
  t.equal(plain.filename, undefined);
  t.equal(Buffer.from(opt(plain, 17)!).toString(), '/diskless/198.18.21.21');
  t.end();
});

t.test('scoping: host (and its groups) > class > subnet > shared-network > global', (t) => {
  const c = parseConfig(`
    option domain-name "global";
    filename "g";
    default-lease-time 100;
    shared-network LAB {
      option domain-name "shared";
      filename "s";
      subnet 198.18.40.0 netmask 255.255.255.0 {
        option domain-name "subnet";
        range 198.18.40.10 198.18.40.20;
        class "uefi" {
          match if option pxe-system-type = 00:07;
          filename "ipxe.efi";
        }
        class "bios" {
          match if option pxe-system-type = 00:00;
          filename "undionly.kpxe";
        }
        group {
          option domain-name "group";
          default-lease-time 200;
          host a { hardware ethernet 02:00:00:00:00:0a; fixed-address 198.18.40.5; }
          host b { hardware ethernet 02:00:00:00:00:0b; filename "hostfile"; }
        }
      }
      subnet 198.18.41.0 netmask 255.255.255.0 { }
    }`);
  const s = c.subnets[0];
  const a = c.hostsByMac.get('02:00:00:00:00:0a')![0];
  const b = c.hostsByMac.get('02:00:00:00:00:0b')![0];
  const dn = (e: ReturnType<typeof resolve>) => Buffer.from(opt(e, 15)!).toString();
  t.equal(dn(resolve(c, undefined, undefined, [])), 'global');
  t.equal(dn(resolve(c, c.subnets[1], undefined, [])), 'shared');
  t.equal(resolve(c, c.subnets[1], undefined, []).filename, 's');
  t.equal(dn(resolve(c, s, undefined, [])), 'subnet');
  const ea = resolve(c, s, a, matchingClasses(c, s, a, request(undefined, 7)));
  t.equal(dn(ea), 'group');
  t.equal(ea.defaultLeaseTime, 200);
  t.equal(ea.filename, 'ipxe.efi', 'UEFI (arch 7) by option 93');
  t.equal(resolve(c, s, a, matchingClasses(c, s, a, request(undefined, 0))).filename, 'undionly.kpxe', 'BIOS (arch 0)');
  t.equal(resolve(c, s, b, matchingClasses(c, s, b, request(undefined, 7))).filename, 'hostfile', 'host beats class');
  t.equal(c.subnets[1].label, 'LAB', 'subnets in a shared-network are named by it');
  t.end();
});

t.test('user-defined spaces and types', (t) => {
  const c = parseConfig(`
    option space lab;
    option lab.ip code 1 = ip-address;
    option lab.u8 code 2 = unsigned integer 8;
    option lab.u16 code 3 = unsigned integer 16;
    option lab.u32 code 4 = unsigned integer 32;
    option lab.t code 5 = text;
    option lab.s code 6 = string;
    option lab.b code 7 = boolean;
    option lab.a code 8 = array of ip-address;
    option my-option code 200 = array of unsigned integer 16;
    vendor-option-space lab;
    option lab.ip 198.18.0.1; option lab.u8 7; option lab.u16 513; option lab.u32 65536;
    option lab.t "hi"; option lab.s 01:02:ff; option lab.b true; option lab.a 198.18.0.1, 198.18.0.2;
    option my-option 1, 2, 3;
    subnet 198.18.50.0 netmask 255.255.255.0 { }`);
  const e = resolve(c, c.subnets[0], undefined, []);
  t.same(Buffer.from(opt(e, 200)!).toString('hex'), '000100020003');
  t.same(
    Buffer.from(opt(e, 43)!).toString('hex'),
    ['0104c6120001', '020107', '03020201', '040400010000', '05026869', '060301' + '02ff', '070101', '0808c6120001c6120002'].join(''),
  );
  t.end();
});

t.test('errors name file:line:column and what to do', (t) => {
  const cases: [string, RegExp][] = [
    ['option routers 198.18.0.1\nfilename "a";', /^x\.conf:2:1: expected ";"/],
    ['frobnicate 1;', /^x\.conf:1:1: "frobnicate" is not a dhcpd.conf statement netboot knows/],
    ['option domain-name prolo.example;', /^x\.conf:1:20: write prolo\.example in double quotes/],
    ['host a { hardware token-ring 00:11:22:33:44:55; }', /^x\.conf:1:19: hardware token-ring: netboot serves Ethernet clients only/],
    ['switch (option user-class) { }', /^x\.conf:1:1: "switch": switch\/case is not supported: write the same with if \/ elsif \/ else/],
    ['option space foo code width 2;', /^x\.conf:1:18: option space foo: code width 2 is not supported/],
    ['subnet 198.18.1.0 netmask 255.255.255.0 { pool { range 198.18.1.5 198.18.1.9; allow members of "nope"; } }', /^x\.conf:1:96: no class "nope" is declared before this pool/],
    ['on commit { execute("hook.sh"); }', /^x\.conf:1:13: execute\("hook\.sh", \.\.\.\): give the program's absolute path/],
    ['subnet 198.18.1.0 netmask 255.255.255.0 {\n  range 198.18.2.1 198.18.2.9;\n}', /^x\.conf:2:3: range address 198\.18\.2\.1 is outside subnet/],
    ['option foo 1;', /^x\.conf:1:8: unknown option "foo"; define it first/],
    ['option PXE2.x code 1 = ip-address;', /^x\.conf:1:8: option space "PXE2" is not declared/],
    ['subnet 198.18.1.0 netmask 255.255.255.0 {', /^x\.conf:1:42: the subnet block opened at line 1 is not closed: add "}"/],
    ['host a { hardware ethernet 00:11; }', /^x\.conf:1:28: expected a MAC address/],
    ['class "x" { filename "a"; }', /^x\.conf:1:1: class "x" has no "match if/],
    ['option routers 1.2.3;', /^x\.conf:1:16: expected an IPv4 address or a host name/],
    ['option domain-name "unterminated;', /^x\.conf:1:20: string is not closed/],
    ['option subnet-mask 255.255.255.0 extra;', /^x\.conf:1:34: expected ";"/],
    ['pool { range 198.18.1.1; }', /^x\.conf:1:1: "pool" is not allowed inside a global scope; it belongs in subnet or shared-network/],
  ];
  for (const [text, re] of cases) {
    let err: unknown;
    try {
      parseConfig(text, 'x.conf');
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof ConfigError, `${text} → ConfigError`);
    t.match((err as Error)?.message, re);
  }
  t.end();
});
