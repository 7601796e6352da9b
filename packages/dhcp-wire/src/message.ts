import { DhcpWireError } from './dhcp-wire-error.js';
import type { DhcpOption } from './option-value.js';

/*
 * BOOTP/DHCP message (RFC 951, RFC 2131 section 2):
 *
 *   0      op | htype | hlen | hops          1+1+1+1
 *   4      xid                               4
 *   8      secs | flags                      2+2
 *  12      ciaddr                            4
 *  16      yiaddr                            4
 *  20      siaddr                            4
 *  24      giaddr                            4
 *  28      chaddr                            16
 *  44      sname                             64
 * 108      file                              128
 * 236      magic cookie 99.130.83.99         4
 * 240      options ... END                   variable
 */
export const OFF = {
  op: 0,
  htype: 1,
  hlen: 2,
  hops: 3,
  xid: 4,
  secs: 8,
  flags: 10,
  ciaddr: 12,
  yiaddr: 16,
  siaddr: 20,
  giaddr: 24,
  chaddr: 28,
  sname: 44,
  file: 108,
  cookie: 236,
  options: 240,
} as const;
export const HEADER_LENGTH = 236;
export const MAGIC_COOKIE = 0x63825363;
/** RFC 951's fixed message: header plus a 64-byte vendor area; what relays and old clients expect at least. */
export const BOOTP_MIN_LENGTH = 300;
/** The size every DHCP client must accept (RFC 2131 section 2). */
export const DEFAULT_MAX_LENGTH = 576;
export const BROADCAST_FLAG = 0x8000;
export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;

const SNAME_LENGTH = 64;
const FILE_LENGTH = 128;
const OVERLOAD = 52;
const END = 255;

/** A BOOTP/DHCP message. Byte fields are views into the decoded datagram. Addresses are u32 numbers. */
export interface DhcpMessage {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: number;
  yiaddr: number;
  siaddr: number;
  giaddr: number;
  /** The 16-byte chaddr field; the hardware address is its first `hlen` bytes. */
  chaddr: Uint8Array;
  /** Server host name field (up to 64 bytes, NUL-padded); empty when it carried options. */
  sname: Uint8Array;
  /** Boot file field (up to 128 bytes, NUL-padded); empty when it carried options. */
  file: Uint8Array;
  /** False for a plain BOOTP datagram whose vendor area does not start with the magic cookie. */
  cookie: boolean;
  /** The raw vendor area of a BOOTP datagram without the cookie. */
  vend?: Uint8Array;
  /**
   * Options in order of first appearance, long options (RFC 3396) already
   * joined, option 52 consumed (its file/sname contents are merged here).
   */
  options: DhcpOption[];
  /** Encode at least this many bytes (zero padding after END); decode sets it to the datagram's length. */
  padTo?: number;
  /** Encode at most this many bytes: overload file/sname, then drop options, never exceed it. */
  maxLength?: number;
  /** The whole datagram (a view), set by decode; dhcp-eval's packet(offset, length) reads it. */
  raw?: Uint8Array;
}

/** Options the encoder keeps when it must drop some to fit (RFC 2131 requires them in replies). */
const ESSENTIAL = new Set([1, 51, 53, 54, 58, 59, 82]);

function u32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

// Per-decode index of option code → position in the result, reset after each use.
const seenAt = new Int16Array(256).fill(-1);

/** Walks one option region; returns the overload value found (only meaningful in the options field). */
function walkOptions(
  buf: Uint8Array,
  start: number,
  end: number,
  base: number,
  out: DhcpOption[],
  codes: number[],
  region: string,
  requireEnd: boolean,
): number {
  let i = start;
  let overload = 0;
  while (i < end) {
    const code = buf[i];
    if (code === 0) {
      i++;
      continue;
    }
    if (code === END) return overload;
    if (i + 1 >= end) throw new DhcpWireError('TRUNCATED', `${region} option ${code} length`, i + 1 - base);
    const len = buf[i + 1];
    const from = i + 2;
    if (from + len > end) throw new DhcpWireError('TRUNCATED', `${region} option ${code}`, from - base);
    const data = buf.subarray(from, from + len);
    if (code === OVERLOAD) {
      if (len !== 1) throw new DhcpWireError('BAD_OPTION', 'option 52 (overload)', from - base, `length ${len}`);
      overload = data[0];
    } else {
      const at = seenAt[code];
      if (at < 0) {
        seenAt[code] = out.length;
        out.push({ code, data });
        codes.push(code);
      } else {
        // RFC 3396: repeated instances of a code are one option, concatenated in order.
        const prev = out[at].data;
        const joined = new Uint8Array(prev.length + len);
        joined.set(prev, 0);
        joined.set(data, prev.length);
        out[at] = { code, data: joined };
      }
    }
    i = from + len;
  }
  if (requireEnd) throw new DhcpWireError('TRUNCATED', `${region} END`, end - base, 'options end without END (255)');
  return overload;
}

