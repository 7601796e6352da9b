import { XdrError } from './xdr-error.js';
import { XdrReader, padding } from './xdr-reader.js';
import { XdrWriter, opaqueLength } from './xdr-writer.js';

/** A decoded value and the bytes it took. */
export interface Decoded<T> {
  value: T;
  bytes: number;
}

/**
 * One XDR type. `read`/`write` work on the shared reader and writer (what an
 * RPC handler holds); `decode`/`encodingLength`/`encodeInto`/`encode` are the
 * buffer-level operations every wire codec offers.
 *
 * `field` is the name an error reports, defaulting to the codec's own. A
 * struct hands each member `type.member`, built once when the struct is
 * declared, so naming costs nothing per message. `encodingLength` refuses a
 * value the writer would refuse for its length, so sizing fails like encoding.
 */
export interface XdrCodec<T> {
  readonly name: string;
  read(r: XdrReader, field?: string): T;
  write(w: XdrWriter, value: T, field?: string): void;
  encodingLength(value: T, field?: string): number;
  /** Decodes one value from `buf[offset, end)`; byte fields are views; trailing bytes are left to the caller. */
  decode(buf: Buffer, offset?: number, end?: number): Decoded<T>;
  /** Writes `value` at `offset`; returns the bytes written. */
  encodeInto(value: T, buf: Buffer, offset?: number): number;
  /** Encodes into a new buffer of exactly the right size. */
  encode(value: T): Buffer;
}

/** A struct: besides the value, it can read its members into an object a union has started. */
export interface StructCodec<T> extends XdrCodec<T> {
  readInto(r: XdrReader, out: Record<string, unknown>): void;
}

class Codec<T> implements XdrCodec<T> {
  constructor(
    readonly name: string,
    readonly read: (r: XdrReader, field?: string) => T,
    readonly write: (w: XdrWriter, value: T, field?: string) => void,
    readonly encodingLength: (value: T, field?: string) => number,
  ) {}

  decode(buf: Buffer, offset = 0, end = buf.length): Decoded<T> {
    const r = new XdrReader(buf, offset, end);
    const value = this.read(r);
    return { value, bytes: r.offset - offset };
  }

  encodeInto(value: T, buf: Buffer, offset = 0): number {
    const w = new XdrWriter(buf, offset);
    this.write(w, value);
    return w.offset - offset;
  }

  encode(value: T): Buffer {
    const buf = Buffer.allocUnsafe(this.encodingLength(value));
    const n = this.encodeInto(value, buf, 0);
    if (n !== buf.length) throw new XdrError('UNREPRESENTABLE', this.name, n, `wrote ${n} bytes, expected ${buf.length}`);
    return buf;
  }
}

/** A codec from its three operations; every other operation is derived. */
export function xdrCodec<T>(
  name: string,
  read: (r: XdrReader, field?: string) => T,
  write: (w: XdrWriter, value: T, field?: string) => void,
  encodingLength: (value: T, field?: string) => number,
): XdrCodec<T> {
  return new Codec(name, read, write, encodingLength);
}

function refuseLonger(n: number, max: number, field: string): void {
  if (n > max) throw new XdrError('UNREPRESENTABLE', field, 0, `${n} bytes exceed the maximum ${max}`);
}

export const u32 = xdrCodec<number>(
  'unsigned int',
  (r, f = 'unsigned int') => r.u32(f),
  (w, v, f = 'unsigned int') => void w.u32(v, f),
  () => 4,
);

export const i32 = xdrCodec<number>(
  'int',
  (r, f = 'int') => r.i32(f),
  (w, v, f = 'int') => void w.i32(v, f),
  () => 4,
);

export const u64 = xdrCodec<bigint>(
  'unsigned hyper',
  (r, f = 'unsigned hyper') => r.u64(f),
  (w, v, f = 'unsigned hyper') => void w.u64(v, f),
  () => 8,
);

export const bool = xdrCodec<boolean>(
  'bool',
  (r, f = 'bool') => r.bool(f),
  (w, v, f = 'bool') => void w.bool(v, f),
  () => 4,
);

