import t from 'tap';
import fc from 'fast-check';
import { XdrError, decode, encode, encodeInto, encodingLength, type XdrCodec as Codec } from '@netboot/oncrpc-xdr';
import {
  type Fattr,
  type Sattr,
  type SetTime,
  type WccData,
  encodeReadRes,
  encodeWriteArgs,
  procedures,
  NfsStat,
  READ,
  WRITE,
} from '@netboot/nfs3';

const u32 = fc.nat({ max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
const fh = bytes(64);
const name = bytes(40);
const verf = fc.uint8Array({ minLength: 8, maxLength: 8 }).map((a) => Buffer.from(a));
const time = fc.record({ seconds: u32, nseconds: u32 });
const ftype = fc.constantFrom(1, 2, 3, 4, 5, 6, 7) as fc.Arbitrary<Fattr['type']>;
const fattr: fc.Arbitrary<Fattr> = fc.record({
  type: ftype,
  mode: u32,
  nlink: u32,
  uid: u32,
  gid: u32,
  size: u64,
  used: u64,
  rdev: fc.record({ specdata1: u32, specdata2: u32 }),
  fsid: u64,
  fileid: u64,
  atime: time,
  mtime: time,
  ctime: time,
});
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const postOp = opt(fattr);
const wcc: fc.Arbitrary<WccData> = fc.record({
  before: opt(fc.record({ size: u64, mtime: time, ctime: time })),
  after: postOp,
});
const setTime: fc.Arbitrary<SetTime> = fc.oneof(
  fc.constant({ how: 0 as const }),
  fc.constant({ how: 1 as const }),
  time.map((t) => ({ how: 2 as const, time: t })),
);
const sattr: fc.Arbitrary<Sattr> = fc.record({
  mode: opt(u32),
  uid: opt(u32),
  gid: opt(u32),
  size: opt(u64),
  atime: setTime,
  mtime: setTime,
});
const dirop = fc.record({ dir: fh, name });
const errStatus = fc.constantFrom(...Object.values(NfsStat).filter((s) => s !== 0)) as fc.Arbitrary<
  Exclude<(typeof NfsStat)[keyof typeof NfsStat], 0>
>;
const res = <Ok extends object, Fail extends object>(ok: fc.Arbitrary<Ok>, fail: fc.Arbitrary<Fail>) =>
  fc.oneof(
    ok.map((o) => ({ status: 0 as const, ...o })),
    fc.tuple(errStatus, fail).map(([status, f]) => ({ status, ...f })),
  );
const attrOnly = fc.record({ attributes: postOp });
const newObj = res(fc.record({ object: opt(fh), attributes: postOp, dirWcc: wcc }), fc.record({ dirWcc: wcc }));
const stable = fc.constantFrom(0 as const, 1 as const, 2 as const);

// Arguments and results of every procedure.
const cases: Record<string, [fc.Arbitrary<unknown>, fc.Arbitrary<unknown>]> = {
  NULL: [fc.constant({}), fc.constant({})],
  GETATTR: [fc.record({ object: fh }), res(fc.record({ attributes: fattr }), fc.constant({}))],
  SETATTR: [
    fc.record({ object: fh, attributes: sattr, guard: opt(time) }),
    res(fc.record({ wcc }), fc.record({ wcc })),
  ],
  LOOKUP: [dirop, res(fc.record({ object: fh, attributes: postOp, dirAttributes: postOp }), fc.record({ dirAttributes: postOp }))],
  ACCESS: [fc.record({ object: fh, access: u32 }), res(fc.record({ attributes: postOp, access: u32 }), attrOnly)],
  READLINK: [fc.record({ object: fh }), res(fc.record({ attributes: postOp, data: bytes(100) }), attrOnly)],
  READ: [
    fc.record({ file: fh, offset: u64, count: u32 }),
    res(fc.record({ attributes: postOp, count: u32, eof: fc.boolean(), data: bytes(100) }), attrOnly),
  ],
  WRITE: [
    fc.record({ file: fh, offset: u64, count: u32, stable, data: bytes(100) }),
    res(fc.record({ wcc, count: u32, committed: stable, verf }), fc.record({ wcc })),
  ],
  CREATE: [
    fc.record({
      where: dirop,
      how: fc.oneof(
        fc.record({ mode: fc.constantFrom(0 as const, 1 as const), attributes: sattr }),
        fc.record({ mode: fc.constant(2 as const), verf }),
      ),
    }),
    newObj,
  ],
  MKDIR: [fc.record({ where: dirop, attributes: sattr }), newObj],
  SYMLINK: [fc.record({ where: dirop, attributes: sattr, data: bytes(100) }), newObj],
  MKNOD: [
    fc.record({
      where: dirop,
      what: fc.oneof(
        fc.record({
          type: fc.constantFrom(3 as const, 4 as const),
          attributes: sattr,
          spec: fc.record({ specdata1: u32, specdata2: u32 }),
        }),
        fc.record({ type: fc.constantFrom(6 as const, 7 as const), attributes: sattr }),
        fc.record({ type: fc.constantFrom(1 as const, 2 as const, 5 as const) }),
      ),
    }),
    newObj,
  ],
  REMOVE: [dirop, res(fc.record({ dirWcc: wcc }), fc.record({ dirWcc: wcc }))],
  RMDIR: [dirop, res(fc.record({ dirWcc: wcc }), fc.record({ dirWcc: wcc }))],
  RENAME: [
    fc.record({ from: dirop, to: dirop }),
    res(fc.record({ fromWcc: wcc, toWcc: wcc }), fc.record({ fromWcc: wcc, toWcc: wcc })),
  ],
  LINK: [
    fc.record({ file: fh, link: dirop }),
    res(fc.record({ attributes: postOp, dirWcc: wcc }), fc.record({ attributes: postOp, dirWcc: wcc })),
  ],
  READDIR: [
    fc.record({ dir: fh, cookie: u64, cookieverf: verf, count: u32 }),
    res(
      fc.record({
        attributes: postOp,
        cookieverf: verf,
        entries: fc.array(fc.record({ fileid: u64, name, cookie: u64 }), { maxLength: 5 }),
        eof: fc.boolean(),
      }),
      attrOnly,
    ),
  ],
  READDIRPLUS: [
    fc.record({ dir: fh, cookie: u64, cookieverf: verf, dircount: u32, maxcount: u32 }),
    res(
      fc.record({
        attributes: postOp,
        cookieverf: verf,
        entries: fc.array(
          fc.record({ fileid: u64, name, cookie: u64, attributes: postOp, handle: opt(fh) }),
          { maxLength: 4 },
        ),
        eof: fc.boolean(),
      }),
      attrOnly,
    ),
  ],
  FSSTAT: [
    fc.record({ object: fh }),
    res(
      fc.record({ attributes: postOp, tbytes: u64, fbytes: u64, abytes: u64, tfiles: u64, ffiles: u64, afiles: u64, invarsec: u32 }),
      attrOnly,
    ),
  ],
  FSINFO: [
    fc.record({ object: fh }),
    res(
      fc.record({
        attributes: postOp,
        rtmax: u32,
        rtpref: u32,
        rtmult: u32,
        wtmax: u32,
        wtpref: u32,
        wtmult: u32,
        dtpref: u32,
        maxfilesize: u64,
        timeDelta: time,
        properties: u32,
      }),
      attrOnly,
    ),
  ],
  PATHCONF: [
    fc.record({ object: fh }),
    res(
      fc.record({
        attributes: postOp,
        linkmax: u32,
        nameMax: u32,
        noTrunc: fc.boolean(),
        chownRestricted: fc.boolean(),
        caseInsensitive: fc.boolean(),
        casePreserving: fc.boolean(),
      }),
      attrOnly,
    ),
  ],
  COMMIT: [fc.record({ file: fh, offset: u64, count: u32 }), res(fc.record({ wcc, verf }), fc.record({ wcc }))],
};

const typedOrValue = (c: Codec<unknown>, buf: Buffer) => {
  try {
    decode(c, buf);
  } catch (e) {
    if (!(e instanceof XdrError)) throw e;
  }
  return true;
};

t.test('every procedure has arguments and results covered', async (t) => {
  t.same(Object.keys(cases).sort(), Object.keys(procedures).sort());
});

for (const [proc, [argsArb, resArb]] of Object.entries(cases)) {
  const p = procedures[proc as keyof typeof procedures];
  for (const [kind, codec, arb] of [
    ['args', p.args, argsArb],
    ['res', p.res, resArb],
  ] as [string, Codec<unknown>, fc.Arbitrary<unknown>][]) {
    t.test(`${proc} ${kind}`, async (t) => {
      t.doesNotThrow(() => fc.assert(
        fc.property(arb, fc.nat({ max: 16 }), (v, at) => {
          const n = encodingLength(codec, v);
          const buf = Buffer.alloc(at + n + 3);
          const written = encodeInto(codec, v, buf, at);
          if (written !== n) return false;
          const back = decode(codec, buf, at, at + n);
          if (!encode(codec, back).equals(buf.subarray(at, at + n))) return false;
          // every truncation is a typed error
          for (let cut = 0; cut < n; cut++) {
            try {
              decode(codec, buf, at, at + cut);
              return false;
            } catch (e) {
              if (!(e instanceof XdrError)) throw e;
            }
          }
          return true;
        }),
        { seed: 42, numRuns: 100 },
      ), 'round trip at an offset, length, truncations');
      t.doesNotThrow(() => fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (a) => typedOrValue(codec, Buffer.from(a))), {
        seed: 42,
        numRuns: 200,
      }), 'random bytes give a value or an XdrError');
    });
  }
}

t.test('READ reply vector equals the plain encoding without copying the data', async (t) => {
  const data = Buffer.from('hello, world!');
  const res = { status: 0 as const, attributes: undefined, count: 13, eof: true, data };
  const chunks = encodeReadRes(res);
  t.equal(chunks[1], data, 'data is the very buffer passed in');
  t.same(Buffer.concat(chunks), encode(READ.res, res));
  const wargs = { file: Buffer.from([1, 2, 3]), offset: 5n, count: 13, stable: 2 as const, data };
  t.same(Buffer.concat(encodeWriteArgs(wargs)), encode(WRITE.args, wargs));
});

t.test('a handle longer than 64 bytes is refused', async (t) => {
  const buf = Buffer.alloc(4 + 68);
  buf.writeUInt32BE(68, 0);
  t.throws(() => decode(procedures.GETATTR.args, buf), { code: 'TOO_LONG' });
});
