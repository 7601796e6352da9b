import t from 'tap';
import { readFileSync } from 'node:fs';
import {
  LeasePolicy,
  parseConfig,
  parseIpv4,
  formatIpv4,
  getOption,
  encode,
  decode,
  type DhcpMessage,
  type Incoming,
  type Link,
} from '@netboot/dhcp-wire';

const guide = readFileSync(new URL('./fixtures/gentoo-dhcpd.conf', import.meta.url), 'utf8');
const ip = (s: string) => parseIpv4(s)!;
const eth0: Link = { name: 'eth0', address: ip('198.18.21.1'), network: ip('198.18.21.0'), mask: ip('255.255.255.0') };
const SLAVE = '004063c2cac9';

function msg(type: number | undefined, mac: string, extra: { code: number; data: number[] | Buffer }[] = [], fields: Partial<DhcpMessage> = {}): DhcpMessage {
  const chaddr = Buffer.alloc(16);
  Buffer.from(mac, 'hex').copy(chaddr);
  const options = type === undefined ? [] : [{ code: 53, data: Buffer.from([type]) }];
  for (const e of extra) options.push({ code: e.code, data: Buffer.from(e.data) });
  return {
    op: 1, htype: 1, hlen: 6, hops: 0, xid: 7, secs: 0, flags: 0, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0,
    chaddr, sname: Buffer.alloc(64), file: Buffer.alloc(128), cookie: type !== undefined || fields.cookie === true, options, ...fields,
  };
}
const inc = (m: DhcpMessage, via = eth0, port = 67): Incoming => ({ msg: decode(encode(m)), via, from: { address: m.ciaddr || m.giaddr, port: m.giaddr ? 67 : 68 }, localPort: port });
const ipb = (s: string) => [...Buffer.from(s.split('.').map(Number))];
const typeOf = (m: DhcpMessage) => getOption(m, 53)?.[0];

const rangeConf = `
  authoritative;
  default-lease-time 600; max-lease-time 7200;
  option routers 198.18.21.1;
  subnet 198.18.21.0 netmask 255.255.255.0 {
    range 198.18.21.100 198.18.21.102;
    range dynamic-bootp 198.18.21.200 198.18.21.200;
    host fixed { hardware ethernet 02:00:00:00:00:01; fixed-address 198.18.21.50; }
  }`;

t.test('DORA for the guide host: fixed address, boot file, options; log lines in dhcpd format', (t) => {
  const p = new LeasePolicy(parseConfig(guide));
  const vc = { code: 60, data: Buffer.from('PXEClient:Arch:00000:UNDI:002001') };
  const o = p.handle(inc(msg(1, SLAVE, [vc])), 1000);
  t.equal(typeOf(o.reply!.msg), 2);
  t.equal(formatIpv4(o.reply!.msg.yiaddr), '198.18.21.21');
  t.equal(formatIpv4(o.reply!.msg.siaddr), '198.18.21.1');
  t.equal(Buffer.from(o.reply!.msg.file).toString(), 'pxelinux.0');
  t.same([...getOption(o.reply!.msg, 43)!], [1, 4, 0, 0, 0, 0]);
  t.equal(Buffer.from(getOption(o.reply!.msg, 17)!).toString(), '/diskless/198.18.21.21');
  t.ok(o.reply!.broadcast, 'broadcast flag clear and no ciaddr: broadcast (no raw socket to unicast before ARP)');
  t.same(o.log, ['DHCPDISCOVER from 00:40:63:c2:ca:c9 via eth0', 'DHCPOFFER on 198.18.21.21 to 00:40:63:c2:ca:c9 via eth0']);
  t.notOk(o.commit, 'an offer is not committed');
  const r = p.handle(inc(msg(3, SLAVE, [vc, { code: 50, data: ipb('198.18.21.21') }, { code: 54, data: ipb('198.18.21.1') }])), 2000);
  t.equal(typeOf(r.reply!.msg), 5);
  t.equal(formatIpv4(r.commit!.ip), '198.18.21.21');
  t.same(r.log, ['DHCPREQUEST for 198.18.21.21 from 00:40:63:c2:ca:c9 via eth0', 'DHCPACK on 198.18.21.21 to 00:40:63:c2:ca:c9 via eth0']);
  const eb = p.handle(inc(msg(1, SLAVE, [{ code: 60, data: Buffer.from('Etherboot-5.4') }])), 3000);
  t.equal(Buffer.from(eb.reply!.msg.file).toString(), 'vmlinuz_arch');
  t.end();
});

