import { XdrError } from './xdr-error.js';
import { padding } from './xdr-reader.js';

const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

/** Bytes that variable-length opaque or string data of `n` bytes takes on the wire. */
export function opaqueLength(n: number): number {
  return 4 + n + padding(n);
}

/** Bytes that a string takes on the wire, with its length word and padding. */
export function stringLength(s: string): number {
  return opaqueLength(Buffer.byteLength(s, 'utf8'));
}

/**
 * Encodes XDR into a caller's buffer from `offset`. Values the wire can't
 * carry (out of range, longer than the field's maximum) are refused with an
 * XdrError rather than truncated, and so is running out of buffer.
 */
export class XdrWriter {
  offset: number;

  constructor(
    readonly buf: Buffer,
    offset = 0,
    readonly end = buf.length,
  ) {
    this.offset = offset;
  }

  /** Bytes written since `start`. */
  length(start: number): number {
    return this.offset - start;
  }

  private room(n: number, field: string): number {
    const at = this.offset;
    if (this.end - at < n) {
      throw new XdrError('NO_SPACE', field, at, `needs ${n} bytes, ${this.end - at} left in the output`);
    }
    this.offset = at + n;
    return at;
  }

  u32(v: number, field = 'unsigned int'): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
      throw new XdrError('UNREPRESENTABLE', field, this.offset, `${v} is not an unsigned 32-bit integer`);
    }
    this.buf.writeUInt32BE(v, this.room(4, field));
    return this;
  }

  i32(v: number, field = 'int'): this {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) {
      throw new XdrError('UNREPRESENTABLE', field, this.offset, `${v} is not a signed 32-bit integer`);
    }
    this.buf.writeInt32BE(v, this.room(4, field));
    return this;
  }

  u64(v: bigint, field = 'unsigned hyper'): this {
    if (v < 0n || v > U64_MAX) {
      throw new XdrError('UNREPRESENTABLE', field, this.offset, `${v} is not an unsigned 64-bit integer`);
    }
    this.buf.writeBigUInt64BE(v, this.room(8, field));
    return this;
  }

  i64(v: bigint, field = 'hyper'): this {
    if (v < I64_MIN || v > I64_MAX) {
      throw new XdrError('UNREPRESENTABLE', field, this.offset, `${v} is not a signed 64-bit integer`);
    }
    this.buf.writeBigInt64BE(v, this.room(8, field));
    return this;
  }

  f32(v: number, field = 'float'): this {
    this.buf.writeFloatBE(v, this.room(4, field));
    return this;
  }

  f64(v: number, field = 'double'): this {
    this.buf.writeDoubleBE(v, this.room(8, field));
    return this;
  }

  bool(v: boolean, field = 'bool'): this {
    this.buf.writeUInt32BE(v ? 1 : 0, this.room(4, field));
    return this;
  }

  /** Fixed-length opaque[n]: `data` must be exactly `n` bytes. */
  fixedOpaque(data: Uint8Array, n: number, field = 'opaque'): this {
    if (data.length !== n) {
      throw new XdrError('UNREPRESENTABLE', field, this.offset, `fixed opaque needs ${n} bytes, got ${data.length}`);
    }
    const at = this.room(n + padding(n), field);
    this.buf.set(data, at);
    this.buf.fill(0, at + n, at + n + padding(n));
    return this;
  }

  /** Variable-length opaque<max>. */
  opaque(data: Uint8Array, max = 0xffffffff, field = 'opaque'): this {
    if (data.length > max) {
      throw new XdrError('UNREPRESENTABLE', field, this.offset, `${data.length} bytes exceed the maximum ${max}`);
    }
    this.u32(data.length, field);
    return this.fixedOpaque(data, data.length, field);
  }

  /** string<max>, encoded as UTF-8. */
  string(s: string, max = 0xffffffff, field = 'string'): this {
    const n = Buffer.byteLength(s, 'utf8');
    if (n > max) {
      throw new XdrError('UNREPRESENTABLE', field, this.offset, `${n} bytes exceed the maximum ${max}`);
    }
    this.u32(n, field);
    const at = this.room(n + padding(n), field);
    this.buf.write(s, at, n, 'utf8');
    this.buf.fill(0, at + n, at + n + padding(n));
    return this;
  }

  /** Reserves `n` bytes to fill later (e.g. a length known only after the body). */
  reserve(n: number, field: string): number {
    return this.room(n, field);
  }
}
