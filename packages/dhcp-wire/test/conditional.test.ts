import t from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import {
  ConfigError,
  LeasePolicy,
  decode,
  encode,
  evalBoolean,
  getOption,
  matchingClasses,
  parseConfig,
  parseIpv4,
  resolve,
  type BoolExpr,
  type DataExpr,
  type DhcpConfig,
  type DhcpMessage,
  type Incoming,
  type NumExpr,
} from '@netboot/dhcp-wire';

const ip = (s: string) => parseIpv4(s)!;
const eth0 = { name: 'eth0', address: ip('198.18.30.1'), network: ip('198.18.30.0'), mask: ip('255.255.255.0') };

interface ClientOptions {
  vendorClass?: string;
  userClass?: string;
  arch?: number;
  mac?: string;
  extra?: { code: number; data: Buffer }[];
}

function packet(c: ClientOptions = {}): DhcpMessage {
  const chaddr = Buffer.alloc(16);
  Buffer.from((c.mac ?? '02:00:00:00:00:01').replaceAll(':', ''), 'hex').copy(chaddr);
  const options: { code: number; data: Uint8Array }[] = [{ code: 53, data: Buffer.from([1]) }];
  if (c.arch !== undefined) options.push({ code: 93, data: Buffer.from([c.arch >> 8, c.arch & 255]) });
  if (c.vendorClass !== undefined) options.push({ code: 60, data: Buffer.from(c.vendorClass) });
  if (c.userClass !== undefined) options.push({ code: 77, data: Buffer.from(c.userClass) });
  for (const e of c.extra ?? []) options.push(e);
  return {
    op: 1, htype: 1, hlen: 6, hops: 0, xid: 9, secs: 0, flags: 0, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0,
    chaddr, sname: Buffer.alloc(64), file: Buffer.alloc(128), cookie: true, options,
  };
}

/** What the client would be told, through the same path the server takes: subnet, host by MAC, classes, statements. */
function answer(config: DhcpConfig, c: ClientOptions = {}) {
  const msg = packet(c);
  const subnet = config.subnets[0];
  const mac = (c.mac ?? '02:00:00:00:00:01').toLowerCase();
  const host = config.hostsByMac.get(mac)?.[0];
  return resolve(config, subnet, host, matchingClasses(config, subnet, host, msg), msg);
}

const text = (d: Uint8Array | undefined) => (d ? Buffer.from(d).toString('latin1') : undefined);
const opt = (e: ReturnType<typeof resolve>, code: number) => text(e.options.find((o) => o.code === code)?.data);

const BIOS = { arch: 0, vendorClass: 'PXEClient:Arch:00000:UNDI:002001' };
const UEFI = { arch: 7, vendorClass: 'PXEClient:Arch:00007:UNDI:003016' };
const IPXE = { arch: 0, vendorClass: 'PXEClient:Arch:00000:UNDI:002001', userClass: 'iPXE' };
const HTTP = { arch: 16, vendorClass: 'HTTPClient:Arch:00016:UNDI:003001' };

t.test('the iPXE chainloading idiom: iPXE gets the URL, the ROM gets undionly.kpxe', (t) => {
  const c = parseConfig(`
    subnet 198.18.30.0 netmask 255.255.255.0 {
      range 198.18.30.10 198.18.30.20;
      if exists user-class and option user-class = "iPXE" {
        filename "http://198.18.30.1/boot.ipxe";
      } else {
        filename "undionly.kpxe";
      }
    }`);
  t.ok(c.conditional);
  t.equal(answer(c, IPXE).filename, 'http://198.18.30.1/boot.ipxe');
  t.equal(answer(c, BIOS).filename, 'undionly.kpxe');
  t.equal(answer(c, {}).filename, 'undionly.kpxe', 'no user class: else');
  t.equal(answer(c, { userClass: 'iPXEx' }).filename, 'undionly.kpxe', 'equality is whole-value');
  t.end();
});

t.test('elsif, else if and else pick the first true branch, by option 93 under every name', (t) => {
  const c = parseConfig(`
    option arch code 93 = unsigned integer 16;
    subnet 198.18.30.0 netmask 255.255.255.0 {
      if option arch = 00:07 or option arch = 00:09 {
        filename "ipxe.efi";
      } elsif option pxe-system-type = 00:00 {
        filename "undionly.kpxe";
      } else if option client-architecture = 00:10 {
        filename "http://198.18.30.1/ipxe.efi";
      } else {
        filename "none";
      }
    }`);
  t.equal(answer(c, UEFI).filename, 'ipxe.efi');
  t.equal(answer(c, { arch: 9 }).filename, 'ipxe.efi');
  t.equal(answer(c, BIOS).filename, 'undionly.kpxe');
  t.equal(answer(c, HTTP).filename, 'http://198.18.30.1/ipxe.efi');
  t.equal(answer(c, {}).filename, 'none');
  t.end();
});

