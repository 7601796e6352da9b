import t from 'tap';
import fc from 'fast-check';
import { XdrError, XdrReader, XdrWriter, opaqueLength, padding, stringLength } from '@netboot/oncrpc-xdr';

/*
 * A small XDR schema language interpreted over XdrReader/XdrWriter, so that
 * fast-check can generate random schemas (RFC 4506 sections 4.1-4.17) and
 * values for them.
 */
type Schema =
  | { t: 'int' | 'uint' | 'hyper' | 'uhyper' | 'bool' | 'float' | 'double' | 'void' }
  | { t: 'enum'; values: number[] }
  | { t: 'fopaque'; n: number }
  | { t: 'vopaque'; max: number }
  | { t: 'string'; max: number }
  | { t: 'farray'; n: number; of: Schema }
  | { t: 'varray'; max: number; of: Schema }
  | { t: 'optional'; of: Schema }
  | { t: 'union'; arms: [number, Schema][]; dflt: Schema | null }
  | { t: 'struct'; fields: Schema[] };

type Value = unknown;

function encodingLength(s: Schema, v: Value): number {
  switch (s.t) {
    case 'int':
    case 'uint':
    case 'bool':
    case 'float':
    case 'enum':
      return 4;
    case 'hyper':
    case 'uhyper':
    case 'double':
      return 8;
    case 'void':
      return 0;
    case 'fopaque':
      return s.n + padding(s.n);
    case 'vopaque':
      return opaqueLength((v as Buffer).length);
    case 'string':
      return stringLength(v as string);
    case 'farray':
      return (v as Value[]).reduce<number>((n, e) => n + encodingLength(s.of, e), 0);
    case 'varray':
      return (v as Value[]).reduce<number>((n, e) => n + encodingLength(s.of, e), 4);
    case 'optional':
      return v === null ? 4 : 4 + encodingLength(s.of, v);
    case 'union': {
      const u = v as { d: number; v: Value };
      return 4 + encodingLength(armOf(s, u.d)!, u.v);
    }
    case 'struct':
      return s.fields.reduce<number>((n, f, i) => n + encodingLength(f, (v as Value[])[i]), 0);
  }
}

function armOf(s: Extract<Schema, { t: 'union' }>, d: number): Schema | null {
  const arm = s.arms.find(([k]) => k === d);
  return arm ? arm[1] : s.dflt;
}

function encode(s: Schema, v: Value, w: XdrWriter): void {
  switch (s.t) {
    case 'int':
      w.i32(v as number);
      return;
    case 'uint':
      w.u32(v as number);
      return;
    case 'hyper':
      w.i64(v as bigint);
      return;
    case 'uhyper':
      w.u64(v as bigint);
      return;
    case 'bool':
      w.bool(v as boolean);
      return;
    case 'float':
      w.f32(v as number);
      return;
    case 'double':
      w.f64(v as number);
      return;
    case 'enum':
      w.i32(v as number, 'enum');
      return;
    case 'void':
      return;
    case 'fopaque':
      w.fixedOpaque(v as Buffer, s.n);
      return;
    case 'vopaque':
      w.opaque(v as Buffer, s.max);
      return;
    case 'string':
      w.string(v as string, s.max);
      return;
    case 'farray':
      for (const e of v as Value[]) encode(s.of, e, w);
      return;
    case 'varray':
      w.u32((v as Value[]).length, 'array count');
      for (const e of v as Value[]) encode(s.of, e, w);
      return;
    case 'optional':
      w.bool(v !== null, 'optional');
      if (v !== null) encode(s.of, v, w);
      return;
    case 'union': {
      const u = v as { d: number; v: Value };
      w.i32(u.d, 'discriminant');
      encode(armOf(s, u.d)!, u.v, w);
      return;
    }
    case 'struct':
      s.fields.forEach((f, i) => encode(f, (v as Value[])[i], w));
      return;
  }
}