t.test('unknown client on the guide config: no range, so no free leases', (t) => {
  const p = new LeasePolicy(parseConfig(guide));
  const o = p.handle(inc(msg(1, '020000000099')), 0);
  t.notOk(o.reply);
  t.match(o.log.join('\n'), /no free leases on subnet 198\.18\.21\.0/);
  t.end();
});

t.test('dynamic pool: re-offer to the same client, exhaustion, offers expire', (t) => {
  const p = new LeasePolicy(parseConfig(rangeConf), { offerTimeoutMs: 1000 });
  const a = p.handle(inc(msg(1, '0200000000aa')), 0).reply!.msg.yiaddr;
  t.equal(p.handle(inc(msg(1, '0200000000aa')), 10).reply!.msg.yiaddr, a, 'same offer again');
  const b = p.handle(inc(msg(1, '0200000000bb')), 20).reply!.msg.yiaddr;
  const c = p.handle(inc(msg(1, '0200000000cc')), 30).reply!.msg.yiaddr;
  const d = p.handle(inc(msg(1, '0200000000c0')), 31).reply!.msg.yiaddr;
  t.equal(new Set([a, b, c, d]).size, 4, 'dynamic-bootp ranges serve DHCP clients too, as in dhcpd');
  const none = p.handle(inc(msg(1, '0200000000dd')), 40);
  t.notOk(none.reply);
  t.match(none.log.at(-1), 'no free leases on subnet 198.18.21.0');
  t.ok(p.handle(inc(msg(1, '0200000000dd')), 5000).reply, 'expired offers free their addresses');
  t.end();
});

t.test('leased address is offered to the same client again (perfdhcp repeats DORA)', (t) => {
  const p = new LeasePolicy(parseConfig(rangeConf));
  const off = p.handle(inc(msg(1, '0200000000aa')), 0).reply!.msg;
  const ack = p.handle(inc(msg(3, '0200000000aa', [{ code: 50, data: [...u32b(off.yiaddr)] }, { code: 54, data: ipb('198.18.21.1') }])), 1);
  t.equal(typeOf(ack.reply!.msg), 5);
  t.equal(ack.reply!.msg.options.find((o) => o.code === 51)!.data.toString(), Buffer.from([0, 0, 2, 0x58]).toString(), 'default-lease-time 600');
  const again = p.handle(inc(msg(1, '0200000000aa')), 100_000);
  t.equal(again.reply!.msg.yiaddr, off.yiaddr);
  t.end();
});

t.test('REQUEST naming another server is dropped and frees our offer', (t) => {
  const p = new LeasePolicy(parseConfig(rangeConf));
  const off = p.handle(inc(msg(1, '0200000000aa')), 0).reply!.msg;
  const r = p.handle(inc(msg(3, '0200000000aa', [{ code: 50, data: [...u32b(off.yiaddr)] }, { code: 54, data: ipb('198.18.21.9') }])), 1);
  t.notOk(r.reply);
  t.notOk(r.commit);
  const other = p.handle(inc(msg(1, '0200000000bb', [{ code: 50, data: [...u32b(off.yiaddr)] }])), 2);
  t.equal(other.reply!.msg.yiaddr, off.yiaddr, 'the address is free again');
  t.end();
});