t.test('within a scope statements run in order: a later one overrides, an if only when its branch runs', (t) => {
  const c = parseConfig(`
    subnet 198.18.30.0 netmask 255.255.255.0 {
      filename "first";
      if exists user-class { filename "from-if"; option domain-name "ipxe.lab"; }
      option domain-name "plain.lab";
      if option user-class = "iPXE" { next-server 198.18.30.9; }
    }`);
  const e = answer(c, IPXE);
  t.equal(e.filename, 'from-if', 'the if after "first" wins when it runs');
  t.equal(opt(e, 15), 'plain.lab', 'the option after the if wins over the one inside it');
  t.equal(e.nextServer, ip('198.18.30.9'));
  const p = answer(c, BIOS);
  t.equal(p.filename, 'first');
  t.equal(p.nextServer, undefined);
  t.end();
});

t.test("scopes run outer to inner as dhcpd's ack_lease runs them: subnet, classes (first declared wins), host's groups, host", (t) => {
  const c = parseConfig(`
    filename "global";
    if exists user-class { option domain-name "global-if"; }
    class "uefi" { match if option pxe-system-type = 00:07; filename "uefi-class"; option domain-name "uefi-class"; }
    class "pxe" { match if substring(option vendor-class-identifier, 0, 9) = "PXEClient"; filename "pxe-class"; }
    subnet 198.18.30.0 netmask 255.255.255.0 {
      if exists user-class { filename "subnet-if"; }
      group {
        option root-path "group";
        if option user-class = "iPXE" { option root-path "group-ipxe"; }
        host h { hardware ethernet 02:00:00:00:00:0h; }
      }
      group {
        if exists vendor-class-identifier { filename "group-of-host"; }
        host g {
          hardware ethernet 02:00:00:00:00:0b;
          if option user-class = "iPXE" { filename "host-ipxe"; }
        }
      }
    }`.replace('0h', '0a'));
  t.equal(answer(c, UEFI).filename, 'uefi-class', 'both classes match: the first declared has the last word (dhcpd runs them last to first)');
  t.equal(answer(c, BIOS).filename, 'pxe-class');
  t.equal(answer(c, { userClass: 'x' }).filename, 'subnet-if', 'no class: the subnet if');
  t.equal(opt(answer(c, { userClass: 'x' }), 15), 'global-if');
  t.equal(opt(answer(c, { ...UEFI, userClass: 'x' }), 15), 'uefi-class', 'class beats global');
  const a = { mac: '02:00:00:00:00:0a' };
  t.equal(opt(answer(c, { ...a, ...IPXE }), 17), 'group-ipxe', 'an if in the group around a host');
  t.equal(opt(answer(c, { ...a, ...BIOS }), 17), 'group');
  const b = { mac: '02:00:00:00:00:0b' };
  t.equal(answer(c, { ...b, ...IPXE }).filename, 'host-ipxe', 'host beats class');
  t.equal(answer(c, { ...b, ...BIOS }).filename, 'group-of-host', "the host's group beats the class");
  t.end();
});

