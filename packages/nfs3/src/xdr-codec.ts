import { XdrError, XdrReader, XdrWriter, opaqueLength } from '@netboot/oncrpc-xdr';

/**
 * One XDR type: how to read it, write it and size it. NFSv3 has dozens of
 * structures that differ only in their fields, so they are declared once
 * as data (see nfs3-types.ts) and these three operations come for free,
 * for the server and the client alike.
 */
export interface Codec<T> {
  read(r: XdrReader, field: string): T;
  write(w: XdrWriter, v: T, field: string): void;
  size(v: T): number;
}

export const u32: Codec<number> = {
  read: (r, f) => r.u32(f),
  write: (w, v, f) => void w.u32(v, f),
  size: () => 4,
};

export const u64: Codec<bigint> = {
  read: (r, f) => r.u64(f),
  write: (w, v, f) => void w.u64(v, f),
  size: () => 8,
};

export const bool: Codec<boolean> = {
  read: (r, f) => r.bool(f),
  write: (w, v, f) => void w.bool(v, f),
  size: () => 4,
};

export const empty: Codec<Record<string, never>> = {
  read: () => ({}),
  write: () => {},
  size: () => 0,
};

/** An enum whose value must be one of `values`. */
export function enumOf<T extends number>(values: readonly T[]): Codec<T> {
  const allowed = new Set<number>(values);
  return {
    read: (r, f) => r.enumOf<T>(allowed, f),
    write: (w, v, f) => {
      if (!allowed.has(v)) throw new XdrError('UNREPRESENTABLE', f, w.offset, `${v} is not a valid value`);
      w.i32(v, f);
    },
    size: () => 4,
  };
}

/** Variable-length opaque<max>, decoded as a view of the input. */
export function opaque(max: number): Codec<Buffer> {
  return {
    read: (r, f) => r.opaque(max, f),
    write: (w, v, f) => void w.opaque(v, max, f),
    size: (v) => opaqueLength(v.length),
  };
}

/** Fixed-length opaque[n], decoded as a view of the input. */
export function fixed(n: number): Codec<Buffer> {
  return {
    read: (r, f) => r.fixedOpaque(n, f),
    write: (w, v, f) => void w.fixedOpaque(v, n, f),
    size: () => n + ((4 - (n & 3)) & 3),
  };
}

/**
 * string<max> kept as bytes: file names on the wire are byte strings, and a
 * name that is not UTF-8 must still map back to the same file.
 */
export const name = (max: number): Codec<Buffer> => opaque(max);

/** optional-data `*T`, and every `union switch (bool set_it)`: the same wire. */
export function optional<T>(c: Codec<T>): Codec<T | undefined> {
  return {
    read: (r, f) => (r.bool(f) ? c.read(r, f) : undefined),
    write: (w, v, f) => {
      w.bool(v !== undefined, f);
      if (v !== undefined) c.write(w, v, f);
    },
    size: (v) => 4 + (v === undefined ? 0 : c.size(v)),
  };
}

type Fields<T> = { [K in keyof T]-?: Codec<T[K]> };

/** A struct: fields in declaration order. */
export function struct<T extends object>(typeName: string, fields: Fields<T>): Codec<T> {
  const entries = Object.entries(fields) as [keyof T & string, Codec<unknown>][];
  return {
    read(r, f) {
      const out: Record<string, unknown> = {};
      for (const [k, c] of entries) out[k] = c.read(r, `${f || typeName}.${k}`);
      return out as T;
    },
    write(w, v, f) {
      for (const [k, c] of entries) c.write(w, (v as Record<string, unknown>)[k], `${f || typeName}.${k}`);
    },
    size(v) {
      let n = 0;
      for (const [k, c] of entries) n += c.size((v as Record<string, unknown>)[k]);
      return n;
    },
  };
}

/**
 * A linked list as XDR spells it (`entry *next` ending in FALSE), read into
 * an array. Each element costs at least four bytes of input, so the count is
 * bounded by the record length, and additionally by `max`.
 */
export function list<T>(c: Codec<T>, max: number): Codec<T[]> {
  return {
    read(r, f) {
      const out: T[] = [];
      while (r.bool(f)) {
        if (out.length >= max) throw new XdrError('TOO_LONG', f, r.offset, `more than ${max} entries`);
        out.push(c.read(r, `${f}[${out.length}]`));
      }
      return out;
    },
    write(w, v, f) {
      v.forEach((e, i) => {
        w.bool(true, f);
        c.write(w, e, `${f}[${i}]`);
      });
      w.bool(false, f);
    },
    size(v) {
      let n = 4;
      for (const e of v) n += 4 + c.size(e);
      return n;
    },
  };
}

/** Bytes `v` takes on the wire. */
export function encodingLength<T>(c: Codec<T>, v: T): number {
  return c.size(v);
}

/** Writes `v` at `offset`; returns the bytes written. */
export function encodeInto<T>(c: Codec<T>, v: T, buf: Buffer, offset = 0, field = ''): number {
  const w = new XdrWriter(buf, offset);
  c.write(w, v, field);
  return w.offset - offset;
}

/** Encodes into a new buffer of exactly the right size. */
export function encode<T>(c: Codec<T>, v: T, field = ''): Buffer {
  const buf = Buffer.allocUnsafe(c.size(v));
  encodeInto(c, v, buf, 0, field);
  return buf;
}

/** Decodes one value that must fill `buf` from `offset` to `end`. */
export function decode<T>(c: Codec<T>, buf: Buffer, offset = 0, end = buf.length, field = ''): T {
  const r = new XdrReader(buf, offset, end);
  const v = c.read(r, field);
  r.done(field || 'message');
  return v;
}
