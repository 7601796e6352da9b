import t from 'tap';
import fc from 'fast-check';
import { RecordDecoder, XdrError, frameRecord, recordMark } from '@netboot/oncrpc-xdr';

/** A stream carrying `records`, each cut into the given fragments. */
function stream(records: Buffer[][]): Buffer {
  const parts: Buffer[] = [];
  for (const fragments of records) {
    fragments.forEach((f, i) => parts.push(recordMark(f.length, i === fragments.length - 1), f));
  }
  return Buffer.concat(parts);
}

function feed(decoder: RecordDecoder, bytes: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const c of [...cuts.filter((c) => c > 0 && c < bytes.length)].sort((a, b) => a - b).concat(bytes.length)) {
    out.push(...decoder.push(bytes.subarray(at, c)));
    at = c;
  }
  return out;
}

const fragment = fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a));
const records = fc.array(fc.array(fragment, { minLength: 1, maxLength: 4 }), { maxLength: 6 });

t.test('reassembles every split of a stream of multi-fragment records', (t) => {
  fc.assert(
    fc.property(records, fc.array(fc.nat(), { maxLength: 12 }), (recs, cuts) => {
      const bytes = stream(recs);
      const d = new RecordDecoder(1 << 20);
      const got = feed(d, bytes, cuts.map((c) => c % (bytes.length + 1)));
      t.same(got.map((b) => b.toString('hex')), recs.map((fs) => Buffer.concat(fs).toString('hex')));
      if (d.partial) throw new Error('decoder left mid-record');
    }),
    { seed: 42, numRuns: 200 },
  );
  t.end();
});

t.test('1-byte chunks and every single cut point', (t) => {
  const recs = [[Buffer.from('abc')], [Buffer.from('0123456'), Buffer.alloc(0), Buffer.from('xyz')], [Buffer.alloc(0)], [Buffer.alloc(9, 7)]];
  const bytes = stream(recs);
  const want = recs.map((fs) => Buffer.concat(fs).toString('hex'));
  const ones = new RecordDecoder(100);
  const got: Buffer[] = [];
  for (let i = 0; i < bytes.length; i++) got.push(...ones.push(bytes.subarray(i, i + 1)));
  t.same(got.map((b) => b.toString('hex')), want, '1-byte chunks');
  let bad = 0;
  for (let cut = 0; cut <= bytes.length; cut++) {
    const r = feed(new RecordDecoder(100), bytes, [cut]).map((b) => b.toString('hex'));
    if (JSON.stringify(r) !== JSON.stringify(want)) bad++;
  }
  t.equal(bad, 0, 'every two-chunk split');
  t.end();
});

t.test('a record inside one chunk is a view, not a copy', (t) => {
  const chunk = stream([[Buffer.from('hello!!!')]]);
  const [r] = new RecordDecoder(64).push(chunk);
  t.equal(r.buffer, chunk.buffer);
  t.equal(r.toString(), 'hello!!!');
  t.end();
});

t.test('a fragment header beyond the maximum record size is a typed error', (t) => {
  const d = new RecordDecoder(16);
  t.same(d.push(stream([[Buffer.alloc(16)]])).length, 1, 'exactly the maximum is fine');
  const big = Buffer.concat([recordMark(8, false), Buffer.alloc(8), recordMark(9)]);
  const e = (() => {
    try {
      new RecordDecoder(16).push(big);
    } catch (err) {
      return err;
    }
  })();
  t.ok(e instanceof XdrError, 'XdrError');
  t.match(e, { code: 'TOO_LONG', field: 'record marking fragment header', offset: 12 }, 'the second fragment crosses the limit');
  t.throws(() => new RecordDecoder(1 << 20).push(Buffer.from('ffffffff', 'hex')), { code: 'TOO_LONG', offset: 0 });
  t.end();
});

t.test('frameRecord puts the mark in its own buffer and leaves the chunks alone', (t) => {
  const a = Buffer.from('head');
  const b = Buffer.from('payload');
  const framed = frameRecord([a, b]);
  t.equal(framed.length, 3);
  t.equal(Buffer.from(framed[0]).toString('hex'), '8000000b');
  t.equal(framed[1], a);
  t.equal(framed[2], b);
  t.throws(() => recordMark(2 ** 31), { code: 'UNREPRESENTABLE' });
  t.end();
});

/** Reads `bytes` as a socket with `onread` would: into what target() names, at most `sizes[i]` bytes a read. */
function readThrough(decoder: RecordDecoder, bytes: Buffer, sizes: number[], scratch: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const into = decoder.target(scratch);
    const n = Math.min(into.length, bytes.length - at, 1 + (sizes[i % Math.max(1, sizes.length)] ?? into.length));
    bytes.copy(into, 0, at, at + n);
    at += n;
    // The reader reuses its scratch buffer: scribble on it so a kept view would show.
    const got = decoder.wrote(into, n);
    if (into === scratch) scratch.fill(0xee);
    out.push(...got);
  }
  return out;
}