/**
 * Decodes the datagram in `buf[offset, end)`. Never throws anything but
 * DhcpWireError; byte fields are views into `buf`.
 */
export function decode(buf: Uint8Array, offset = 0, end = buf.length): DhcpMessage {
  const n = end - offset;
  if (n < HEADER_LENGTH) throw new DhcpWireError('TRUNCATED', 'header', n, `${n} bytes, a BOOTP header is ${HEADER_LENGTH}`);
  const b = offset;
  const hlen = buf[b + OFF.hlen];
  if (hlen > 16) throw new DhcpWireError('BAD_FIELD', 'hlen', OFF.hlen, `${hlen} > 16`);
  const msg: DhcpMessage = {
    op: buf[b],
    htype: buf[b + 1],
    hlen,
    hops: buf[b + 3],
    xid: u32(buf, b + OFF.xid),
    secs: (buf[b + 8] << 8) | buf[b + 9],
    flags: (buf[b + 10] << 8) | buf[b + 11],
    ciaddr: u32(buf, b + OFF.ciaddr),
    yiaddr: u32(buf, b + OFF.yiaddr),
    siaddr: u32(buf, b + OFF.siaddr),
    giaddr: u32(buf, b + OFF.giaddr),
    chaddr: buf.subarray(b + OFF.chaddr, b + OFF.chaddr + 16),
    sname: buf.subarray(b + OFF.sname, b + OFF.sname + SNAME_LENGTH),
    file: buf.subarray(b + OFF.file, b + OFF.file + FILE_LENGTH),
    cookie: false,
    options: [],
    raw: buf.subarray(b, end),
  };
  if (n < OFF.options) throw new DhcpWireError('TRUNCATED', 'magic cookie', n);
  if (u32(buf, b + OFF.cookie) !== MAGIC_COOKIE) {
    // RFC 951 BOOTP: a 64-byte vendor area of the client's own format.
    if (n < BOOTP_MIN_LENGTH) throw new DhcpWireError('TRUNCATED', 'vend', n, `a BOOTP message is ${BOOTP_MIN_LENGTH} bytes`);
    msg.vend = buf.subarray(b + OFF.cookie, end);
    msg.padTo = n;
    return msg;
  }
  msg.cookie = true;
  const codes: number[] = [];
  try {
    const overload = walkOptions(buf, b + OFF.options, end, b, msg.options, codes, 'options', true);
    if (overload & 1) {
      walkOptions(buf, b + OFF.file, b + OFF.file + FILE_LENGTH, b, msg.options, codes, 'file', false);
      msg.file = buf.subarray(b + OFF.file, b + OFF.file);
    }
    if (overload & 2) {
      walkOptions(buf, b + OFF.sname, b + OFF.sname + SNAME_LENGTH, b, msg.options, codes, 'sname', false);
      msg.sname = buf.subarray(b + OFF.sname, b + OFF.sname);
    }
  } finally {
    for (const c of codes) seenAt[c] = -1;
  }
  msg.padTo = n;
  return msg;
}

/** The first option with `code`, or undefined. */
export function getOption(msg: DhcpMessage, code: number): Uint8Array | undefined {
  for (const o of msg.options) if (o.code === code) return o.data;
  return undefined;
}

/** The hardware address: the first `hlen` bytes of chaddr (a view). */
export function hardwareAddress(msg: DhcpMessage): Uint8Array {
  return msg.chaddr.subarray(0, Math.min(msg.hlen, 16));
}

/** A NUL-terminated field (sname, file) as text. */
export function fieldText(field: Uint8Array): string {
  let end = field.indexOf(0);
  if (end < 0) end = field.length;
  return Buffer.from(field.buffer, field.byteOffset, end).toString('latin1');
}

// ---------------------------------------------------------------- encoding

/** Where each option (or piece of one) goes. Region 0 = options field, 1 = file, 2 = sname. */
interface Piece {
  region: number;
  code: number;
  data: Uint8Array;
  from: number;
  len: number;
}

