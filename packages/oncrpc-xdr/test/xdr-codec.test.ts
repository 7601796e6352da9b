import t from 'tap';
import fc from 'fast-check';
import {
  XdrReader,
  array,
  bool,
  decode,
  empty,
  encode,
  encodeInto,
  encodingLength,
  enumOf,
  fixed,
  fixedArray,
  i32,
  linkedList,
  opaque,
  optional,
  string,
  struct,
  u32,
  u64,
  union,
} from '@netboot/oncrpc-xdr';
import { xdrProperties } from '../../../test/support/xdr-properties.js';

// A schema that uses every combinator once, nested the way the protocols nest them.
type Shape = { kind: 0 } | { kind: 1; radius: number } | { kind: 2; corners: number[]; label: string };
interface Node {
  id: bigint;
  flag: boolean;
  colour: 1 | 2 | 3;
  tag: Buffer;
  blob: Buffer;
  note: string | undefined;
  ints: number[];
  pair: number[];
  shape: Shape;
  children: { name: string; weight: number }[];
}

const circle = struct<{ radius: number }>('circle', { radius: u32 });
const polygon = struct<{ corners: number[]; label: string }>('polygon', { corners: array(i32, 6), label: string(12) });
const shape = union<Shape>('shape', 'kind', enumOf([0, 1, 2], 'shape_kind'), (k) => (k === 1 ? circle : k === 2 ? polygon : empty), 'sk_kind');
const child = struct<{ name: string; weight: number }>('child', { name: [string(16), 'c_name'], weight: i32 });
const node = struct<Node>('node', {
  id: u64,
  flag: bool,
  colour: enumOf([1, 2, 3] as const, 'colour'),
  tag: fixed(5),
  blob: opaque(20),
  note: optional(string(30)),
  ints: array(u32, 4),
  pair: fixedArray(i32, 2),
  shape,
  children: linkedList(child, 3, 'children'),
});

const u32a = fc.nat({ max: 0xffffffff });
const i32a = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const buf = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max }).map((a) => Buffer.from(a));
const plain = <T>(m: { [K in keyof T]: fc.Arbitrary<T[K]> }) => fc.record(m, { noNullPrototype: true }) as fc.Arbitrary<T>;
const shapeArb: fc.Arbitrary<Shape> = fc.oneof(
  fc.constant({ kind: 0 as const }),
  u32a.map((radius) => ({ kind: 1 as const, radius })),
  fc.tuple(fc.array(i32a, { maxLength: 6 }), fc.string({ maxLength: 12 })).map(([corners, label]) => ({ kind: 2 as const, corners, label })),
);
const nodeArb: fc.Arbitrary<Node> = plain<Node>({
  id: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  flag: fc.boolean(),
  colour: fc.constantFrom(1 as const, 2 as const, 3 as const),
  tag: buf(5, 5),
  blob: buf(0, 20),
  note: fc.option(fc.string({ maxLength: 30 }), { nil: undefined }),
  ints: fc.array(u32a, { maxLength: 4 }),
  pair: fc.array(i32a, { minLength: 2, maxLength: 2 }),
  shape: shapeArb,
  children: fc.array(plain({ name: fc.string({ maxLength: 16 }), weight: i32a }), { maxLength: 3 }),
});

xdrProperties(t, 'node', node, nodeArb);
xdrProperties(t, 'shape', shape, shapeArb);
xdrProperties(t, 'linked list of nodes', linkedList(node, 4, 'nodes'), fc.array(nodeArb, { maxLength: 4 }));

