import t from 'tap';
import fc from 'fast-check';
import {
  decode,
  encode,
  encodeInto,
  encodingLength,
  encodeDataHeader,
  TftpWireError,
  Opcode,
  ErrorCode,
  errorMessages,
  transferMode,
  type TftpPacket,
} from '@netboot/tftp-wire';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// Requests as real clients put them on the wire (captured from atftp 0.8.0 and
// as PXE-BOOT-FACTS.md records iPXE and curl).
const golden: [string, string, TftpPacket][] = [
  [
    'atftp RRQ with tsize and blksize',
    '0001 666f6f00 6f6374657400 7473697a650030 00 626c6b73697a6500 3134363800',
    { op: 1, filename: 'foo', mode: 'octet', options: [{ name: 'tsize', value: '0' }, { name: 'blksize', value: '1468' }] },
  ],
  [
    'iPXE RRQ pxelinux.0',
    '0001 7078656c696e75782e3000 6f6374657400 626c6b73697a650031343332 00 7473697a65003000',
    {
      op: 1,
      filename: 'pxelinux.0',
      mode: 'octet',
      options: [{ name: 'blksize', value: '1432' }, { name: 'tsize', value: '0' }],
    },
  ],
  ['tftp-hpa RRQ without options', '0001 6100 6e65746173636969 00', { op: 1, filename: 'a', mode: 'netascii', options: [] }],
  ['WRQ', '0002 7570 00 4f4354455400', { op: 2, filename: 'up', mode: 'OCTET', options: [] }],
  ['DATA 1', '0003 0001 616263', { op: 3, block: 1, data: Buffer.from('abc') }],
  ['empty DATA after rollover', '0003 0000', { op: 3, block: 0, data: Buffer.alloc(0) }],
  ['ACK 65535', '0004 ffff', { op: 4, block: 65535 }],
  ['ERROR 1', '0005 0001 46696c65206e6f7420666f756e6400', { op: 5, code: 1, message: 'File not found' }],
  ['ERROR 8 with empty message', '0005 0008 00', { op: 5, code: 8, message: '' }],
  ['OACK', '0006 626c6b73697a65003134363800 7473697a6500313000', {
    op: 6,
    options: [{ name: 'blksize', value: '1468' }, { name: 'tsize', value: '10' }],
  }],
];

t.test('golden vectors decode and re-encode byte-exact', async (t) => {
  for (const [name, h, value] of golden) {
    const bytes = hex(h);
    t.same(decode(bytes), value, `${name}: decode`);
    t.same(encode(value), bytes, `${name}: encode`);
    t.equal(encodingLength(value), bytes.length, `${name}: encodingLength`);
  }
});

t.test('every proper prefix of a non-DATA vector is a typed SHORT_BUFFER or a shorter option list', async (t) => {
  for (const [name, h, value] of golden) {
    if (value.op === Opcode.DATA) continue; // any DATA length is a valid DATA
    const bytes = hex(h);
    const limit = value.op === Opcode.ACK ? 4 : bytes.length;
    for (let n = 0; n < limit; n++) {
      const cut = bytes.subarray(0, n);
      // TFTP has no length field: a request cut right after an option pair is a valid request with fewer options.
      const before = 'options' in value ? value.options.length : 0;
      let shorter: TftpPacket | undefined;
      try {
        shorter = decode(cut);
      } catch (err) {
        t.match(err, { name: 'TftpWireError', code: 'SHORT_BUFFER' }, `${name} cut at ${n}`);
        continue;
      }
      t.ok('options' in shorter && shorter.options.length < before && cut[n - 1] === 0, `${name} cut at ${n} after a pair`);
    }
  }
});

t.test('DATA is a view, not a copy', async (t) => {
  const bytes = hex('0003 0007 01020304');
  const p = decode(bytes);
  t.equal(p.op, Opcode.DATA);
  if (p.op !== Opcode.DATA) return;
  bytes[4] = 99;
  t.equal(p.data[0], 99);
});

t.test('every error code has its RFC text', async (t) => {
  for (const code of Object.values(ErrorCode)) {
    t.type(errorMessages[code], 'string');
    const p: TftpPacket = { op: Opcode.ERROR, code, message: errorMessages[code] };
    t.same(decode(encode(p)), p);
  }
  t.equal(Object.keys(ErrorCode).length, 9);
});

t.test('modes are case-insensitive', async (t) => {
  t.equal(transferMode('OcTeT'), 'octet');
  t.equal(transferMode('NETASCII'), 'netascii');
  t.equal(transferMode('mail'), undefined);
});

