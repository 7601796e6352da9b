import t, { type Test } from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import {
  decode,
  encode,
  encodeInto,
  encodingLength,
  getOption,
  hardwareAddress,
  formatMac,
  DhcpWireError,
  builtinSpaces,
  decodeOptionValue,
  MAGIC_COOKIE,
  type DhcpMessage,
} from '@netboot/dhcp-wire';

const fixture = (name: string) => Buffer.from(readFileSync(new URL(`./fixtures/${name}.hex`, import.meta.url), 'utf8').trim(), 'hex');
const dhcp = builtinSpaces().get('dhcp')!;
const typed = (m: DhcpMessage, code: number) => {
  const data = getOption(m, code);
  return data && decodeOptionValue(dhcp.code(code)!.type, data, String(code), 0);
};

/** Re-encodes at a non-zero offset inside a larger buffer and compares with the original bytes. */
function reencodes(t: Test, bytes: Buffer): DhcpMessage {
  const m = decode(bytes);
  t.equal(encodingLength(m), bytes.length, 'encodingLength is the datagram length');
  const out = Buffer.alloc(bytes.length + 10, 0xee);
  t.equal(encodeInto(m, out, 7), bytes.length);
  t.same(out.subarray(7, 7 + bytes.length).toString('hex'), bytes.toString('hex'), 'byte-exact');
  // Every prefix that cuts into the message (not just its zero padding after END) is a typed error.
  const unpadded = encodingLength({ ...m, padTo: undefined });
  let failures = 0;
  for (let n = 0; n < unpadded; n++) {
    try {
      decode(bytes.subarray(0, n));
      failures++;
    } catch (e) {
      if (!(e instanceof DhcpWireError)) failures++;
    }
  }
  t.equal(failures, 0, `all ${unpadded} proper prefixes give a DhcpWireError`);
  return m;
}

t.test('udhcpc DISCOVER (captured from busybox udhcpc 1.35 -V PXEClient:...)', (t) => {
  const m = reencodes(t, fixture('udhcpc-discover'));
  t.equal(m.op, 1);
  t.equal(formatMac(hardwareAddress(m)), '00:40:63:c2:ca:c9');
  t.equal(typed(m, 53), 1);
  t.equal(typed(m, 60), 'PXEClient:Arch:00000:UNDI:002001');
  t.equal(typed(m, 57), 576);
  t.end();
});

t.test('dhclient DISCOVER (captured from isc-dhcp-client 4.4.3)', (t) => {
  const m = reencodes(t, fixture('dhclient-discover'));
  t.equal(typed(m, 53), 1);
  t.same(typed(m, 55), [1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42]);
  t.equal(typed(m, 12), 'vm');
  t.end();
});

t.test('perfdhcp DISCOVER (captured from kea perfdhcp 2.2, relayed)', (t) => {
  const m = reencodes(t, fixture('perfdhcp-discover'));
  t.equal(m.hops, 1);
  t.equal(m.giaddr, 0xc6121502, 'giaddr is the relay (perfdhcp host) 198.18.21.2');
  t.equal(formatMac(hardwareAddress(m)), '00:0c:01:02:03:04');
  t.end();
});

t.test('iPXE DISCOVER (captured from Debian ipxe-qemu 1.0.0+git-20190125 efi-virtio.rom in QEMU)', (t) => {
  const m = reencodes(t, fixture('ipxe-discover'));
  t.equal(m.flags, 0, 'broadcast flag clear');
  t.same(m.options.map((o) => o.code), [53, 57, 93, 94, 60, 77, 55, 175, 61, 97]);
  t.equal(typed(m, 57), 1472);
  t.same(typed(m, 93), [0]);
  t.same(typed(m, 94), [1, 2, 1]);
  t.equal(typed(m, 60), 'PXEClient:Arch:00000:UNDI:002001');
  t.same(typed(m, 55), [1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203]);
  t.end();
});

/** Built from the option list in PXE-BOOT-FACTS.md, before a real capture existed; kept as a second vector. */
export function ipxeDiscover(): DhcpMessage {
  const mac = Buffer.from('525400123456', 'hex');
  const chaddr = Buffer.alloc(16);
  mac.copy(chaddr);
  const prl = [1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203];
  return {
    op: 1, htype: 1, hlen: 6, hops: 0, xid: 0x1234abcd, secs: 0, flags: 0,
    ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0,
    chaddr, sname: Buffer.alloc(64), file: Buffer.alloc(128), cookie: true,
    options: [
      { code: 53, data: Buffer.from([1]) },
      { code: 57, data: Buffer.from([0x05, 0xc0]) },
      { code: 93, data: Buffer.from([0, 0]) },
      { code: 94, data: Buffer.from([1, 2, 1]) },
      { code: 60, data: Buffer.from('PXEClient:Arch:00000:UNDI:002001') },
      { code: 77, data: Buffer.from('iPXE') },
      { code: 55, data: Buffer.from(prl) },
      { code: 175, data: Buffer.from([0xb1, 0x05, 0x01, 0x80, 0x86, 0x10, 0x0e, 0x13, 0x01, 0x01]) },
      { code: 61, data: Buffer.concat([Buffer.from([1]), mac]) },
      { code: 97, data: Buffer.alloc(17) },
    ],
  };
}