t.test('golden: a struct with every combinator encodes byte-exact', async (t) => {
  const v: Node = {
    id: 0x0102030405060708n,
    flag: true,
    colour: 3,
    tag: Buffer.from('abcde'),
    blob: Buffer.from([9, 8, 7]),
    note: 'hi',
    ints: [1, 2],
    pair: [-1, 5],
    shape: { kind: 1, radius: 7 },
    children: [{ name: 'x', weight: 2 }],
  };
  const hex =
    '0102030405060708' + '00000001' + '00000003' + '6162636465000000' + '00000003' + '09080700' +
    '00000001' + '00000002' + '68690000' + '00000002' + '00000001' + '00000002' + 'ffffffff' + '00000005' +
    '00000001' + '00000007' + '00000001' + '00000001' + '78000000' + '00000002' + '00000000';
  t.equal(encode(node, v).toString('hex'), hex);
  t.equal(encodingLength(node, v), hex.length / 2);
  const out = Buffer.alloc(hex.length / 2 + 3);
  t.equal(encodeInto(node, v, out, 3), hex.length / 2);
  t.same(node.decode(out, 3).value, v);
});

t.test('errors name the member, under the RFC name where one is given', async (t) => {
  const v = { name: 'n'.repeat(17), weight: 0 };
  t.throws(() => child.encode(v), { code: 'UNREPRESENTABLE', field: 'child.c_name' }, 'encodingLength refuses like the writer');
  t.throws(() => child.encodeInto(v, Buffer.alloc(64)), { code: 'UNREPRESENTABLE', field: 'child.c_name' });
  t.throws(() => circle.encode({ radius: -1 }), { code: 'UNREPRESENTABLE', field: 'circle.radius' });
  t.throws(() => shape.decode(Buffer.from('00000009', 'hex')), { code: 'BAD_VALUE', field: 'shape.sk_kind', offset: 0 });
  t.throws(() => shape.encode({ kind: 9 } as never), { code: 'UNREPRESENTABLE', field: 'shape.sk_kind' });
  t.throws(() => polygon.encode({ corners: [1, 2, 3, 4, 5, 6, 7], label: '' }), { code: 'UNREPRESENTABLE', field: 'polygon.corners' });
  t.throws(() => fixedArray(i32, 2).encode([1]), { code: 'UNREPRESENTABLE' });
  t.throws(() => u32.read(new XdrReader(Buffer.alloc(2))), { code: 'SHORT_BUFFER', field: 'unsigned int' });
  t.throws(() => u32.read(new XdrReader(Buffer.alloc(2)), 'x.y'), { code: 'SHORT_BUFFER', field: 'x.y' });
  t.throws(() => circle.encodeInto({ radius: 1 }, Buffer.alloc(3)), { code: 'NO_SPACE' });
});

t.test('hostile counts and lengths are refused before allocation', async (t) => {
  const big = Buffer.alloc(12);
  big.writeUInt32BE(0x7fffffff, 0);
  t.throws(() => array(u32, 0xffffffff).decode(big), { code: 'SHORT_BUFFER' }, 'a count the input cannot hold');
  t.throws(() => array(u32, 2).decode(big), { code: 'TOO_LONG' });
  t.throws(() => opaque(8, 'o').decode(big), { code: 'TOO_LONG', field: 'o', offset: 0 });
  const list = Buffer.alloc(4 * 8 + 4);
  for (let i = 0; i < 4; i++) list.writeUInt32BE(1, i * 8);
  t.throws(() => linkedList(u32, 3, 'l').decode(list), { code: 'TOO_LONG', field: 'l', offset: 24 });
  t.same(linkedList(u32, 4, 'l').decode(list).value, [0, 0, 0, 0]);
  t.throws(() => bool.decode(Buffer.from('00000002', 'hex')), { code: 'BAD_VALUE' });
});

t.test('decode() of a whole message refuses trailing bytes; codec.decode leaves them', async (t) => {
  const b = Buffer.from('0000000700000008', 'hex');
  t.same(u32.decode(b), { value: 7, bytes: 4 });
  t.throws(() => decode(u32, b), { code: 'BAD_VALUE' });
  t.equal(decode(u32, b, 4), 8);
  t.same(decode(empty, Buffer.alloc(0)), {});
});
