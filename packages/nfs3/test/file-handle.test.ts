import t from 'tap';
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { HANDLE_SIZE, HandleCodec } from '@netboot/nfs3';

const codec = new HandleCodec(Buffer.alloc(32, 1));
const id = fc.record({
  exportId: fc.nat({ max: 0xffffffff }),
  ino: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  birth: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
});

t.test('a handle decodes to what it was made from, and fits NFS3_FHSIZE', async (t) => {
  t.ok(HANDLE_SIZE <= 64);
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(id, (v) => {
        const h = codec.encode(v);
        const back = codec.decode(h);
        return h.length === HANDLE_SIZE && back !== undefined && back.exportId === v.exportId && back.ino === v.ino && back.birth === v.birth;
      }),
      { seed: 42, numRuns: 200 },
    ),
  );
});

t.test('random bytes, truncations and single-bit changes are never a handle', async (t) => {
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (a) => codec.decode(Buffer.from(a)) === undefined),
      { seed: 42, numRuns: 200 },
    ),
  );
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(id, fc.nat({ max: HANDLE_SIZE * 8 - 1 }), fc.nat({ max: HANDLE_SIZE - 1 }), (v, bit, cut) => {
        const h = codec.encode(v);
        const flipped = Buffer.from(h);
        flipped[bit >> 3]! ^= 1 << (bit & 7);
        return codec.decode(flipped) === undefined && codec.decode(h.subarray(0, cut)) === undefined;
      }),
      { seed: 42, numRuns: 200 },
    ),
  );
  t.equal(new HandleCodec(Buffer.alloc(32, 2)).decode(codec.encode({ exportId: 1, ino: 2n, birth: 3n })), undefined, 'another key');
});

t.test('a handle another codec made is remembered by its bytes, not by the buffer it came in', async (t) => {
  const h = new HandleCodec(Buffer.alloc(32, 1)).encode({ exportId: 4, ino: 77n, birth: 5n });
  const fresh = new HandleCodec(Buffer.alloc(32, 1));
  // As a call's receive buffer: decoded, then overwritten by the next call.
  const received = Buffer.from(h);
  t.same(fresh.decode(received), { exportId: 4, ino: 77n, birth: 5n });
  received.fill(0);
  t.same(fresh.decode(Buffer.from(h)), { exportId: 4, ino: 77n, birth: 5n }, 'decodes again once its first buffer is reused');
  const forged = Buffer.from(h);
  forged[HANDLE_SIZE - 1]! ^= 1;
  t.equal(fresh.decode(forged), undefined, 'the same inode with another MAC is not a handle');
});

t.test('one inode number in several exports (image-backed roots over one image): the handle of each is remembered', async (t) => {
  const c = new HandleCodec(Buffer.alloc(32, 1));
  const a = { exportId: 7, ino: 9n, birth: 1n };
  const b = { exportId: 8, ino: 9n, birth: 1n };
  const ha = c.encode(a);
  const hb = c.encode(b);
  t.not(ha, hb);
  t.equal(c.encode(a), ha, 'the first export\'s handle is still the one remembered after the second export\'s was made');
  t.equal(c.encode(b), hb, 'and the second\'s');
  t.same(c.decode(Buffer.from(ha)), a);
  t.same(c.decode(Buffer.from(hb)), b);
  // Two objects whose inode numbers and exports meet on one key: each is answered as itself.
  const x = { exportId: 0, ino: 0x9e3779b1n, birth: 2n };
  const y = { exportId: 1, ino: 0n, birth: 2n };
  const hx = c.encode(x);
  const hy = c.encode(y);
  t.notOk(hx.equals(hy), 'two handles');
  t.same(c.decode(Buffer.from(hx)), x);
  t.same(c.decode(Buffer.from(hy)), y);
  t.ok(c.encode(x).equals(hx), 'the first made again is the same bytes');
});

t.test('version 1 handles (38 bytes, HMAC-SHA256), given out before version 2, still decode; altered ones do not', async (t) => {
  const key = Buffer.alloc(32, 1);
  const v1 = Buffer.alloc(38);
  v1[0] = 1;
  v1.writeUInt32BE(7, 2);
  v1.writeBigUInt64BE(123456789n, 6);
  v1.writeBigUInt64BE(1_700_000_000_123_456_789n, 14);
  createHmac('sha256', key).update(v1.subarray(0, 22)).digest().copy(v1, 22, 0, 16);
  t.same(codec.decode(v1), { exportId: 7, ino: 123456789n, birth: 1_700_000_000_123_456_789n });
  const bad = Buffer.from(v1);
  bad[30]! ^= 0x80;
  t.equal(codec.decode(bad), undefined, 'a flipped MAC bit');
  t.not(codec.encode({ exportId: 7, ino: 123456789n, birth: 1_700_000_000_123_456_789n }).length, v1.length, 'new handles are version 2');
});

t.test('handles signed together are the handles signed one by one, across exports', async (t) => {
  const ids = [
    { exportId: 1, ino: 10n, birth: 1n },
    { exportId: 2, ino: 10n, birth: 1n },
    { exportId: 1, ino: 11n, birth: 0n },
  ];
  const many = new HandleCodec(Buffer.alloc(32, 3)).encodeMany(ids);
  const one = new HandleCodec(Buffer.alloc(32, 3));
  t.same(many, ids.map((id) => one.encode(id)));
  t.not(many[0]!.subarray(22).toString('hex'), many[1]!.subarray(22).toString('hex'), 'each export signs with its own key');
});