t.test('iPXE-like PXE DISCOVER (synthesized from PXE-BOOT-FACTS.md, not a capture)', (t) => {
  const bytes = encode(ipxeDiscover());
  const m = reencodes(t, bytes);
  t.same(typed(m, 93), [0]);
  t.same(typed(m, 94), [1, 2, 1]);
  t.equal(typed(m, 57), 1472);
  const guid = typed(m, 97) as unknown[];
  t.equal(guid[0], 0);
  t.end();
});

t.test('BOOTP request without a cookie keeps its vendor area', (t) => {
  const b = Buffer.alloc(300);
  b[0] = 1;
  b[1] = 1;
  b[2] = 6;
  const m = decode(b);
  t.equal(m.cookie, false);
  t.equal(m.vend!.length, 64);
  t.same(encode(m), b);
  t.throws(() => decode(b.subarray(0, 299)), { code: 'TRUNCATED' });
  t.end();
});

t.test('typed errors name field and offset', (t) => {
  const b = fixture('udhcpc-discover');
  const bad = Buffer.from(b);
  bad[2] = 17;
  t.throws(() => decode(bad), { code: 'BAD_FIELD', field: 'hlen', offset: 2 });
  t.throws(() => decode(b.subarray(0, 100)), { code: 'TRUNCATED', field: 'header' });
  const opt = Buffer.from(b.subarray(0, 244));
  opt[240] = 12;
  opt[241] = 40;
  t.throws(() => decode(opt), { code: 'TRUNCATED', field: 'options option 12', offset: 242 });
  t.end();
});

function baseMessage(options: { code: number; data: Uint8Array }[]): DhcpMessage {
  return {
    op: 2, htype: 1, hlen: 6, hops: 0, xid: 1, secs: 0, flags: 0, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0,
    chaddr: Buffer.alloc(16), sname: Buffer.alloc(0), file: Buffer.alloc(0), cookie: true, options,
  };
}

t.test('long options are split into 255-byte instances and joined again (RFC 3396)', (t) => {
  const long = Buffer.alloc(600, 7);
  long[0] = 1;
  long[599] = 9;
  const bytes = encode(baseMessage([{ code: 53, data: Buffer.from([5]) }, { code: 17, data: long }]));
  t.equal(bytes.length, 240 + 3 + 600 + 2 * 3 + 1);
  t.equal(bytes[240 + 3], 17);
  t.equal(bytes[240 + 4], 255);
  const m = decode(bytes);
  t.same(Buffer.from(getOption(m, 17)!), long);
  t.end();
});

t.test('maxLength: overload file and sname before dropping options, never oversized', (t) => {
  const options = [
    { code: 53, data: Buffer.from([5]) },
    { code: 54, data: Buffer.from([198, 18, 21, 1]) },
    { code: 51, data: Buffer.from([0, 0, 1, 0]) },
    { code: 17, data: Buffer.alloc(250, 0x61) },
    { code: 15, data: Buffer.alloc(100, 0x62) },
    { code: 12, data: Buffer.alloc(40, 0x63) },
  ];
  const m = baseMessage(options);
  m.maxLength = 576;
  const bytes = encode(m);
  t.ok(bytes.length <= 576);
  t.equal(bytes[240], 52, 'option 52 first');
  const back = decode(bytes);
  t.same(back.options.map((o) => o.code).sort(), [12, 15, 17, 51, 53, 54]);
  for (const o of options) t.same(Buffer.from(getOption(back, o.code)!), o.data, `option ${o.code} intact`);

  const big = baseMessage([...options, { code: 67, data: Buffer.alloc(200, 0x64) }, { code: 66, data: Buffer.alloc(200, 0x65) }]);
  big.maxLength = 576;
  const out = encode(big);
  t.ok(out.length <= 576, `${out.length} <= 576`);
  const kept = decode(out).options.map((o) => o.code);
  t.ok(kept.includes(53) && kept.includes(54) && kept.includes(51), 'essential options kept');
  t.notOk(kept.includes(66), 'lowest-priority (last) option dropped');

  const impossible = baseMessage([{ code: 53, data: Buffer.from([5]) }, { code: 82, data: Buffer.alloc(255) }, { code: 54, data: Buffer.alloc(4) }]);
  impossible.maxLength = 300;
  t.throws(() => encode(impossible), { code: 'NO_SPACE' });
  t.end();
});