/** An enum whose value must be one of `values`, on both sides. */
export function enumOf<T extends number>(values: readonly T[], name = 'enum'): XdrCodec<T> {
  const allowed: ReadonlySet<number> = new Set(values);
  return xdrCodec<T>(
    name,
    (r, f = name) => r.enumOf<T>(allowed, f),
    (w, v, f = name) => {
      if (!allowed.has(v)) throw new XdrError('UNREPRESENTABLE', f, w.offset, `${v} is not a valid value`);
      w.i32(v, f);
    },
    () => 4,
  );
}

/** Variable-length opaque<max>, decoded as a view of the input. */
export function opaque(max: number, name = 'opaque'): XdrCodec<Buffer> {
  return xdrCodec<Buffer>(
    name,
    (r, f = name) => r.opaque(max, f),
    (w, v, f = name) => void w.opaque(v, max, f),
    (v, f = name) => {
      refuseLonger(v.length, max, f);
      return opaqueLength(v.length);
    },
  );
}

/** Fixed-length opaque[n], decoded as a view of the input. */
export function fixed(n: number, name = 'opaque'): XdrCodec<Buffer> {
  const length = n + padding(n);
  return xdrCodec<Buffer>(
    name,
    (r, f = name) => r.fixedOpaque(n, f),
    (w, v, f = name) => void w.fixedOpaque(v, n, f),
    () => length,
  );
}

/** string<max> as UTF-8 text (invalid sequences decode to U+FFFD; keep names as opaque where bytes matter). */
export function string(max: number, name = 'string'): XdrCodec<string> {
  return xdrCodec<string>(
    name,
    (r, f = name) => r.string(max, f),
    (w, v, f = name) => void w.string(v, max, f),
    (v, f = name) => {
      const n = Buffer.byteLength(v, 'utf8');
      refuseLonger(n, max, f);
      return opaqueLength(n);
    },
  );
}

/** optional-data `*T`, and every `union switch (bool)` with a void arm: the same wire. */
export function optional<T>(item: XdrCodec<T>, name = `*${item.name}`): XdrCodec<T | undefined> {
  return xdrCodec<T | undefined>(
    name,
    (r, f = name) => (r.optional(f) ? item.read(r, f) : undefined),
    (w, v, f = name) => {
      w.bool(v !== undefined, f);
      if (v !== undefined) item.write(w, v, f);
    },
    (v, f = name) => (v === undefined ? 4 : 4 + item.encodingLength(v, f)),
  );
}

/** Variable-length array T<max>; each element needs `minElementSize` bytes of input, so a count is checked before allocating. */
export function array<T>(item: XdrCodec<T>, max: number, name = `${item.name}<>`, minElementSize = 4): XdrCodec<T[]> {
  return xdrCodec<T[]>(
    name,
    (r, f = name) => {
      const n = r.arrayLength(max, f, minElementSize);
      const out: T[] = [];
      for (let i = 0; i < n; i++) out.push(item.read(r, f));
      return out;
    },
    (w, v, f = name) => {
      if (v.length > max) throw new XdrError('UNREPRESENTABLE', f, w.offset, `${v.length} elements exceed the maximum ${max}`);
      w.u32(v.length, f);
      for (const e of v) item.write(w, e, f);
    },
    (v, f = name) => {
      let n = 4;
      for (const e of v) n += item.encodingLength(e, f);
      return n;
    },
  );
}

/** Fixed-length array T[n]: exactly `n` elements, no count on the wire. */
export function fixedArray<T>(item: XdrCodec<T>, n: number, name = `${item.name}[${n}]`): XdrCodec<T[]> {
  return xdrCodec<T[]>(
    name,
    (r, f = name) => {
      const out: T[] = [];
      for (let i = 0; i < n; i++) out.push(item.read(r, f));
      return out;
    },
    (w, v, f = name) => {
      if (v.length !== n) throw new XdrError('UNREPRESENTABLE', f, w.offset, `needs ${n} elements, got ${v.length}`);
      for (const e of v) item.write(w, e, f);
    },
    (v, f = name) => {
      let len = 0;
      for (const e of v) len += item.encodingLength(e, f);
      return len;
    },
  );
}

/**
 * An XDR linked list (`struct node { T item; node *next; }` reached through
 * an optional pointer): a TRUE word before each item, FALSE at the end, read
 * into an array. Each item costs input bytes, so the input bounds the loop;
 * `max` bounds it further, so a hostile list can't grow past what a peer sends.
 * Items report errors under their own names.
 */
