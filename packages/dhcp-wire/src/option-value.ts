import { DhcpWireError } from './dhcp-wire-error.js';
import { parseIpv4 } from './ipv4.js';

/** The value types of DHCP options: those of RFC 2132 and of dhcpd.conf's `option X.y code N = type`. */
export type OptionType =
  | { kind: 'ip' }
  | { kind: 'u8' }
  | { kind: 'u16' }
  | { kind: 'u32' }
  | { kind: 'i8' }
  | { kind: 'i16' }
  | { kind: 'i32' }
  | { kind: 'bool' }
  | { kind: 'text' }
  | { kind: 'bytes' }
  | { kind: 'array'; of: OptionType }
  | { kind: 'record'; fields: OptionType[] }
  | { kind: 'encapsulate'; space: string };

/** One option as it travels: its code and its bytes (a view into the datagram when decoded). */
export interface DhcpOption {
  code: number;
  data: Uint8Array;
}

/** A decoded option value; `encapsulate` decodes to the sub-options. */
export type OptionValue = number | string | boolean | Uint8Array | readonly OptionValue[] | DhcpOption;

export const T = {
  ip: { kind: 'ip' },
  u8: { kind: 'u8' },
  u16: { kind: 'u16' },
  u32: { kind: 'u32' },
  i8: { kind: 'i8' },
  i16: { kind: 'i16' },
  i32: { kind: 'i32' },
  bool: { kind: 'bool' },
  text: { kind: 'text' },
  bytes: { kind: 'bytes' },
  ips: { kind: 'array', of: { kind: 'ip' } },
  u8s: { kind: 'array', of: { kind: 'u8' } },
  u16s: { kind: 'array', of: { kind: 'u16' } },
} as const satisfies Record<string, OptionType>;

/** Bytes of one element of a fixed-size type, or undefined for variable-size types. */
export function fixedSize(type: OptionType): number | undefined {
  switch (type.kind) {
    case 'u8':
    case 'i8':
    case 'bool':
      return 1;
    case 'u16':
    case 'i16':
      return 2;
    case 'ip':
    case 'u32':
    case 'i32':
      return 4;
    case 'record': {
      let n = 0;
      for (const f of type.fields) {
        const s = fixedSize(f);
        if (s === undefined) return undefined;
        n += s;
      }
      return n;
    }
    default:
      return undefined;
  }
}

function readFixed(type: OptionType, d: Uint8Array, at: number): OptionValue {
  switch (type.kind) {
    case 'u8':
      return d[at];
    case 'i8':
      return (d[at] << 24) >> 24;
    case 'bool':
      return d[at] !== 0;
    case 'u16':
      return (d[at] << 8) | d[at + 1];
    case 'i16':
      return (((d[at] << 8) | d[at + 1]) << 16) >> 16;
    case 'u32':
      return ((d[at] << 24) | (d[at + 1] << 16) | (d[at + 2] << 8) | d[at + 3]) >>> 0;
    case 'i32':
      return (d[at] << 24) | (d[at + 1] << 16) | (d[at + 2] << 8) | d[at + 3];
    case 'ip':
      return `${d[at]}.${d[at + 1]}.${d[at + 2]}.${d[at + 3]}`;
    default:
      throw new Error(`not a fixed-size type: ${type.kind}`);
  }
}

/** Splits an encapsulated option's bytes into sub-options (views), stopping at END (255). */
export function decodeSubOptions(data: Uint8Array, field: string, offset: number): DhcpOption[] {
  const out: DhcpOption[] = [];
  let i = 0;
  while (i < data.length) {
    const code = data[i];
    if (code === 0) {
      i++;
      continue;
    }
    if (code === 255) break;
    if (i + 1 >= data.length) throw new DhcpWireError('TRUNCATED', `${field}.${code} length`, offset + i + 1);
    const len = data[i + 1];
    if (i + 2 + len > data.length) throw new DhcpWireError('TRUNCATED', `${field}.${code}`, offset + i + 2);
    out.push({ code, data: data.subarray(i + 2, i + 2 + len) });
    i += 2 + len;
  }
  return out;
}