t.test('INIT-REBOOT: authoritative NAK for a wrong address, ACK for the right one', (t) => {
  const p = new LeasePolicy(parseConfig(rangeConf));
  const nak = p.handle(inc(msg(3, '020000000001', [{ code: 50, data: ipb('198.18.21.100') }])), 0);
  t.equal(typeOf(nak.reply!.msg), 6);
  t.ok(nak.reply!.broadcast, 'NAK is broadcast');
  t.match(nak.log.at(-1), 'DHCPNAK on 198.18.21.100 to 02:00:00:00:00:01 via eth0');
  const wrongNet = p.handle(inc(msg(3, '0200000000aa', [{ code: 50, data: ipb('198.19.0.5') }])), 0);
  t.equal(typeOf(wrongNet.reply!.msg), 6);
  const ack = p.handle(inc(msg(3, '020000000001', [{ code: 50, data: ipb('198.18.21.50') }])), 0);
  t.equal(typeOf(ack.reply!.msg), 5);
  const quiet = new LeasePolicy(parseConfig(rangeConf.replace('authoritative;', '')));
  t.notOk(quiet.handle(inc(msg(3, '020000000001', [{ code: 50, data: ipb('198.18.21.100') }])), 0).reply, 'not authoritative: silent');
  t.end();
});

t.test('RENEWING is unicast to ciaddr; REBINDING of another client’s address is NAKed', (t) => {
  const p = new LeasePolicy(parseConfig(rangeConf));
  const off = p.handle(inc(msg(1, '0200000000aa')), 0).reply!.msg;
  p.handle(inc(msg(3, '0200000000aa', [{ code: 50, data: [...u32b(off.yiaddr)] }, { code: 54, data: ipb('198.18.21.1') }])), 1);
  const renew = p.handle(inc(msg(3, '0200000000aa', [], { ciaddr: off.yiaddr })), 300_000);
  t.equal(typeOf(renew.reply!.msg), 5);
  t.equal(renew.reply!.to, off.yiaddr);
  t.equal(renew.reply!.port, 68);
  t.equal(renew.reply!.msg.ciaddr, off.yiaddr);
  t.equal(renew.commit!.end, 300_000 + 600_000);
  const steal = p.handle(inc(msg(3, '0200000000bb', [], { ciaddr: off.yiaddr })), 300_001);
  t.equal(typeOf(steal.reply!.msg), 6);
  t.end();
});

t.test('DECLINE marks the address bad; RELEASE frees it; INFORM gets options only', (t) => {
  const p = new LeasePolicy(parseConfig(rangeConf), { abandonMs: 10_000 });
  const off = p.handle(inc(msg(1, '0200000000aa')), 0).reply!.msg;
  const d = p.handle(inc(msg(4, '0200000000aa', [{ code: 50, data: [...u32b(off.yiaddr)] }, { code: 54, data: ipb('198.18.21.1') }])), 1);
  t.equal(d.commit!.state, 'abandoned');
  t.notOk(d.reply);
  t.not(p.handle(inc(msg(1, '0200000000aa')), 2).reply!.msg.yiaddr, off.yiaddr, 'declined address not offered');
  const o2 = p.handle(inc(msg(1, '0200000000bb')), 3).reply!.msg;
  p.handle(inc(msg(3, '0200000000bb', [{ code: 50, data: [...u32b(o2.yiaddr)] }, { code: 54, data: ipb('198.18.21.1') }])), 4);
  const rel = p.handle(inc(msg(7, '0200000000bb', [{ code: 54, data: ipb('198.18.21.1') }], { ciaddr: o2.yiaddr })), 5);
  t.equal(rel.commit!.state, 'released');
  t.notOk(rel.reply);
  const inf = p.handle(inc(msg(8, '0200000000cc', [], { ciaddr: ip('198.18.21.77') })), 6);
  t.equal(typeOf(inf.reply!.msg), 5);
  t.equal(inf.reply!.msg.yiaddr, 0);
  t.notOk(getOption(inf.reply!.msg, 51), 'no lease time in an INFORM reply');
  t.equal(inf.reply!.to, ip('198.18.21.77'));
  t.end();
});