export function linkedList<T>(item: XdrCodec<T>, max: number, name: string): XdrCodec<T[]> {
  return xdrCodec<T[]>(
    name,
    (r, f = name) => {
      const out: T[] = [];
      while (r.optional(f)) {
        if (out.length >= max) throw new XdrError('TOO_LONG', f, r.offset - 4, `more than ${max} entries`);
        out.push(item.read(r));
      }
      return out;
    },
    (w, v, f = name) => {
      for (const e of v) {
        w.bool(true, f);
        item.write(w, e);
      }
      w.bool(false, f);
    },
    (v) => {
      let n = 4;
      for (const e of v) n += 4 + item.encodingLength(e);
      return n;
    },
  );
}

/** A struct member: its codec, or its codec and the member's name in the RFC when that differs from the property. */
type Member<V> = XdrCodec<V> | readonly [XdrCodec<V>, string];
export type StructMembers<T> = { [K in keyof T]-?: Member<T[K]> };

/** A struct: members in declaration order, decoded into a plain object. */
export function struct<T extends object>(typeName: string, members: StructMembers<T>): StructCodec<T> {
  const entries = Object.entries(members as Record<string, Member<unknown>>);
  const keys = entries.map(([k]) => k);
  const codecs = entries.map(([, m]) => (Array.isArray(m) ? m[0] : m) as XdrCodec<unknown>);
  const fields = entries.map(([k, m]) => `${typeName}.${Array.isArray(m) ? m[1] : k}`);
  const n = keys.length;
  const readInto = (r: XdrReader, out: Record<string, unknown>): void => {
    for (let i = 0; i < n; i++) out[keys[i]!] = codecs[i]!.read(r, fields[i]);
  };
  const codec = xdrCodec<T>(
    typeName,
    (r) => {
      const out: Record<string, unknown> = {};
      readInto(r, out);
      return out as T;
    },
    (w, v) => {
      const o = v as Record<string, unknown>;
      for (let i = 0; i < n; i++) codecs[i]!.write(w, o[keys[i]!], fields[i]);
    },
    (v) => {
      const o = v as Record<string, unknown>;
      let len = 0;
      for (let i = 0; i < n; i++) len += codecs[i]!.encodingLength(o[keys[i]!], fields[i]);
      return len;
    },
  );
  return Object.assign(codec, { readInto });
}

/** The struct with no members: `void`, and the empty arm of a union. */
export const empty: StructCodec<Record<string, never>> = struct<Record<string, never>>('void', {});

/**
 * A discriminated union, flattened: the value is one object holding the
 * discriminant under `tag` and the members of the arm it selects. `arm`
 * picks the arm (a struct, `empty` for void) for a discriminant that
 * `discriminant` already accepted. `tagName` is the discriminant's name in the RFC.
 */
export function union<T extends object>(
  name: string,
  tag: string,
  discriminant: XdrCodec<number>,
  arm: (d: number) => StructCodec<object>,
  tagName = tag,
): XdrCodec<T> {
  const tagField = `${name}.${tagName}`;
  return xdrCodec<T>(
    name,
    (r) => {
      const d = discriminant.read(r, tagField);
      const out: Record<string, unknown> = { [tag]: d };
      arm(d).readInto(r, out);
      return out as T;
    },
    (w, v) => {
      const d = (v as Record<string, unknown>)[tag] as number;
      discriminant.write(w, d, tagField);
      arm(d).write(w, v);
    },
    (v) => {
      const d = (v as Record<string, unknown>)[tag] as number;
      return discriminant.encodingLength(d, tagField) + arm(d).encodingLength(v);
    },
  );
}

/*
 * The same operations as functions, for callers that hold codecs as data
 * (a table of procedures) and for the packages that always spelled them so.
 */

export function encodingLength<T>(c: XdrCodec<T>, value: T): number {
  return c.encodingLength(value);
}

export function encodeInto<T>(c: XdrCodec<T>, value: T, buf: Buffer, offset = 0): number {
  return c.encodeInto(value, buf, offset);
}

export function encode<T>(c: XdrCodec<T>, value: T): Buffer {
  return c.encode(value);
}

/** Decodes one value that must fill `buf[offset, end)` exactly: a whole message body, where trailing bytes mean a malformed peer. */
export function decode<T>(c: XdrCodec<T>, buf: Buffer, offset = 0, end = buf.length): T {
  const r = new XdrReader(buf, offset, end);
  const value = c.read(r);
  r.done(c.name);
  return value;
}