function decode(s: Schema, r: XdrReader): Value {
  switch (s.t) {
    case 'int':
      return r.i32('int');
    case 'uint':
      return r.u32('uint');
    case 'hyper':
      return r.i64('hyper');
    case 'uhyper':
      return r.u64('uhyper');
    case 'bool':
      return r.bool('bool');
    case 'float':
      return r.f32('float');
    case 'double':
      return r.f64('double');
    case 'enum':
      return r.enumOf(new Set(s.values), 'enum');
    case 'void':
      return undefined;
    case 'fopaque':
      return r.fixedOpaque(s.n, 'fopaque');
    case 'vopaque':
      return r.opaque(s.max, 'vopaque');
    case 'string':
      return r.string(s.max, 'string');
    case 'farray':
      return Array.from({ length: s.n }, () => decode(s.of, r));
    case 'varray': {
      const n = r.arrayLength(s.max, 'varray', minSize(s.of));
      return Array.from({ length: n }, () => decode(s.of, r));
    }
    case 'optional':
      return r.optional('optional') ? decode(s.of, r) : null;
    case 'union': {
      const at = r.offset;
      const d = r.i32('discriminant');
      const arm = armOf(s, d);
      if (!arm) throw new XdrError('BAD_VALUE', 'discriminant', at, `no arm for ${d}`);
      return { d, v: decode(arm, r) };
    }
    case 'struct':
      return s.fields.map((f) => decode(f, r));
  }
}

function minSize(s: Schema): number {
  switch (s.t) {
    case 'void':
    case 'farray':
    case 'struct':
      return 0;
    case 'fopaque':
      return s.n + padding(s.n);
    case 'hyper':
    case 'uhyper':
    case 'double':
      return 8;
    default:
      return 4;
  }
}

const leaf: fc.Arbitrary<Schema> = fc.oneof(
  fc.constantFrom<Schema>(
    { t: 'int' },
    { t: 'uint' },
    { t: 'hyper' },
    { t: 'uhyper' },
    { t: 'bool' },
    { t: 'float' },
    { t: 'double' },
    { t: 'void' },
  ),
  fc.uniqueArray(fc.integer({ min: -0x80000000, max: 0x7fffffff }), { minLength: 1, maxLength: 5 }).map((values): Schema => ({ t: 'enum', values })),
  fc.integer({ min: 0, max: 9 }).map((n): Schema => ({ t: 'fopaque', n })),
  fc.integer({ min: 0, max: 40 }).map((max): Schema => ({ t: 'vopaque', max })),
  fc.integer({ min: 0, max: 40 }).map((max): Schema => ({ t: 'string', max })),
);

const schema: fc.Arbitrary<Schema> = fc.letrec<{ s: Schema }>((tie) => ({
  s: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.record({ t: fc.constant('farray' as const), n: fc.integer({ min: 0, max: 3 }), of: tie('s') }),
    fc.record({ t: fc.constant('varray' as const), max: fc.integer({ min: 0, max: 4 }), of: tie('s') }),
    fc.record({ t: fc.constant('optional' as const), of: tie('s') }),
    fc.record({
      t: fc.constant('union' as const),
      arms: fc.uniqueArray(fc.tuple(fc.integer({ min: -3, max: 3 }), tie('s')), { minLength: 1, maxLength: 3, selector: (a) => a[0] }),
      dflt: fc.option(tie('s'), { nil: null }),
    }),
    fc.record({ t: fc.constant('struct' as const), fields: fc.array(tie('s'), { maxLength: 4 }) }),
  ),
})).s;

