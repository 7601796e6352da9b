import { XdrError, XdrReader, XdrWriter, opaqueLength } from '@netboot/oncrpc-xdr';

/** A decoded value and the bytes it took. */
export interface Decoded<T> {
  value: T;
  bytes: number;
}

/**
 * One XDR type of the portmapper protocol: read/write against the shared
 * reader and writer (what RPC handlers get), plus the buffer-level
 * decode / encodingLength / encodeInto every wire codec offers.
 */
export class XdrType<T> {
  constructor(
    readonly name: string,
    readonly read: (r: XdrReader) => T,
    readonly write: (w: XdrWriter, v: T) => void,
    readonly encodingLength: (v: T) => number,
  ) {}

  /** Decodes one value from `buf` at `offset`; trailing bytes are left for the caller. */
  decode(buf: Buffer, offset = 0, end = buf.length): Decoded<T> {
    const r = new XdrReader(buf, offset, end);
    const value = this.read(r);
    return { value, bytes: r.offset - offset };
  }

  /** Encodes into the caller's buffer; returns the bytes written. */
  encodeInto(v: T, buf: Buffer, offset = 0): number {
    const w = new XdrWriter(buf, offset);
    this.write(w, v);
    return w.offset - offset;
  }

  /** Encodes into a new buffer of exactly the right size. */
  encode(v: T): Buffer {
    const buf = Buffer.allocUnsafe(this.encodingLength(v));
    const n = this.encodeInto(v, buf, 0);
    if (n !== buf.length) {
      throw new XdrError('UNREPRESENTABLE', this.name, n, `wrote ${n} bytes, expected ${buf.length}`);
    }
    return buf;
  }
}

/**
 * An XDR linked list (`struct node { T item; node *next; }` reached through
 * an optional pointer): a true word before each item and a false word at the
 * end. Decoding stops at `max` items, so a hostile list can't grow unbounded.
 */
export function linkedList<T>(item: XdrType<T>, max: number, name: string): XdrType<T[]> {
  return new XdrType<T[]>(
    name,
    (r) => {
      const out: T[] = [];
      while (r.optional(name)) {
        if (out.length === max) {
          throw new XdrError('TOO_LONG', name, r.offset - 4, `more than ${max} entries`);
        }
        out.push(item.read(r));
      }
      return out;
    },
    (w, list) => {
      for (const v of list) {
        w.bool(true, name);
        item.write(w, v);
      }
      w.bool(false, name);
    },
    (list) => {
      let n = 4;
      for (const v of list) n += 4 + item.encodingLength(v);
      return n;
    },
  );
}

/** Wire length of opaque data, refusing more than the field's maximum (so encodingLength fails like the encoder). */
export function boundedOpaqueLength(n: number, max: number, field: string): number {
  if (n > max) throw new XdrError('UNREPRESENTABLE', field, 0, `${n} bytes exceed the maximum ${max}`);
  return opaqueLength(n);
}

/** Wire length of a string, refusing one longer than the field's maximum. */
export function boundedStringLength(s: string, max: number, field: string): number {
  return boundedOpaqueLength(Buffer.byteLength(s, 'utf8'), max, field);
}

/** unsigned int: GETPORT's port, GETTIME's seconds. */
export const uint = new XdrType<number>(
  'unsigned int',
  (r) => r.u32('unsigned int'),
  (w, v) => void w.u32(v, 'unsigned int'),
  () => 4,
);

/** bool: the answer to SET and UNSET. */
export const bool = new XdrType<boolean>(
  'bool',
  (r) => r.bool('bool'),
  (w, v) => void w.bool(v, 'bool'),
  () => 4,
);

/** string<max>: a universal address answer. */
export function boundedString(max: number, name: string): XdrType<string> {
  return new XdrType<string>(
    name,
    (r) => r.string(max, name),
    (w, v) => void w.string(v, max, name),
    (v) => boundedStringLength(v, max, name),
  );
}