t.test('expressions evaluate as dhcp-eval(5) says, nulls included', (t) => {
  const cases: [string, ClientOptions, boolean][] = [
    ['substring(option vendor-class-identifier, 0, 10) = "HTTPClient"', HTTP, true],
    ['substring(option vendor-class-identifier, 0, 10) = "HTTPClient"', BIOS, false],
    ['substring(option vendor-class-identifier, 0, 10) = "HTTPClient"', {}, false],
    ['substring(option vendor-class-identifier, 100, 3) = ""', BIOS, true],
    ['suffix(option vendor-class-identifier, 6) = "003001"', HTTP, true],
    ['suffix(option vendor-class-identifier, 600) = option vendor-class-identifier', HTTP, true],
    ['option vendor-class-identifier != "x"', HTTP, true],
    ['option vendor-class-identifier != "x"', {}, true],
    ['option user-class = option vendor-class-identifier', {}, true],
    ['not exists user-class', BIOS, true],
    ['not exists user-class', IPXE, false],
    ['exists user-class and option user-class = "iPXE"', IPXE, true],
    ['(exists user-class) and (option user-class = "iPXE")', BIOS, false],
    ['not (exists user-class and option user-class = "iPXE")', BIOS, false],
    ['not (option user-class = "iPXE")', BIOS, true],
    ['exists user-class or option pxe-system-type = 00:07', UEFI, true],
    ['option pxe-system-type = 00:07 or exists user-class', BIOS, false],
    ['extract-int(option pxe-system-type, 16) = 7', UEFI, true],
    ['extract-int(option pxe-system-type, 16) = 16', HTTP, true],
    ['extract-int(option pxe-system-type, 8) = 0', UEFI, true],
    ['extract-int(option pxe-system-type, 32) = 7', UEFI, false],
    ['encode-int(7, 16) = option pxe-system-type', UEFI, true],
    ['concat(option user-class, "-", 41) = "iPXE-A"', IPXE, true],
    ['lcase(option user-class) = "ipxe"', IPXE, true],
    ['ucase(option user-class) = "IPXE"', IPXE, true],
    ['pick-first-value(option user-class, "none") = "none"', BIOS, true],
    ['hardware = 01:02:00:00:00:00:01', BIOS, true],
    ['known', BIOS, false],
    ['option agent.circuit-id = "port7"', { extra: [{ code: 82, data: Buffer.from('\x01\x05port7', 'latin1') }] }, true],
    ['exists agent.remote-id', { extra: [{ code: 82, data: Buffer.from('\x01\x05port7', 'latin1') }] }, false],
    ['exists agent.circuit-id', { extra: [{ code: 82, data: Buffer.from([1, 9, 0]) }] }, false],
  ];
  for (const [expr, client, want] of cases) {
    const c = parseConfig(`subnet 198.18.30.0 netmask 255.255.255.0 { if ${expr} { filename "yes"; } else { filename "no"; } }`);
    t.equal(answer(c, client).filename, want ? 'yes' : 'no', `${expr} for ${JSON.stringify(client)}`);
  }
  t.end();
});

t.test('match if takes the whole expression language; known is the host declaration', (t) => {
  const c = parseConfig(`
    class "ipxe-uefi" { match if exists user-class and option user-class = "iPXE" and option pxe-system-type = 00:07; filename "x.efi"; }
    class "known-pxe" { match if known and substring(option vendor-class-identifier, 0, 9) = "PXEClient"; filename "known.0"; }
    subnet 198.18.30.0 netmask 255.255.255.0 { host k { hardware ethernet 02:00:00:00:00:0c; } }`);
  t.equal(answer(c, { ...UEFI, userClass: 'iPXE' }).filename, 'x.efi');
  t.equal(answer(c, UEFI).filename, undefined);
  t.equal(answer(c, { ...BIOS, mac: '02:00:00:00:00:0c' }).filename, 'known.0');
  t.equal(answer(c, BIOS).filename, undefined);
  t.end();
});