t.test('BOOTP: host declaration gets a BOOTREPLY with an infinite lease; dynamic-bootp range for others', (t) => {
  const p = new LeasePolicy(parseConfig(guide));
  const r = p.handle(inc(msg(undefined, SLAVE, [], { cookie: false })), 0);
  t.equal(r.reply!.msg.op, 2);
  t.equal(formatIpv4(r.reply!.msg.yiaddr), '198.18.21.21');
  t.notOk(getOption(r.reply!.msg, 53));
  t.equal(r.commit!.end, Infinity);
  t.same(r.log, ['BOOTREQUEST from 00:40:63:c2:ca:c9 via eth0', 'BOOTREPLY for 198.18.21.21 to 00:40:63:c2:ca:c9 via eth0']);
  const q = new LeasePolicy(parseConfig(rangeConf));
  t.equal(formatIpv4(q.handle(inc(msg(undefined, '0200000000aa', [], { cookie: false })), 0).reply!.msg.yiaddr), '198.18.21.200');
  t.end();
});

t.test('relayed requests: subnet of giaddr, reply to the relay on port 67, option 82 echoed last', (t) => {
  const p = new LeasePolicy(parseConfig(rangeConf + ' subnet 198.18.22.0 netmask 255.255.255.0 { range 198.18.22.10 198.18.22.20; }'));
  const agent = { code: 82, data: [1, 2, 0xab, 0xcd] };
  const o = p.handle(inc(msg(1, '0200000000aa', [agent], { giaddr: ip('198.18.22.1'), hops: 1 })), 0);
  t.equal(formatIpv4(o.reply!.msg.yiaddr), '198.18.22.10');
  t.equal(o.reply!.to, ip('198.18.22.1'));
  t.equal(o.reply!.port, 67);
  t.notOk(o.reply!.broadcast);
  t.same(o.reply!.msg.options.at(-1), { code: 82, data: Buffer.from(agent.data) });
  t.match(o.log[0], 'DHCPDISCOVER from 02:00:00:00:00:aa via 198.18.22.1');
  t.end();
});

t.test('leases reload: an acknowledged client keeps its address after a restart', (t) => {
  const conf = parseConfig(rangeConf);
  const p = new LeasePolicy(conf);
  const off = p.handle(inc(msg(1, '0200000000aa')), 0).reply!.msg;
  const ack = p.handle(inc(msg(3, '0200000000aa', [{ code: 50, data: [...u32b(off.yiaddr)] }, { code: 54, data: ipb('198.18.21.1') }])), 1);
  const q = new LeasePolicy(conf);
  q.load([ack.commit!]);
  t.equal(q.handle(inc(msg(1, '0200000000bb')), 2).reply!.msg.yiaddr !== off.yiaddr, true, 'not given to another client');
  t.equal(q.handle(inc(msg(1, '0200000000aa')), 3).reply!.msg.yiaddr, off.yiaddr, 'offered to its owner');
  t.end();
});

t.test('proxyDHCP: PXE clients get boot info without an address; others are ignored', (t) => {
  const p = new LeasePolicy(parseConfig(guide), { proxy: true });
  const vc = { code: 60, data: Buffer.from('PXEClient:Arch:00000:UNDI:002001') };
  const o = p.handle(inc(msg(1, '020000000042', [vc])), 0);
  t.equal(typeOf(o.reply!.msg), 2);
  t.equal(o.reply!.msg.yiaddr, 0);
  t.equal(Buffer.from(o.reply!.msg.file).toString(), 'pxelinux.0');
  t.equal(Buffer.from(getOption(o.reply!.msg, 60)!).toString(), 'PXEClient');
  t.notOk(o.commit);
  t.notOk(p.handle(inc(msg(1, '020000000042')), 0).reply, 'non-PXE client ignored');
  const req = inc(msg(3, '020000000042', [vc], { ciaddr: ip('198.18.21.77') }), eth0, 4011);
  req.from = { address: ip('198.18.21.77'), port: 68 };
  const a = p.handle(req, 1);
  t.equal(typeOf(a.reply!.msg), 5);
  t.equal(a.reply!.to, ip('198.18.21.77'));
  t.end();
});