const arbOption = fc.record({
  code: fc.integer({ min: 1, max: 254 }).filter((c) => c !== 52),
  data: fc.uint8Array({ maxLength: 300 }),
});
const arbMessage = fc.record({
  op: fc.integer({ min: 1, max: 2 }),
  htype: fc.constant(1),
  hlen: fc.integer({ min: 0, max: 16 }),
  hops: fc.integer({ min: 0, max: 255 }),
  xid: fc.integer({ min: 0, max: 0xffffffff }),
  secs: fc.integer({ min: 0, max: 0xffff }),
  flags: fc.integer({ min: 0, max: 0xffff }),
  ciaddr: fc.integer({ min: 0, max: 0xffffffff }),
  yiaddr: fc.integer({ min: 0, max: 0xffffffff }),
  siaddr: fc.integer({ min: 0, max: 0xffffffff }),
  giaddr: fc.integer({ min: 0, max: 0xffffffff }),
  chaddr: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  options: fc.uniqueArray(arbOption, { selector: (o) => o.code, maxLength: 12 }),
  maxLength: fc.option(fc.integer({ min: 576, max: 1500 }), { nil: undefined }),
});

function toMessage(a: fc.Arbitrary<unknown> extends never ? never : any): DhcpMessage {
  return { ...a, sname: new Uint8Array(64), file: new Uint8Array(128), cookie: true };
}

t.test('property: round trip at an offset, encodingLength == bytes written, overload/split preserved', (t) => {
  fc.assert(
    fc.property(arbMessage, fc.integer({ min: 1, max: 64 }), (a, offset) => {
      const m = toMessage(a);
      let len: number;
      try {
        len = encodingLength(m);
      } catch (e) {
        // Only when even the essential options cannot fit.
        return e instanceof DhcpWireError && e.code === 'NO_SPACE';
      }
      if (m.maxLength !== undefined && len > m.maxLength) return false;
      const buf = Buffer.alloc(len + offset + 5);
      if (encodeInto(m, buf, offset) !== len) return false;
      const back = decode(buf, offset, offset + len);
      for (const f of ['op', 'hlen', 'hops', 'xid', 'secs', 'flags', 'ciaddr', 'yiaddr', 'siaddr', 'giaddr'] as const) {
        if (back[f] !== m[f]) return false;
      }
      if (Buffer.compare(back.chaddr, m.chaddr) !== 0) return false;
      // Every option that was kept comes back whole; options are only dropped when the limit forces it.
      const kept = new Map(back.options.map((o) => [o.code, o.data]));
      for (const o of m.options) {
        const d = kept.get(o.code);
        if (d === undefined) {
          if (m.maxLength === undefined) return false;
          continue;
        }
        if (Buffer.compare(Buffer.from(d), Buffer.from(o.data)) !== 0) return false;
      }
      return back.options.length <= m.options.length;
    }),
    { seed: 42, numRuns: 200 },
  );
  t.end();
});

t.test('property: random bytes give a message or a DhcpWireError', (t) => {
  const withCookie = fc.uint8Array({ minLength: 0, maxLength: 400 }).map((tail) => {
    const b = Buffer.alloc(240 + tail.length);
    b.writeUInt32BE(MAGIC_COOKIE, 236);
    b[2] = 6;
    Buffer.from(tail).copy(b, 240);
    return b;
  });
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 700 }), withCookie), (bytes) => {
      try {
        decode(bytes);
        return true;
      } catch (e) {
        return e instanceof DhcpWireError;
      }
    }),
    { seed: 42, numRuns: 200 },
  );
  t.end();
});

t.test('property: every truncation of a valid message is a typed error', (t) => {
  fc.assert(
    fc.property(arbMessage, (a) => {
      const m = toMessage({ ...a, maxLength: undefined });
      const bytes = encode(m);
      for (let n = 0; n < bytes.length; n++) {
        try {
          decode(bytes.subarray(0, n));
          return false;
        } catch (e) {
          if (!(e instanceof DhcpWireError)) return false;
        }
      }
      return true;
    }),
    { seed: 42, numRuns: 50 },
  );
  t.end();
});