t.test('errors in conditionals name file:line:column and what to write', (t) => {
  const cases: [string, RegExp][] = [
    ['if exists user-class { filename "a"; ', /^x\.conf:1:38: the if block opened at line 1 is not closed/],
    ['if exists nosuch { }', /^x\.conf:1:11: unknown option "nosuch"/],
    ['if option user-class { }', /^x\.conf:1:4: this is a data expression where a condition is needed/],
    ['if option pxe-system-type = 7 { }', /^x\.conf:1:29: option pxe-system-type is always a multiple of 2 bytes, so comparing it with 1 byte is never true \(write 00:07 for 7\)/],
    ['option arch code 93 = unsigned integer 16;\nif option arch = 00:00:07 { }', /^x\.conf:2:18: option arch is always 2 bytes/],
    ['if extract-int(option pxe-system-type, 16) = "x" { }', /^x\.conf:1:46: a numeric expression is compared with a data one/],
    ['if regex(option user-class, "x") { }', /^x\.conf:1:4: the function "regex" is not one netboot reads \(user-defined functions are not supported/],
    ['if option user-class ~= ( { }', /^x\.conf:1:25: expected a regular expression in double quotes/],
    ['if exists user-class { host a { } }', /^x\.conf:1:24: "host" cannot be inside an if block/],
    ['if exists user-class { option space foo; }', /^x\.conf:1:31: option spaces and option definitions cannot be inside an if block/],
    ['if exists user-class { authoritative; }', /^x\.conf:1:24: "authoritative" cannot be inside an if block/],
    ['else { }', /^x\.conf:1:1: "else" without an if before it/],
    ['if exists user-class { } elsif { }', /^x\.conf:1:32: expected an expression but found "\{"/],
    ['if substring(option user-class, 0) = "a" { }', /^x\.conf:1:34: expected ","/],
    ['if exists PXE.mtftp-ip { }', /^x\.conf:1:11: PXE\.mtftp-ip is not in the client's packet/],
    ['if option user-class = 123 { }', /^x\.conf:1:24: 123 is read as hex bytes here/],
    ['class "c" { match option user-class; }', /^x\.conf:1:19: "match EXPRESSION;" spawns a subclass per value, which netboot does not do/],
    ['class "c" { match if exists user-class }', /^x\.conf:1:40: expected ";"/],
    [`filename "http://${'a'.repeat(250)}";`, /^x\.conf:1:1: filename is longer than the 255 bytes option 67 can carry/],
  ];
  for (const [text, re] of cases) {
    let err: unknown;
    try {
      parseConfig(text, 'x.conf');
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof ConfigError, `${text.slice(0, 60)} → ConfigError`);
    t.match((err as Error)?.message, re);
  }
  t.end();
});

// ------------------------------------------------------------ the policy's answers

const fixture = (name: string) => Buffer.from(readFileSync(new URL(`./fixtures/${name}.hex`, import.meta.url), 'utf8').trim(), 'hex');
const httpConf = `
  authoritative;
  class "httpclients" {
    match if substring(option vendor-class-identifier, 0, 10) = "HTTPClient";
    filename "http://198.18.30.1/efi/ipxe.efi";
  }
  subnet 198.18.30.0 netmask 255.255.255.0 {
    range 198.18.30.100 198.18.30.120;
    next-server 198.18.30.1;
    filename "undionly.kpxe";
  }`;
const incoming = (msg: DhcpMessage): Incoming => ({ msg, via: eth0, from: { address: 0, port: 68 }, localPort: 67 });

t.test('UEFI HTTP Boot: a DISCOVER built per the UEFI spec gets HTTPClient echoed and the URL', (t) => {
  // Constructed, not captured: the fields UEFI 2.5+ HTTP Boot puts in its DISCOVER (edk2's HttpBootDxe sends these).
  const discover = decode(fixture('uefi-http-discover'));
  t.equal(text(getOption(discover, 60)), 'HTTPClient:Arch:00016:UNDI:003001');
  t.same([...getOption(discover, 93)!], [0x00, 0x10], 'client architecture 16: x64 UEFI HTTP');
  t.same([...getOption(discover, 94)!], [1, 3, 0], 'UNDI 3.0');
  const out = new LeasePolicy(parseConfig(httpConf)).handle(incoming(discover), 1000);
  const offer = decode(encode(out.reply!.msg));
  t.equal(getOption(offer, 53)?.[0], 2, 'an OFFER');
  t.equal(text(getOption(offer, 60)), 'HTTPClient', 'vendor class HTTPClient, without which the firmware ignores the offer');
  t.equal(Buffer.from(offer.file).toString('latin1').replace(/\0+$/, ''), 'http://198.18.30.1/efi/ipxe.efi');
  t.end();
});

t.test('PXE clients keep PXEClient semantics: no HTTPClient in their answer', (t) => {
  const out = new LeasePolicy(parseConfig(httpConf)).handle(incoming(packet(BIOS)), 1000);
  const offer = decode(encode(out.reply!.msg));
  t.equal(getOption(offer, 60), undefined);
  t.equal(Buffer.from(offer.file).toString('latin1').replace(/\0+$/, ''), 'undionly.kpxe');
  t.end();
});

t.test('an HTTP Boot client given a TFTP file name gets no HTTPClient: the firmware would try it as a URL', (t) => {
  const c = parseConfig(`subnet 198.18.30.0 netmask 255.255.255.0 { range 198.18.30.100 198.18.30.120; filename "undionly.kpxe"; }`);
  const offer = new LeasePolicy(c).handle(incoming(packet(HTTP)), 1000).reply!.msg;
  t.equal(getOption(offer, 60), undefined);
  const tftpUrl = parseConfig(`subnet 198.18.30.0 netmask 255.255.255.0 { range 198.18.30.100 198.18.30.120; filename "tftp://198.18.30.1/ipxe.efi"; }`);
  t.equal(getOption(new LeasePolicy(tftpUrl).handle(incoming(packet(HTTP)), 1000).reply!.msg, 60), undefined, 'nor with a tftp:// URL');
  t.end();
});

t.test('proxyDHCP answers UEFI HTTP Boot DISCOVERs with HTTPClient and the URL, no address, no PXE options', (t) => {
  const p = new LeasePolicy(parseConfig(httpConf), { proxy: true });
  const o = p.handle(incoming(decode(fixture('uefi-http-discover'))), 1000);
  const offer = o.reply!.msg;
  t.equal(getOption(offer, 53)?.[0], 2);
  t.equal(offer.yiaddr, 0);
  t.equal(text(getOption(offer, 60)), 'HTTPClient');
  t.equal(getOption(offer, 43), undefined, 'no PXE discovery control');
  t.equal(Buffer.from(offer.file).toString('latin1').replace(/\0+$/, ''), 'http://198.18.30.1/efi/ipxe.efi');
  const onBinl: Incoming = { ...incoming(packet({ ...HTTP })), localPort: 4011 };
  onBinl.msg.options[0] = { code: 53, data: Buffer.from([3]) };
  t.notOk(p.handle(onBinl, 1001).reply, 'no port 4011 step for HTTP Boot');
  const tftpOnly = new LeasePolicy(parseConfig('subnet 198.18.30.0 netmask 255.255.255.0 { filename "undionly.kpxe"; }'), { proxy: true });
  const none = tftpOnly.handle(incoming(packet(HTTP)), 1000);
  t.notOk(none.reply);
  t.match(none.log.join('\n'), /an HTTP Boot client needs a URL, and its filename "undionly\.kpxe" is not one/);
  const pxe = new LeasePolicy(parseConfig(httpConf), { proxy: true }).handle(incoming(packet(BIOS)), 1000).reply!.msg;
  t.equal(text(getOption(pxe, 60)), 'PXEClient', 'PXE clients as before');
  t.ok(getOption(pxe, 43));
  t.end();
});

t.test('a boot file URL longer than the file field goes in option 67 alone', (t) => {
  const url = `http://198.18.30.1/${'x'.repeat(140)}/ipxe.efi`;
  const c = parseConfig(`subnet 198.18.30.0 netmask 255.255.255.0 { range 198.18.30.100 198.18.30.120; filename "${url}"; }`);
  const out = new LeasePolicy(c).handle(incoming(packet(HTTP)), 1000);
  const offer = decode(encode(out.reply!.msg));
  t.equal(text(getOption(offer, 67)), url);
  t.equal(Buffer.from(offer.file).toString('latin1').replace(/\0+$/, ''), '', 'file field empty (not truncated)');
  t.equal(text(getOption(offer, 60)), 'HTTPClient');
  t.end();
});

t.test('answers are cached per branch taken: two clients of one class but different branches differ', (t) => {
  const c = parseConfig(`
    subnet 198.18.30.0 netmask 255.255.255.0 {
      range 198.18.30.100 198.18.30.120;
      if option user-class = "iPXE" { filename "http://198.18.30.1/boot.ipxe"; } else { filename "undionly.kpxe"; }
    }`);
  const p = new LeasePolicy(c);
  const file = (o: ReturnType<LeasePolicy['handle']>) => Buffer.from(o.reply!.msg.file).toString('latin1').replace(/\0+$/, '');
  t.equal(file(p.handle(incoming(packet(BIOS)), 1000)), 'undionly.kpxe');
  t.equal(file(p.handle(incoming(packet(IPXE)), 1001)), 'http://198.18.30.1/boot.ipxe');
  t.equal(file(p.handle(incoming(packet(BIOS)), 1002)), 'undionly.kpxe');
  t.end();
});

// ------------------------------------------------------------ property

const CODES = [60, 77, 93, 82, 61, 12];
const arbOptionRef = fc.record({ space: fc.constantFrom('dhcp' as const, 'agent' as const), code: fc.constantFrom(...CODES, 1, 2), name: fc.constant('x') });
const { bool: arbBool } = fc.letrec<{ bool: BoolExpr; data: DataExpr; num: NumExpr }>((tie) => ({
  bool: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ op: fc.constant('exists' as const), option: arbOptionRef }),
    fc.record({ op: fc.constant('known' as const) }),
    fc.record({ op: fc.constantFrom('equal' as const, 'not-equal' as const), left: tie('data'), right: tie('data') }),
    fc.record({ op: fc.constantFrom('equal' as const, 'not-equal' as const), left: tie('num'), right: tie('num') }),
    fc.record({ op: fc.constantFrom('and' as const, 'or' as const), left: tie('bool'), right: tie('bool') }),
    fc.record({ op: fc.constant('not' as const), of: tie('bool') }),
  ),
  data: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ op: fc.constant('const' as const), data: fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a)) }),
    fc.record({ op: fc.constant('option' as const), option: arbOptionRef }),
    fc.record({ op: fc.constant('hardware' as const) }),
    fc.record({ op: fc.constant('substring' as const), of: tie('data'), offset: tie('num'), length: tie('num') }),
    fc.record({ op: fc.constant('suffix' as const), of: tie('data'), length: tie('num') }),
    fc.record({ op: fc.constant('concat' as const), left: tie('data'), right: tie('data') }),
    fc.record({ op: fc.constantFrom('lcase' as const, 'ucase' as const), of: tie('data') }),
    fc.record({ op: fc.constant('pick-first-value' as const), of: fc.array(tie('data'), { maxLength: 3 }) }),
    fc.record({ op: fc.constant('encode-int' as const), value: tie('num'), width: fc.constantFrom(8 as const, 16 as const, 32 as const) }),
  ),
  num: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ op: fc.constant('int' as const), value: fc.integer({ min: 0, max: 0xffffffff }) }),
    fc.record({ op: fc.constant('extract-int' as const), of: tie('data'), width: fc.constantFrom(8 as const, 16 as const, 32 as const) }),
  ),
}));
const arbPacket = fc.record({
  hlen: fc.integer({ min: 0, max: 255 }),
  htype: fc.integer({ min: 0, max: 255 }),
  chaddr: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  options: fc.array(fc.record({ code: fc.constantFrom(...CODES), data: fc.uint8Array({ maxLength: 40 }) }), { maxLength: 6 }),
});

