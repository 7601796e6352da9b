/**
 * The properties every XDR codec of the project must have (see the brief: a
 * property test for every codec, golden vectors byte-exact), written once for
 * the codec tests of oncrpc-xdr, portmap, mountd and nlm.
 */
import fc from 'fast-check';
import type { Test } from 'tap';
import { isDeepStrictEqual } from 'node:util';
import { XdrError, type XdrCodec } from '@netboot/oncrpc-xdr';

export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
export const ascii = (s: string): string => Buffer.from(s).toString('hex');

/** Plain values: byte views become arrays and bigints strings, so deep equality compares contents, not classes. */
export function plain(v: unknown): unknown {
  return JSON.parse(
    JSON.stringify(v, (_k, x) => {
      if (typeof x === 'bigint') return `${x}n`;
      if (x instanceof Uint8Array) return Array.from(x);
      if (x?.type === 'Buffer') return x.data;
      return x;
    }),
  );
}

/** Equal as plain values: for codecs whose decoded byte fields are Buffers where the arbitrary made Uint8Arrays. */
export const samePlain = (a: unknown, b: unknown): boolean => isDeepStrictEqual(plain(a), plain(b));

export interface PropertyOptions {
  /** How decoded values are compared with the originals (default: isDeepStrictEqual, classes and all). */
  equal?: (decoded: unknown, original: unknown) => boolean;
  /** Runs of the round-trip and random-bytes properties (the truncation property runs a quarter of them). */
  runs?: number;
}

/**
 * Round trip at a non-zero offset (encodingLength equals the bytes written,
 * the byte after is untouched, `encode` gives the same bytes, a decode bounded
 * to them gives the value back); random bytes give a value or an XdrError,
 * never another exception; every truncation of a valid encoding is a
 * SHORT_BUFFER.
 */
export function xdrProperties<T>(t: Test, name: string, codec: XdrCodec<T>, arb: fc.Arbitrary<T>, options: PropertyOptions = {}): void {
  const same = options.equal ?? isDeepStrictEqual;
  const runs = { seed: 42, numRuns: options.runs ?? 200 };
  t.test(`${name}: round trip at a non-zero offset; encodingLength == bytes written`, async (t) => {
    fc.assert(
      fc.property(arb, fc.integer({ min: 1, max: 13 }), (v, at) => {
        const n = codec.encodingLength(v);
        const out = Buffer.alloc(at + n + 4, 0xee);
        const written = codec.encodeInto(v, out, at);
        const whole = codec.decode(out, at);
        const bounded = codec.decode(out, at, at + n);
        return (
          written === n &&
          out[at + n] === 0xee &&
          codec.encode(v).equals(out.subarray(at, at + n)) &&
          whole.bytes === n &&
          same(whole.value, v) &&
          bounded.bytes === n &&
          same(bounded.value, v)
        );
      }),
      runs,
    );
    t.pass();
  });
  t.test(`${name}: random bytes give a value or an XdrError`, async (t) => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (a) => {
        try {
          codec.decode(Buffer.from(a));
        } catch (e) {
          if (!(e instanceof XdrError)) throw e;
        }
      }),
      runs,
    );
    t.pass();
  });
  t.test(`${name}: every truncation of a valid encoding is a SHORT_BUFFER`, async (t) => {
    fc.assert(
      fc.property(arb, (v) => {
        const full = codec.encode(v);
        for (let len = 0; len < full.length; len++) {
          try {
            codec.decode(full, 0, len);
            return false;
          } catch (e) {
            if (!(e instanceof XdrError) || e.code !== 'SHORT_BUFFER') throw e;
          }
        }
        return true;
      }),
      { ...runs, numRuns: Math.ceil(runs.numRuns / 4) },
    );
    t.pass();
  });
}

/** Golden vectors (from other implementations' captures): each encodes byte-exact, decodes every byte back to its value, and every proper prefix fails with SHORT_BUFFER. */
export function xdrGoldens(t: Test, goldens: [name: string, codec: XdrCodec<any>, value: unknown, wire: string][]): void {
  t.test('golden vectors decode and re-encode byte-exact; every proper prefix fails with SHORT_BUFFER', async (t) => {
    for (const [name, codec, value, wire] of goldens) {
      const bytes = hex(wire);
      t.same(codec.encode(value), bytes, `${name} encodes`);
      const { value: back, bytes: used } = codec.decode(bytes);
      t.equal(used, bytes.length, `${name} decodes every byte`);
      t.same(plain(back), plain(value), `${name} decodes`);
      for (let n = 0; n < bytes.length; n++) {
        t.throws(() => codec.decode(bytes.subarray(0, n)), { name: 'XdrError', code: 'SHORT_BUFFER' }, `${name} cut at ${n}`);
      }
    }
  });
}