t.test('encoders refuse what they cannot represent', async (t) => {
  const bad: [string, TftpPacket][] = [
    ['NUL in a name', { op: 1, filename: 'a\0b', mode: 'octet', options: [] }],
    ['name over the 512-byte request limit', { op: 1, filename: 'x'.repeat(600), mode: 'octet', options: [] }],
    ['char above 0xff', { op: 1, filename: 'caf\u20ac', mode: 'octet', options: [] }],
    ['empty option name', { op: 6, options: [{ name: '', value: '1' }] }],
    ['OACK without options', { op: 6, options: [] }],
    ['block above 65535', { op: 4, block: 65536 }],
    ['negative block', { op: 3, block: -1, data: Buffer.alloc(0) }],
    ['DATA over 65464 bytes', { op: 3, block: 1, data: Buffer.alloc(65465) }],
    ['error code above 65535', { op: 5, code: 70000, message: '' }],
  ];
  for (const [name, p] of bad) {
    t.throws(() => encodingLength(p), { name: 'TftpWireError', code: 'UNREPRESENTABLE' }, name);
  }
  t.throws(() => encodeInto({ op: 4, block: 1 }, Buffer.alloc(3)), { code: 'NO_SPACE' });
  t.throws(() => encodeDataHeader(1, Buffer.alloc(8), 5), { code: 'NO_SPACE' });
  t.throws(() => encodeDataHeader(65536, Buffer.alloc(8)), { code: 'UNREPRESENTABLE' });
});

t.test('unknown opcode and an option without its value are typed errors', async (t) => {
  t.throws(() => decode(hex('0009 0000')), { code: 'BAD_VALUE', field: 'opcode', offset: 0 });
  t.throws(() => decode(hex('0001 6100 6f6374657400 7473697a6500')), { code: 'SHORT_BUFFER', field: 'options[0].value' });
  t.throws(() => decode(hex('0006 00 3000')), { code: 'BAD_VALUE', field: 'options[0].name', offset: 2 });
});

const byteString = (max: number) =>
  fc.array(fc.integer({ min: 1, max: 255 }), { maxLength: max }).map((a) => String.fromCharCode(...a));
const option = fc.record({ name: byteString(12).filter((s) => s.length > 0), value: byteString(12) });
const packet: fc.Arbitrary<TftpPacket> = fc.oneof(
  fc.record({
    op: fc.constantFrom(Opcode.RRQ, Opcode.WRQ),
    filename: byteString(100),
    mode: fc.constantFrom('octet', 'netascii', 'OCTET', 'NetAscii'),
    options: fc.array(option, { maxLength: 8 }),
  }),
  fc.record({ op: fc.constant(Opcode.DATA), block: fc.integer({ min: 0, max: 65535 }), data: fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)) }),
  fc.record({ op: fc.constant(Opcode.ACK), block: fc.integer({ min: 0, max: 65535 }) }),
  fc.record({ op: fc.constant(Opcode.ERROR), code: fc.integer({ min: 0, max: 65535 }), message: byteString(80) }),
  fc.record({ op: fc.constant(Opcode.OACK), options: fc.array(option, { minLength: 1, maxLength: 8 }) }),
) as fc.Arbitrary<TftpPacket>;

t.test('property: round trip at a non-zero offset, length == bytes written', async (t) => {
  fc.assert(
    fc.property(packet, fc.integer({ min: 1, max: 40 }), (p, offset) => {
      const n = encodingLength(p);
      const buf = Buffer.alloc(offset + n + 7, 0xee);
      const written = encodeInto(p, buf, offset);
      if (written !== n) return false;
      t.same(decode(buf, offset, offset + n), p);
      return buf[offset + n] === 0xee && buf[offset - 1] === 0xee;
    }),
    { seed: 42, numRuns: 200 },
  );
});

t.test('property: random bytes decode to a value or a TftpWireError, and values re-encode stably', async () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 6 }), (a, op) => {
      const bytes = Buffer.from(a);
      if (bytes.length >= 2 && op > 0) bytes.writeUInt16BE(op, 0); // steer half the cases into real opcodes
      try {
        const p = decode(bytes);
        const again = decode(encode(p));
        return JSON.stringify(again) === JSON.stringify(p);
      } catch (err) {
        return err instanceof TftpWireError;
      }
    }),
    { seed: 42, numRuns: 200 },
  );
});

t.test('property: every truncation of a valid request/ERROR/OACK is a typed error', async () => {
  fc.assert(
    fc.property(
      packet.filter((p) => p.op !== Opcode.DATA && p.op !== Opcode.ACK),
      (p) => {
        const bytes = encode(p);
        for (let n = 0; n < bytes.length; n++) {
          try {
            decode(bytes.subarray(0, n));
          } catch (err) {
            if (!(err instanceof TftpWireError)) return false;
            continue;
          }
          // A request or OACK cut right after a complete option pair is itself valid.
          const cut = decode(bytes.subarray(0, n));
          if (!('options' in cut) || bytes[n - 1] !== 0) return false;
        }
        return true;
      },
    ),
    { seed: 42, numRuns: 200 },
  );
});
