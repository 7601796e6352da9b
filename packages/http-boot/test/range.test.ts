import t from 'tap';
import fc from 'fast-check';
import { parseRange, type RangeRequest } from '@netboot/http-boot';

t.test('the three forms of one byte range', async (t) => {
  t.same(parseRange('bytes=0-499', 10_000), { kind: 'partial', start: 0, end: 499 });
  t.same(parseRange('bytes=9500-', 10_000), { kind: 'partial', start: 9500, end: 9999 });
  t.same(parseRange('bytes=-500', 10_000), { kind: 'partial', start: 9500, end: 9999 });
  t.same(parseRange('bytes=0-0', 1), { kind: 'partial', start: 0, end: 0 });
  t.same(parseRange('Bytes= 5-9 ', 10), { kind: 'partial', start: 5, end: 9 }, 'unit case-insensitive, optional whitespace');
});

t.test('a last position or suffix past the end is clipped to the file', async (t) => {
  t.same(parseRange('bytes=5-1000', 10), { kind: 'partial', start: 5, end: 9 });
  t.same(parseRange('bytes=-1000', 10), { kind: 'partial', start: 0, end: 9 });
  t.same(parseRange('bytes=0-99999999999999999999999', 10), { kind: 'partial', start: 0, end: 9 });
});

t.test('unsatisfiable: start past the end, zero suffix, any range of an empty file', async (t) => {
  t.same(parseRange('bytes=10-', 10), { kind: 'unsatisfiable' });
  t.same(parseRange('bytes=10-20', 10), { kind: 'unsatisfiable' });
  t.same(parseRange('bytes=99999999999999999999-', 10), { kind: 'unsatisfiable' });
  t.same(parseRange('bytes=-0', 10), { kind: 'unsatisfiable' });
  t.same(parseRange('bytes=0-', 0), { kind: 'unsatisfiable' });
  t.same(parseRange('bytes=-5', 0), { kind: 'unsatisfiable' });
});

t.test('what this server does not act on is ignored: the whole file', async (t) => {
  for (const h of [undefined, '', 'bytes=', 'bytes=-', 'bytes=5-2', 'bytes=0-1,3-4', 'items=0-1', 'bytes=a-b', 'bytes=+1-2', 'bytes=1-2-3', 'bytes=0x10-', 'bytes =0-1']) {
    t.same(parseRange(h, 100), { kind: 'full' }, String(h));
  }
});

/** What every answer must satisfy for a file of `size` bytes. */
function wellFormed(r: RangeRequest, size: number): boolean {
  if (r.kind !== 'partial') return true;
  return Number.isSafeInteger(r.start) && Number.isSafeInteger(r.end) && 0 <= r.start && r.start <= r.end && r.end < size;
}

t.test('property: any header gives full, unsatisfiable or a range inside the file', async (t) => {
  const header = fc.oneof(
    fc.string(),
    fc.stringMatching(/^bytes=[ -9,\t-]{0,12}$/),
    fc.tuple(fc.option(fc.nat(), { nil: undefined }), fc.option(fc.nat(), { nil: undefined })).map(([a, b]) => `bytes=${a ?? ''}-${b ?? ''}`),
  );
  fc.assert(
    fc.property(header, fc.nat({ max: 1 << 30 }), (h, size) => wellFormed(parseRange(h, size), size)),
    { seed: 14, numRuns: 2000 },
  );
  t.pass('2000 headers');
});

t.test('property: first-last gives exactly the RFC 9110 bytes', async (t) => {
  fc.assert(
    fc.property(fc.nat({ max: 5000 }), fc.nat({ max: 5000 }), fc.nat({ max: 5000 }), (first, last, size) => {
      const r = parseRange(`bytes=${first}-${last}`, size);
      if (last < first) return r.kind === 'full';
      if (first >= size) return r.kind === 'unsatisfiable';
      return r.kind === 'partial' && r.start === first && r.end === Math.min(last, size - 1);
    }),
    { seed: 14, numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.nat({ max: 5000 }), fc.nat({ max: 5000 }), (suffix, size) => {
      const r = parseRange(`bytes=-${suffix}`, size);
      if (suffix === 0 || size === 0) return r.kind === 'unsatisfiable';
      return r.kind === 'partial' && r.end === size - 1 && r.end - r.start + 1 === Math.min(suffix, size);
    }),
    { seed: 14, numRuns: 2000 },
  );
  t.pass('4000 ranges');
});
