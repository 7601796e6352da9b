import t from 'tap';
import fc from 'fast-check';
import { BoundedMap, HandleCodec } from '@netboot/nfs3';

t.test('a BoundedMap never holds more than its bound, keeps the entries in use and finds what it holds', async (t) => {
  const m = new BoundedMap<number, string>(100);
  for (let i = 0; i < 1000; i++) {
    m.set(i, `v${i}`);
    // Entry 0 is read after every insert: in use, it must never be forgotten.
    t.equal(m.get(0), 'v0');
    if (m.size > 100) t.fail(`${m.size} entries after ${i + 1} inserts`);
  }
  t.equal(m.get(999), 'v999', 'the newest is there');
  t.equal(m.get(500), undefined, 'an old one is gone');
  m.set(0, 'changed');
  t.equal(m.get(0), 'changed', 'set replaces');
  m.delete(0);
  t.equal(m.get(0), undefined, 'delete removes');
  m.clear();
  t.equal(m.size, 0);
  t.equal(m.get(999), undefined, 'clear removes all');
});

t.test('a BoundedMap tells onDrop of each value it forgets, once, and of none it still holds', async (t) => {
  const dropped: number[] = [];
  const m = new BoundedMap<number, number>(10, (v) => dropped.push(v));
  for (let i = 0; i < 100; i++) m.set(i, i);
  t.ok(dropped.length > 0, 'some were forgotten');
  t.equal(new Set(dropped).size, dropped.length, 'none dropped twice');
  const held = [...Array(100).keys()].filter((i) => !dropped.includes(i));
  t.equal(m.size, held.length, 'what was not dropped is what the map holds');
  dropped.length = 0;
  m.clear();
  t.same(dropped.sort((a, b) => a - b), held, 'clear drops what was held');
});

t.test('a BoundedMap answers as a plain Map for the keys it still holds', async (t) => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), key: fc.nat({ max: 40 }), value: fc.nat() }),
    fc.record({ kind: fc.constant('get' as const), key: fc.nat({ max: 40 }) }),
    fc.record({ kind: fc.constant('delete' as const), key: fc.nat({ max: 40 }) }),
  );
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const m = new BoundedMap<number, number>(16);
        const ref = new Map<number, number>();
        for (const o of ops) {
          if (o.kind === 'set') {
            m.set(o.key, o.value);
            ref.set(o.key, o.value);
          } else if (o.kind === 'delete') {
            m.delete(o.key);
            ref.delete(o.key);
          } else {
            const got = m.get(o.key);
            // Forgetting is allowed; a wrong or resurrected value is not.
            if (got !== undefined && got !== ref.get(o.key)) return false;
          }
          if (m.size > 16) return false;
        }
        return true;
      }),
      { seed: 7, numRuns: 300 },
    ),
  );
});

t.test('handles stay right past the remembered count, and a reused inode number gets its own handle', async (t) => {
  const codec = new HandleCodec(Buffer.alloc(32, 5));
  const fresh = new HandleCodec(Buffer.alloc(32, 5));
  const ids = Array.from({ length: 40_000 }, (_, i) => ({ exportId: 3, ino: BigInt(i), birth: 1_700_000_000_000_000_000n + BigInt(i % 7) }));
  let wrong = 0;
  for (let i = 0; i < ids.length; i += 50) {
    const hs = codec.encodeMany(ids.slice(i, i + 50));
    hs.forEach((h, k) => {
      if (!h.equals(fresh.encode(ids[i + k]!))) wrong++;
    });
  }
  t.equal(wrong, 0, 'every handle equals one made by a codec that remembers nothing of the others');
  const before = codec.encode({ exportId: 3, ino: 39_999n, birth: 1n });
  const back = codec.decode(before);
  t.equal(back?.birth, 1n, 'the same inode number born again: a handle of its own birth time');
  t.equal(codec.decode(codec.encode({ exportId: 4, ino: 39_999n, birth: 1n }))?.exportId, 4, 'and of its own export');
});