interface Layout {
  length: number;
  overload: number;
  /** Undefined when every option goes, in order, into the options field. */
  pieces?: Piece[];
  options: readonly DhcpOption[];
}

function optionBytes(len: number): number {
  // A long option is split into 255-byte instances (RFC 3396); an empty one is a single code+0.
  return len === 0 ? 2 : len + 2 * Math.ceil(len / 255);
}

function isBlank(field: Uint8Array): boolean {
  for (let i = 0; i < field.length; i++) if (field[i] !== 0) return false;
  return true;
}

/** Packs `options` into the options field plus whichever of file/sname are free, or undefined. */
function packOverloaded(msg: DhcpMessage, options: readonly DhcpOption[], max: number): Piece[] | undefined {
  const capacity = [max - OFF.options - 3 - 1]; // room for option 52 and END
  const regions = [0];
  if (isBlank(msg.file)) {
    regions.push(1);
    capacity[1] = FILE_LENGTH - 1;
  }
  if (isBlank(msg.sname)) {
    regions.push(2);
    capacity[2] = SNAME_LENGTH - 1;
  }
  if (regions.length === 1 || capacity[0] < 0) return undefined;
  const used = [0, 0, 0];
  const pieces: Piece[] = [];
  for (const o of options) {
    const need = optionBytes(o.data.length);
    // Whole options go to the first region with room, so clients without RFC 3396 still read them.
    const whole = regions.find((r) => capacity[r] - used[r] >= need);
    if (whole !== undefined) {
      for (let from = 0; from < o.data.length || from === 0; from += 255) {
        const len = Math.min(255, o.data.length - from);
        pieces.push({ region: whole, code: o.code, data: o.data, from, len });
        if (o.data.length === 0) break;
      }
      used[whole] += need;
      continue;
    }
    // Too long for any one region: split across regions in their concatenation order.
    let from = 0;
    for (const r of regions) {
      while (from < o.data.length && capacity[r] - used[r] >= 3) {
        const len = Math.min(255, o.data.length - from, capacity[r] - used[r] - 2);
        pieces.push({ region: r, code: o.code, data: o.data, from, len });
        used[r] += len + 2;
        from += len;
      }
    }
    if (from < o.data.length) return undefined;
  }
  return pieces;
}

function layout(msg: DhcpMessage): Layout {
  if (!msg.cookie) {
    const vend = msg.vend?.length ?? 64;
    return { length: Math.max(HEADER_LENGTH + vend, msg.padTo ?? 0), overload: 0, options: [] };
  }
  const max = msg.maxLength ?? Infinity;
  let total = OFF.options + 1;
  for (const o of msg.options) total += optionBytes(o.data.length);
  if (total <= max) return { length: Math.min(Math.max(total, msg.padTo ?? 0), Math.max(max, total)), overload: 0, options: msg.options };

  let options: readonly DhcpOption[] = msg.options;
  for (;;) {
    const pieces = packOverloaded(msg, options, max);
    if (pieces) {
      let overload = 0;
      let optionsEnd = OFF.options + 3 + 1;
      for (const p of pieces) {
        if (p.region === 0) optionsEnd += p.len + 2;
        else overload |= p.region;
      }
      if (overload === 0) optionsEnd -= 3;
      const length = Math.min(max, Math.max(optionsEnd, msg.padTo ?? 0));
      return { length, overload, pieces: overload ? pieces : undefined, options };
    }
    // Still too big: drop the last option that is not essential (callers put options in priority order).
    let drop = -1;
    for (let k = options.length - 1; k >= 0; k--) {
      if (!ESSENTIAL.has(options[k].code)) {
        drop = k;
        break;
      }
    }
    if (drop < 0) throw new DhcpWireError('NO_SPACE', 'options', OFF.options, `essential options exceed ${max} bytes`);
    options = options.filter((_, k) => k !== drop);
    let plain = OFF.options + 1;
    for (const o of options) plain += optionBytes(o.data.length);
    if (plain <= max) return { length: Math.max(plain, Math.min(max, msg.padTo ?? 0)), overload: 0, options };
  }
}

/** Bytes `encodeInto` will write for `msg`. */
export function encodingLength(msg: DhcpMessage): number {
  return layout(msg).length;
}

function checkInt(v: number, max: number, field: string): number {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new DhcpWireError('UNREPRESENTABLE', field, 0, `${v} is not an integer from 0 to ${max}`);
  return v;
}