t.test('read through target/wrote: every split, records in buffers of their own', (t) => {
  fc.assert(
    fc.property(records, fc.array(fc.nat({ max: 40 }), { maxLength: 12 }), fc.integer({ min: 1, max: 32 }), (recs, sizes, scratchSize) => {
      const bytes = stream(recs);
      const d = new RecordDecoder(1 << 20);
      const got = readThrough(d, bytes, sizes, Buffer.alloc(scratchSize));
      t.same(got.map((b) => b.toString('hex')), recs.map((fs) => Buffer.concat(fs).toString('hex')));
      if (d.partial) throw new Error('decoder left mid-record');
    }),
    { seed: 7, numRuns: 300 },
  );
  t.end();
});

t.test('read through target/wrote: the body of a large fragment is read in place', (t) => {
  const body = Buffer.alloc(100_000, 3);
  const bytes = stream([[Buffer.from('small')], [body]]);
  const d = new RecordDecoder(1 << 20);
  const scratch = Buffer.alloc(64);
  const targets: number[] = [];
  const got: Buffer[] = [];
  let at = 0;
  while (at < bytes.length) {
    const into = d.target(scratch);
    targets.push(into === scratch ? -1 : into.length);
    const n = Math.min(into.length, bytes.length - at);
    bytes.copy(into, 0, at, at + n);
    at += n;
    got.push(...d.wrote(into, n));
  }
  t.same(got.map((b) => b.length), [5, 100_000]);
  t.ok(got[1]!.equals(body), 'body intact');
  // One read into scratch (mark, 'small', mark, 51 bytes of body), then one read of exactly the rest, in place.
  t.same(targets, [-1, 100_000 - (64 - 4 - 5 - 4)], 'after the first scratch read, the rest of the body went straight into its buffer');
  t.throws(() => new RecordDecoder(16).wrote(Buffer.from('ffffffff', 'hex'), 4), { code: 'TOO_LONG' }, 'the maximum holds here too');
  t.end();
});

t.test('joined records come from the allocator the decoder was given', (t) => {
  const sizes: number[] = [];
  const d = new RecordDecoder(1 << 20, (n) => (sizes.push(n), Buffer.alloc(n)));
  const bytes = stream([[Buffer.from('abc'), Buffer.from('def')]]);
  const got = feed(d, bytes, [5]);
  t.same(got.map((b) => b.toString()), ['abcdef']);
  t.same(sizes, [6]);
  t.end();
});

t.test('read through target/wrote: a declined fragment buffer keeps copies of what arrived', (t) => {
  const body = Buffer.alloc(1000, 9);
  const bytes = stream([[body], [Buffer.from('ab'), Buffer.from('cd')]]);
  const asked: Array<[number, boolean]> = [];
  const given: Buffer[] = [];
  const released: Buffer[] = [];
  const d = new RecordDecoder(
    1 << 20,
    (n, fragment) => {
      asked.push([n, fragment]);
      if (fragment && n > 100) return undefined;
      const b = Buffer.alloc(n);
      if (fragment) given.push(b);
      return b;
    },
    (b) => released.push(b),
  );
  const got = readThrough(d, bytes, [30, 200, 7], Buffer.alloc(64));
  t.same(got.map((b) => b.toString('hex')), [body.toString('hex'), Buffer.from('abcd').toString('hex')], 'records intact although scratch was reused');
  t.same(asked[0], [1000, true], 'the announced 1000 bytes were asked for, and declined');
  t.equal(given.length, 2);
  t.ok(given.every((b) => released.includes(b)), 'the two fragment buffers of the second record went back once joined');
  t.end();
});

t.test('discard() gives back the buffers of a record in progress', (t) => {
  const released: Buffer[] = [];
  const d = new RecordDecoder(1 << 20, (n) => Buffer.alloc(n), (b) => released.push(b));
  const bytes = stream([[Buffer.from('first'), Buffer.alloc(50, 1)]]);
  const scratch = Buffer.alloc(16);
  // The first fragment and part of the second arrive, then the stream closes.
  let at = 0;
  while (at < 30) {
    const into = d.target(scratch);
    const n = Math.min(into.length, 30 - at);
    bytes.copy(into, 0, at, at + n);
    at += n;
    t.same(d.wrote(into, n), []);
  }
  t.ok(d.partial);
  d.discard();
  t.same(released.map((b) => b.length), [50, 5], 'the body being read and the complete first fragment');
  t.notOk(d.partial, 'nothing left');
  t.end();
});
