import t from 'tap';
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