function value(s: Schema): fc.Arbitrary<Value> {
  switch (s.t) {
    case 'int':
      return fc.integer({ min: -0x80000000, max: 0x7fffffff });
    case 'uint':
      return fc.integer({ min: 0, max: 0xffffffff });
    case 'hyper':
      return fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });
    case 'uhyper':
      return fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
    case 'bool':
      return fc.boolean();
    case 'float':
      return fc.float();
    case 'double':
      return fc.double();
    case 'enum':
      return fc.constantFrom(...s.values);
    case 'void':
      return fc.constant(undefined);
    case 'fopaque':
      return fc.uint8Array({ minLength: s.n, maxLength: s.n }).map((a) => Buffer.from(a));
    case 'vopaque':
      return fc.uint8Array({ maxLength: s.max }).map((a) => Buffer.from(a));
    case 'string':
      return fc.string({ unit: 'binary', maxLength: s.max }).filter((x) => Buffer.byteLength(x) <= s.max);
    case 'farray':
      return fc.array(value(s.of), { minLength: s.n, maxLength: s.n });
    case 'varray':
      return fc.array(value(s.of), { maxLength: s.max });
    case 'optional':
      return fc.option(value(s.of), { nil: null });
    case 'union': {
      const arms = s.arms.map(([d, a]) => value(a).map((v) => ({ d, v })));
      const known = new Set(s.arms.map(([d]) => d));
      const dflt = s.dflt;
      if (dflt) {
        arms.push(
          fc
            .integer({ min: -0x80000000, max: 0x7fffffff })
            .filter((d) => !known.has(d))
            .chain((d) => value(dflt).map((v) => ({ d, v }))),
        );
      }
      return fc.oneof(...arms);
    }
    case 'struct':
      return fc.tuple(...s.fields.map(value));
  }
}

/** Deep equality with Object.is on numbers (NaN, -0) and byte equality on opaques. */
function same(a: Value, b: Value): boolean {
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => same((a as Record<string, Value>)[k], (b as Record<string, Value>)[k]));
  }
  return Object.is(a, b);
}

const schemaAndValue = schema.chain((s) => fc.tuple(fc.constant(s), value(s), fc.integer({ min: 1, max: 13 })));

t.test('round trip of random schemas and values at a non-zero offset', (t) => {
  fc.assert(
    fc.property(schemaAndValue, ([s, v, offset]) => {
      const len = encodingLength(s, v);
      const buf = Buffer.alloc(offset + len + 5, 0xa5);
      const w = new XdrWriter(buf, offset);
      encode(s, v, w);
      if (w.offset - offset !== len) throw new Error(`wrote ${w.offset - offset} bytes, encodingLength says ${len}`);
      if (len % 4 !== 0) throw new Error(`encoding of ${len} bytes is not a multiple of 4`);
      if (buf.subarray(0, offset).some((b) => b !== 0xa5) || buf.subarray(offset + len).some((b) => b !== 0xa5)) {
        throw new Error('wrote outside its window');
      }
      const r = new XdrReader(buf, offset, offset + len);
      const back = decode(s, r);
      r.done('end');
      if (!same(back, v)) throw new Error('decoded value differs');
      // Every proper prefix is a typed short-buffer error.
      for (let n = 0; n < len; n++) {
        try {
          decode(s, new XdrReader(buf, offset, offset + n));
          throw new Error(`prefix of ${n}/${len} bytes decoded`);
        } catch (e) {
          if (!(e instanceof XdrError)) throw e;
        }
      }
    }),
    { seed: 42, numRuns: 200 },
  );
  t.pass('200 random schemas');
  t.end();
});

t.test('random bytes under a random schema give a value or an XdrError', (t) => {
  fc.assert(
    fc.property(schema, fc.uint8Array({ maxLength: 96 }), (s, bytes) => {
      try {
        decode(s, new XdrReader(Buffer.from(bytes)));
      } catch (e) {
        if (!(e instanceof XdrError)) throw e;
      }
    }),
    { seed: 42, numRuns: 500 },
  );
  t.pass('500 random inputs');
  t.end();
});

