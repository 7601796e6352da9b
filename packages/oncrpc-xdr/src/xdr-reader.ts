import { XdrError } from './xdr-error.js';

/** Bytes of padding that follow `n` bytes of opaque data. */
export function padding(n: number): number {
  return (4 - (n & 3)) & 3;
}

/**
 * Decodes XDR (RFC 4506) from a window of a buffer. Opaque data comes back as
 * views into the input, so a caller copies only what must outlive it. Every
 * declared length is checked against the bytes that remain and against the
 * caller's maximum before anything is touched, so a hostile length never
 * sizes an allocation.
 */
export class XdrReader {
  offset: number;
  readonly end: number;

  constructor(
    readonly buf: Buffer,
    offset = 0,
    end = buf.length,
  ) {
    if (offset < 0 || end > buf.length || offset > end) {
      throw new RangeError(`reader window ${offset}..${end} lies outside a buffer of ${buf.length} bytes`);
    }
    this.offset = offset;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  private need(n: number, field: string): number {
    const at = this.offset;
    if (this.end - at < n) {
      throw new XdrError('SHORT_BUFFER', field, at, `needs ${n} bytes, ${this.end - at} remain`);
    }
    this.offset = at + n;
    return at;
  }

  u32(field: string): number {
    return this.buf.readUInt32BE(this.need(4, field));
  }

  i32(field: string): number {
    return this.buf.readInt32BE(this.need(4, field));
  }

  u64(field: string): bigint {
    return this.buf.readBigUInt64BE(this.need(8, field));
  }

  i64(field: string): bigint {
    return this.buf.readBigInt64BE(this.need(8, field));
  }

  f32(field: string): number {
    return this.buf.readFloatBE(this.need(4, field));
  }

  f64(field: string): number {
    return this.buf.readDoubleBE(this.need(8, field));
  }

  bool(field: string): boolean {
    const at = this.offset;
    const v = this.u32(field);
    if (v > 1) throw new XdrError('BAD_VALUE', field, at, `boolean is ${v}`);
    return v === 1;
  }

  /** An enum: the value must be one of `allowed` (a set of discriminants). */
  enumOf<T extends number>(allowed: ReadonlySet<number>, field: string): T {
    const at = this.offset;
    const v = this.i32(field);
    if (!allowed.has(v)) throw new XdrError('BAD_VALUE', field, at, `${v} is not a valid value`);
    return v as T;
  }

  /**
   * Fixed-length opaque[n]: a view of `n` bytes. Pad bytes are skipped
   * unchecked, as libtirpc and the Linux kernel do, so a peer that leaves
   * garbage there still interoperates.
   */
  fixedOpaque(n: number, field: string): Buffer {
    const at = this.need(n + padding(n), field);
    return this.buf.subarray(at, at + n);
  }

  /** Variable-length opaque<max>: a view of the data. */
  opaque(max: number, field: string): Buffer {
    const at = this.offset;
    const n = this.u32(field);
    if (n > max) {
      this.offset = at;
      throw new XdrError('TOO_LONG', field, at, `length ${n} exceeds the maximum ${max}`);
    }
    if (n + padding(n) > this.remaining) {
      this.offset = at;
      throw new XdrError('SHORT_BUFFER', field, at, `declares ${n} bytes, ${this.remaining - 4} remain`);
    }
    return this.fixedOpaque(n, field);
  }

  /** string<max>, decoded as UTF-8 (names on the wire are bytes; invalid sequences become U+FFFD). */
  string(max: number, field: string): string {
    return this.opaque(max, field).toString('utf8');
  }

  /**
   * The count of a variable-length array. Each element takes at least
   * `minElementSize` bytes, so a count the remaining bytes cannot hold is
   * refused before the caller allocates for it.
   */
  arrayLength(max: number, field: string, minElementSize = 4): number {
    const at = this.offset;
    const n = this.u32(field);
    if (n > max) {
      this.offset = at;
      throw new XdrError('TOO_LONG', field, at, `count ${n} exceeds the maximum ${max}`);
    }
    if (n * minElementSize > this.remaining) {
      this.offset = at;
      throw new XdrError('SHORT_BUFFER', field, at, `count ${n} cannot fit in ${this.remaining} bytes`);
    }
    return n;
  }

  /** optional-data (`*T`): whether a value follows. */
  optional(field: string): boolean {
    return this.bool(field);
  }

  /** Fails unless every byte of the window has been read. */
  done(field: string): void {
    if (this.offset !== this.end) {
      throw new XdrError('BAD_VALUE', field, this.offset, `${this.end - this.offset} unexpected trailing bytes`);
    }
  }
}