function u32b(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
}

t.test('property: any decodable request gives an outcome, never an exception', async (t) => {
  const { default: fc } = await import('fast-check');
  const conf = parseConfig(guide + rangeConf.replace('subnet 198.18.21.0', 'subnet 198.18.22.0').replace(/198\.18\.21\./g, '198.18.22.'));
  const p = new LeasePolicy(conf, { offerTimeoutMs: 5 });
  const codes = fc.constantFrom(1, 3, 12, 43, 50, 51, 53, 54, 55, 57, 60, 61, 82, 93, 94, 97);
  const option = fc.record({ code: codes, data: fc.uint8Array({ maxLength: 8 }) });
  fc.assert(
    fc.property(
      fc.array(option, { maxLength: 8 }),
      fc.constantFrom('004063c2cac9', '0200000000aa', '0200000000bb'),
      fc.constantFrom(0, ip('198.18.21.21'), ip('198.18.22.100'), ip('198.18.99.1')),
      fc.constantFrom(0, ip('198.18.22.1'), ip('198.18.99.1')),
      fc.integer({ min: 0, max: 100 }),
      (options, mac, ciaddr, giaddr, now) => {
        const m = msg(undefined, mac, [], { ciaddr, giaddr, cookie: true });
        const seen = new Set<number>();
        m.options = options.filter((o) => !seen.has(o.code) && seen.add(o.code)).map((o) => ({ code: o.code, data: Buffer.from(o.data) }));
        const out = p.handle(inc(m), now);
        if (out.reply) decode(encode(out.reply.msg)); // the reply encodes and decodes again
        return Array.isArray(out.log);
      },
    ),
    { seed: 42, numRuns: 200 },
  );
  t.pass('no exceptions');
});

t.test('configured options never duplicate the server\'s own 51/53/54', (t) => {
  const p = new LeasePolicy(parseConfig(rangeConf.replace('authoritative;', 'authoritative; option dhcp-lease-time 5; option dhcp-server-identifier 198.18.21.99;')));
  const o = p.handle(inc(msg(1, '0200000000aa', [{ code: 55, data: [51, 54, 3] }])), 0);
  const codes = o.reply!.msg.options.map((x) => x.code);
  t.equal(codes.length, new Set(codes).size, 'each code once');
  t.same([...getOption(o.reply!.msg, 54)!], ipb('198.18.21.1'));
  t.end();
});

t.test('replies respect the client’s maximum message size (57): overload, never oversized', (t) => {
  const long = 'x'.repeat(200);
  const p = new LeasePolicy(
    parseConfig(`${rangeConf}
      option domain-name "${long}"; option root-path "${long}"; option nis-domain "${long}";`),
  );
  const o = p.handle(inc(msg(1, '0200000000aa', [{ code: 57, data: [0x02, 0x40] }])), 0);
  const bytes = encode(o.reply!.msg);
  t.ok(bytes.length <= 548, `${bytes.length} bytes for a 576-byte client (its 576 count the 28 bytes of IP and UDP headers, as dhcpd counts them)`);
  const back = decode(bytes);
  t.equal(Buffer.from(getOption(back, 17)!).toString(), long, 'options moved into file/sname come back whole');
  t.notOk(getOption(back, 15), 'what does not fit is left out, the first set last (dhcpd sends a list-less client the newest first)');
  t.equal(getOption(back, 53)![0], 2);
  t.equal(bytes[240], 52, 'option 52 (overload) first');
  t.ok(back.file.length === 0 || back.sname.length === 0, 'file or sname carried options');
  const big = p.handle(inc(msg(1, '0200000000bb', [{ code: 57, data: [0x05, 0xc0] }])), 0);
  const bigBytes = encode(big.reply!.msg);
  t.ok(bigBytes.length > 576 && bigBytes.length <= 1444, `${bigBytes.length} bytes for a 1472-byte client`);
  t.equal(decode(bigBytes).file.length, 128, 'no overload needed');
  t.end();
});