t.test('property: any expression on any packet gives true, false or null, never a throw', (t) => {
  fc.assert(
    fc.property(arbBool, arbPacket, fc.boolean(), (expr, p, known) => {
      const msg: DhcpMessage = { ...packet(), ...p };
      const v = evalBoolean(expr, { msg, known });
      return v === true || v === false || v === null;
    }),
    { seed: 42, numRuns: 500 },
  );
  t.pass('500 random expressions on random packets');
  t.end();
});

t.test('property: random packets through a conditional config reach an answer or a typed decode error', (t) => {
  const c = parseConfig(readFileSync(new URL('./fixtures/mixed-boot-dhcpd.conf', import.meta.url), 'utf8'));
  const policy = new LeasePolicy(c);
  let clock = 1000;
  fc.assert(
    fc.property(arbPacket, (p) => {
      const msg: DhcpMessage = { ...packet(), ...p, options: [{ code: 53, data: Buffer.from([1]) }, ...p.options] };
      const out = policy.handle({ msg, via: { name: 'eth0', address: ip('198.18.0.1'), network: ip('198.18.0.0'), mask: ip('255.255.255.0') }, from: { address: 0, port: 68 }, localPort: 67 }, (clock += 1000));
      if (out.reply) encode(out.reply.msg);
      return true;
    }),
    { seed: 42, numRuns: 300 },
  );
  t.pass('300 random packets');
  t.end();
});