t.test('RFC 4506 section 7: the file "sillyprog"', (t) => {
  // enum filekind { TEXT = 0, DATA = 1, EXEC = 2 };
  // union filetype switch (filekind kind) { case TEXT: void; case DATA: string creator<MAXNAMELEN>; case EXEC: string interpretor<MAXNAMELEN>; };
  // struct file { string filename<MAXNAMELEN>; filetype type; string owner<MAXUSERNAME>; opaque data<MAXFILELEN>; };
  const file: Schema = {
    t: 'struct',
    fields: [
      { t: 'string', max: 255 },
      {
        t: 'union',
        arms: [
          [0, { t: 'void' }],
          [1, { t: 'string', max: 255 }],
          [2, { t: 'string', max: 255 }],
        ],
        dflt: null,
      },
      { t: 'string', max: 32 },
      { t: 'vopaque', max: 65535 },
    ],
  };
  const golden = Buffer.from(
    '00000009' + '73696c6c' + '7970726f' + '67000000' + '00000002' + '00000004' + '6c697370' + '00000004' + '6a6f686e' + '00000006' + '28717569' + '74290000',
    'hex',
  );
  const v = decode(file, new XdrReader(golden)) as [string, { d: number; v: string }, string, Buffer];
  t.same([v[0], v[1], v[2], v[3].toString()], ['sillyprog', { d: 2, v: 'lisp' }, 'john', '(quit)']);
  const out = Buffer.alloc(golden.length + 3);
  const w = new XdrWriter(out, 3);
  encode(file, v, w);
  t.equal(out.subarray(3).toString('hex'), golden.toString('hex'), 'byte-exact re-encoding');
  t.end();
});

t.test('RFC 4506 basic types', (t) => {
  const w = new XdrWriter(Buffer.alloc(64));
  w.i32(-1).u32(0xfffffffe).i64(-2n).u64((1n << 64n) - 1n).bool(true).f32(1.5).f64(-0.25);
  t.equal(
    w.buf.subarray(0, w.offset).toString('hex'),
    'ffffffff' + 'fffffffe' + 'fffffffffffffffe' + 'ffffffffffffffff' + '00000001' + '3fc00000' + 'bfd0000000000000',
  );
  const r = new XdrReader(w.buf, 0, w.offset);
  t.equal(r.i32('a'), -1);
  t.equal(r.u32('b'), 0xfffffffe);
  t.equal(r.i64('c'), -2n);
  t.equal(r.u64('d'), (1n << 64n) - 1n, 'no loss above 2^53');
  t.equal(r.bool('e'), true);
  t.equal(r.f32('f'), 1.5);
  t.equal(r.f64('g'), -0.25);
  r.done('end');
  t.end();
});

t.test('declared lengths are checked before anything is read', (t) => {
  const huge = Buffer.from('7fffffff00000000', 'hex');
  t.throws(() => new XdrReader(huge).opaque(100, 'data'), { code: 'TOO_LONG', field: 'data', offset: 0 });
  t.throws(() => new XdrReader(huge).opaque(0xffffffff, 'data'), { code: 'SHORT_BUFFER', field: 'data', offset: 0 });
  t.throws(() => new XdrReader(huge).arrayLength(0xffffffff, 'list'), { code: 'SHORT_BUFFER' });
  t.throws(() => new XdrReader(Buffer.from('00000002', 'hex')).bool('flag'), { code: 'BAD_VALUE' });
  t.throws(() => new XdrWriter(Buffer.alloc(16)).string('toolong', 3), { code: 'UNREPRESENTABLE' });
  t.throws(() => new XdrWriter(Buffer.alloc(16)).u32(2 ** 32), { code: 'UNREPRESENTABLE' });
  t.throws(() => new XdrWriter(Buffer.alloc(16)).u64(-1n), { code: 'UNREPRESENTABLE' });
  t.throws(() => new XdrWriter(Buffer.alloc(2)).u32(1), { code: 'NO_SPACE' });
  t.end();
});