function writeField(buf: Uint8Array, at: number, size: number, value: Uint8Array, field: string): void {
  if (value.length > size) throw new DhcpWireError('UNREPRESENTABLE', field, 0, `${value.length} bytes, the field holds ${size}`);
  buf.set(value, at);
  buf.fill(0, at + value.length, at + size);
}

function writeU32(buf: Uint8Array, at: number, v: number, field: string): void {
  checkInt(v, 0xffffffff, field);
  buf[at] = v >>> 24;
  buf[at + 1] = v >>> 16;
  buf[at + 2] = v >>> 8;
  buf[at + 3] = v;
}

function writeOption(buf: Uint8Array, at: number, code: number, data: Uint8Array, from: number, len: number): number {
  buf[at] = code;
  buf[at + 1] = len;
  buf.set(data.subarray(from, from + len), at + 2);
  return at + 2 + len;
}

/** Encodes `msg` into `buf` at `offset`; returns the bytes written (== encodingLength(msg)). */
export function encodeInto(msg: DhcpMessage, buf: Uint8Array, offset = 0): number {
  const plan = layout(msg);
  if (offset < 0 || offset + plan.length > buf.length) {
    throw new DhcpWireError('NO_SPACE', 'buffer', offset, `${plan.length} bytes do not fit`);
  }
  const b = offset;
  buf[b] = checkInt(msg.op, 255, 'op');
  buf[b + 1] = checkInt(msg.htype, 255, 'htype');
  buf[b + 2] = checkInt(msg.hlen, 16, 'hlen');
  buf[b + 3] = checkInt(msg.hops, 255, 'hops');
  writeU32(buf, b + OFF.xid, msg.xid, 'xid');
  checkInt(msg.secs, 0xffff, 'secs');
  buf[b + 8] = msg.secs >>> 8;
  buf[b + 9] = msg.secs;
  checkInt(msg.flags, 0xffff, 'flags');
  buf[b + 10] = msg.flags >>> 8;
  buf[b + 11] = msg.flags;
  writeU32(buf, b + OFF.ciaddr, msg.ciaddr, 'ciaddr');
  writeU32(buf, b + OFF.yiaddr, msg.yiaddr, 'yiaddr');
  writeU32(buf, b + OFF.siaddr, msg.siaddr, 'siaddr');
  writeU32(buf, b + OFF.giaddr, msg.giaddr, 'giaddr');
  writeField(buf, b + OFF.chaddr, 16, msg.chaddr, 'chaddr');
  writeField(buf, b + OFF.sname, SNAME_LENGTH, msg.sname, 'sname');
  writeField(buf, b + OFF.file, FILE_LENGTH, msg.file, 'file');
  const end = b + plan.length;
  if (!msg.cookie) {
    const vend = msg.vend ?? new Uint8Array(0);
    buf.set(vend, b + HEADER_LENGTH);
    buf.fill(0, b + HEADER_LENGTH + vend.length, end);
    return plan.length;
  }
  writeU32(buf, b + OFF.cookie, MAGIC_COOKIE, 'cookie');
  let at = b + OFF.options;
  if (!plan.pieces) {
    for (const o of plan.options) {
      const len = o.data.length;
      if (len === 0) at = writeOption(buf, at, o.code, o.data, 0, 0);
      for (let from = 0; from < len; from += 255) at = writeOption(buf, at, o.code, o.data, from, Math.min(255, len - from));
    }
    buf[at++] = END;
    buf.fill(0, at, end);
    return plan.length;
  }
  buf[at] = OVERLOAD;
  buf[at + 1] = 1;
  buf[at + 2] = plan.overload;
  at += 3;
  let fileAt = b + OFF.file;
  let snameAt = b + OFF.sname;
  for (const p of plan.pieces) {
    if (p.region === 0) at = writeOption(buf, at, p.code, p.data, p.from, p.len);
    else if (p.region === 1) fileAt = writeOption(buf, fileAt, p.code, p.data, p.from, p.len);
    else snameAt = writeOption(buf, snameAt, p.code, p.data, p.from, p.len);
  }
  buf[at++] = END;
  buf.fill(0, at, end);
  if (plan.overload & 1) buf[fileAt] = END;
  if (plan.overload & 2) buf[snameAt] = END;
  return plan.length;
}

/** Encodes into a new buffer (for tests and cold paths). */
export function encode(msg: DhcpMessage): Buffer {
  const out = Buffer.alloc(encodingLength(msg));
  encodeInto(msg, out, 0);
  return out;
}