/**
 * Decodes an option's bytes by its type. `field` and `offset` name the option
 * in the error when the length does not fit the type.
 */
export function decodeOptionValue(type: OptionType, data: Uint8Array, field: string, offset: number): OptionValue {
  const size = fixedSize(type);
  if (type.kind === 'record') {
    const values: OptionValue[] = [];
    let at = 0;
    for (let k = 0; k < type.fields.length; k++) {
      const f = type.fields[k];
      const s = fixedSize(f);
      if (s === undefined) {
        if (k !== type.fields.length - 1) throw new Error('only the last field of a record may vary in size');
        values.push(decodeOptionValue(f, data.subarray(at), field, offset + at));
        at = data.length;
      } else {
        if (at + s > data.length) throw new DhcpWireError('BAD_OPTION', field, offset + at, `needs ${s} more bytes`);
        values.push(readFixed(f, data, at));
        at += s;
      }
    }
    if (at !== data.length) throw new DhcpWireError('BAD_OPTION', field, offset + at, 'trailing bytes');
    return values;
  }
  if (size !== undefined) {
    if (data.length !== size) throw new DhcpWireError('BAD_OPTION', field, offset, `length ${data.length}, expected ${size}`);
    return readFixed(type, data, 0);
  }
  switch (type.kind) {
    case 'text':
      return Buffer.from(data.buffer, data.byteOffset, data.length).toString('latin1');
    case 'bytes':
      return data;
    case 'encapsulate':
      return decodeSubOptions(data, field, offset);
    case 'array': {
      const s = fixedSize(type.of);
      if (s === undefined) throw new Error('arrays hold fixed-size elements');
      if (data.length === 0 || data.length % s !== 0) {
        throw new DhcpWireError('BAD_OPTION', field, offset, `length ${data.length} is not a multiple of ${s}`);
      }
      const out: OptionValue[] = [];
      for (let at = 0; at < data.length; at += s) out.push(type.of.kind === 'record' ? decodeOptionValue(type.of, data.subarray(at, at + s), field, offset + at) : readFixed(type.of, data, at));
      return out;
    }
    default:
      throw new Error(`unhandled type ${type.kind}`);
  }
}

function bad(field: string, why: string): never {
  throw new DhcpWireError('UNREPRESENTABLE', field, 0, why);
}

function intIn(v: OptionValue, min: number, max: number, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad(field, `${String(v)} is not an integer from ${min} to ${max}`);
  return v;
}

function writeFixed(type: OptionType, v: OptionValue, out: Buffer, at: number, field: string): void {
  switch (type.kind) {
    case 'u8':
      out[at] = intIn(v, 0, 255, field);
      return;
    case 'i8':
      out.writeInt8(intIn(v, -128, 127, field), at);
      return;
    case 'bool':
      if (typeof v !== 'boolean') bad(field, 'expected true or false');
      out[at] = v ? 1 : 0;
      return;
    case 'u16':
      out.writeUInt16BE(intIn(v, 0, 0xffff, field), at);
      return;
    case 'i16':
      out.writeInt16BE(intIn(v, -0x8000, 0x7fff, field), at);
      return;
    case 'u32':
      out.writeUInt32BE(intIn(v, 0, 0xffffffff, field), at);
      return;
    case 'i32':
      out.writeInt32BE(intIn(v, -0x80000000, 0x7fffffff, field), at);
      return;
    case 'ip': {
      const n = typeof v === 'string' ? parseIpv4(v) : undefined;
      if (n === undefined) bad(field, `${String(v)} is not an IPv4 address`);
      out.writeUInt32BE(n, at);
      return;
    }
    default:
      throw new Error(`not a fixed-size type: ${type.kind}`);
  }
}