t.test("the README's mixed BIOS/UEFI/iPXE/HTTPClient dhcpd.conf gives each kind of client its boot file", (t) => {
  const c = parseConfig(readFileSync(new URL('./fixtures/mixed-boot-dhcpd.conf', import.meta.url), 'utf8'), 'mixed-boot-dhcpd.conf');
  const node = { mac: '52:54:00:00:00:0b' };
  t.equal(answer(c, { ...node, ...BIOS }).filename, 'undionly.kpxe', 'BIOS PXE ROM');
  t.equal(answer(c, { ...node, ...UEFI }).filename, 'ipxe.efi', 'UEFI PXE x64');
  t.equal(answer(c, { ...node, ...IPXE }).filename, 'http://198.18.0.1/boot.ipxe', 'iPXE');
  t.equal(answer(c, { ...node, ...UEFI, userClass: 'iPXE' }).filename, 'http://198.18.0.1/boot.ipxe', 'iPXE loaded by UEFI');
  t.equal(answer(c, { ...node, ...HTTP }).filename, 'http://198.18.0.1/ipxe.efi', 'UEFI HTTP Boot');
  t.equal(opt(answer(c, { ...node, ...HTTP }), 17), '/diskless/198.18.0.11', 'the host still applies');
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  t.ok(readme.includes(readFileSync(new URL('./fixtures/mixed-boot-dhcpd.conf', import.meta.url), 'utf8').trimEnd()), 'the package README shows this very file');
  t.end();
});