/** Encodes a value of `type` to option bytes; throws UNREPRESENTABLE for a value the type cannot carry. */
export function encodeOptionValue(type: OptionType, value: OptionValue, field = 'option'): Buffer {
  const size = fixedSize(type);
  if (type.kind === 'record') {
    if (!Array.isArray(value) || value.length !== type.fields.length) bad(field, `expected ${type.fields.length} values`);
    const parts = type.fields.map((f, k) => encodeOptionValue(f, (value as OptionValue[])[k], field));
    return Buffer.concat(parts);
  }
  if (size !== undefined) {
    const out = Buffer.alloc(size);
    writeFixed(type, value, out, 0, field);
    return out;
  }
  switch (type.kind) {
    case 'text':
      if (typeof value !== 'string') bad(field, 'expected text');
      if (value.length > 0xffff) bad(field, 'text too long');
      return Buffer.from(value, 'latin1');
    case 'bytes':
      if (typeof value === 'string') return Buffer.from(value, 'latin1');
      if (!(value instanceof Uint8Array)) bad(field, 'expected bytes');
      return Buffer.from(value);
    case 'encapsulate': {
      if (!Array.isArray(value)) bad(field, 'expected sub-options');
      return encodeSubOptions(value as DhcpOption[], false);
    }
    case 'array': {
      if (!Array.isArray(value) || value.length === 0) bad(field, 'expected a non-empty list');
      const s = fixedSize(type.of)!;
      const out = Buffer.alloc(s * value.length);
      (value as OptionValue[]).forEach((v, k) => {
        if (type.of.kind === 'record') encodeOptionValue(type.of, v, field).copy(out, k * s);
        else writeFixed(type.of, v, out, k * s, field);
      });
      return out;
    }
    default:
      throw new Error(`unhandled type ${type.kind}`);
  }
}

/** Packs sub-options (code, length, data) for an encapsulating option such as 43; `terminate` appends END. */
export function encodeSubOptions(options: readonly DhcpOption[], terminate: boolean): Buffer {
  let n = terminate ? 1 : 0;
  for (const o of options) {
    if (o.data.length > 255) throw new DhcpWireError('UNREPRESENTABLE', `sub-option ${o.code}`, 0, 'longer than 255 bytes');
    n += 2 + o.data.length;
  }
  const out = Buffer.alloc(n);
  let at = 0;
  for (const o of options) {
    out[at] = o.code;
    out[at + 1] = o.data.length;
    out.set(o.data, at + 2);
    at += 2 + o.data.length;
  }
  if (terminate) out[at] = 255;
  return out;
}

/** The type as dhcpd.conf spells it, for messages. */
export function typeName(type: OptionType): string {
  switch (type.kind) {
    case 'ip':
      return 'ip-address';
    case 'u8':
    case 'u16':
    case 'u32':
      return `unsigned integer ${type.kind.slice(1)}`;
    case 'i8':
    case 'i16':
    case 'i32':
      return `signed integer ${type.kind.slice(1)}`;
    case 'bool':
      return 'boolean';
    case 'text':
      return 'text';
    case 'bytes':
      return 'string';
    case 'array':
      return `array of ${typeName(type.of)}`;
    case 'record':
      return `{ ${type.fields.map(typeName).join(', ')} }`;
    case 'encapsulate':
      return `encapsulate ${type.space}`;
  }
}


/**
 * A domain search list (option 119, RFC 3397): the names in DNS wire form,
 * a suffix already written replaced by a pointer to it (RFC 1035 4.1.4), as
 * dhcpd writes it.
 */
export function encodeDomainList(names: readonly string[], field = 'domain-search'): Buffer {
  const parts: number[] = [];
  const written = new Map<string, number>();
  for (const name of names) {
    const labels = name.replace(/\.$/, '').split('.').filter((l) => l.length > 0);
    let k = 0;
    for (; k < labels.length; k++) {
      const suffix = labels.slice(k).join('.').toLowerCase();
      const at = written.get(suffix);
      if (at !== undefined) break;
      if (parts.length < 0x3fff) written.set(suffix, parts.length);
      const label = Buffer.from(labels[k], 'latin1');
      if (label.length > 63) bad(field, `label "${labels[k]}" is longer than 63 bytes`);
      parts.push(label.length, ...label);
    }
    if (k < labels.length) {
      const at = written.get(labels.slice(k).join('.').toLowerCase())!;
      parts.push(0xc0 | (at >> 8), at & 0xff);
    } else parts.push(0);
  }
  return Buffer.from(parts);
}
