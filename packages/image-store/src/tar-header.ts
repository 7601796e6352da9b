import { TarError } from './tar-error.js';

/*
 * One 512-byte tar header block (POSIX ustar; GNU writes the same layout
 * with magic "ustar  \0" and puts other fields where ustar has `prefix`):
 *
 *   0 name[100]   100 mode[8]   108 uid[8]   116 gid[8]   124 size[12]
 *   136 mtime[12] 148 chksum[8] 156 typeflag 157 linkname[100]
 *   257 magic[6]  263 version[2] 265 uname[32] 297 gname[32]
 *   329 devmajor[8] 337 devminor[8] 345 prefix[155] 500 pad[12]
 */
export const BLOCK = 512;
const NAME = 0;
const MODE = 100;
const UID = 108;
const GID = 116;
const SIZE = 124;
const MTIME = 136;
const CHKSUM = 148;
const TYPEFLAG = 156;
const LINKNAME = 157;
const MAGIC = 257;
const DEVMAJOR = 329;
const DEVMINOR = 337;
const PREFIX = 345;
/** POSIX magic "ustar\0"; GNU's "ustar  \0" has no prefix field. */
const USTAR = [0x75, 0x73, 0x74, 0x61, 0x72, 0];

/** A header's fields as stored, before pax records or GNU long names override them. */
export interface RawHeader {
  /** ustar name, joined with `prefix` in POSIX ustar headers. Bytes: names need not be UTF-8 until used. */
  name: Uint8Array;
  linkname: Uint8Array;
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  devmajor: number;
  devminor: number;
}

/** True when all 512 bytes are zero: the end-of-archive marker. */
export function isZeroBlock(b: Uint8Array, at: number): boolean {
  for (let i = at; i < at + BLOCK; i++) if (b[i] !== 0) return false;
  return true;
}

/** Bytes of a NUL-terminated field, as a view. */
function str(b: Uint8Array, at: number, len: number): Uint8Array {
  const end = b.indexOf(0, at);
  return b.subarray(at, end === -1 || end > at + len ? at + len : end);
}

/**
 * A numeric field: octal digits padded with spaces or NULs, or GNU base-256
 * (high bit of the first byte set) for values octal cannot hold. Values past
 * 2^53 are refused rather than rounded.
 */
function num(b: Uint8Array, at: number, len: number, field: string, offset: number, signed = false): number {
  const first = b[at]!;
  if (first & 0x80) {
    const negative = first === 0xff;
    if (negative && !signed) throw new TarError('field', field, offset, `negative base-256 ${field}`);
    let v = 0n;
    for (let i = 0; i < len; i++) v = (v << 8n) | BigInt(i === 0 ? first & 0x7f : b[at + i]!);
    if (negative) v -= 1n << BigInt(len * 8 - 1);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) throw new TarError('field', field, offset, `${field} out of range`);
    return Number(v);
  }
  let i = at;
  const end = at + len;
  while (i < end && (b[i] === 0x20 || b[i] === 0)) i++;
  let v = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = b[i]!;
    if (c === 0x20 || c === 0) break;
    if (c < 0x30 || c > 0x37) throw new TarError('field', field, offset, `${field} is not octal`);
    v = v * 8 + (c - 0x30);
    digits++;
  }
  for (; i < end; i++) if (b[i] !== 0x20 && b[i] !== 0) throw new TarError('field', field, offset, `${field} has bytes after its terminator`);
  if (digits > 17 && v > Number.MAX_SAFE_INTEGER) throw new TarError('field', field, offset, `${field} out of range`);
  return v;
}

/**
 * Decodes the header at `b[at..at+512]`; `offset` is its position in the
 * stream, for errors. The checksum is accepted as the unsigned or the signed
 * byte sum (old tars summed signed chars).
 */
export function decodeHeader(b: Uint8Array, at: number, offset: number): RawHeader {
  const stored = num(b, at + CHKSUM, 8, 'chksum', offset);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= CHKSUM && i < CHKSUM + 8 ? 0x20 : b[at + i]!;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  if (stored !== unsigned && stored !== signed) {
    throw new TarError('checksum', 'chksum', offset, `header checksum is ${stored.toString(8)}, bytes sum to ${unsigned.toString(8)}`);
  }
  const posix = USTAR.every((c, i) => b[at + MAGIC + i] === c);
  let name = str(b, at + NAME, 100);
  const prefix = posix ? str(b, at + PREFIX, 155) : new Uint8Array(0);
  if (prefix.length > 0) {
    const joined = new Uint8Array(prefix.length + 1 + name.length);
    joined.set(prefix, 0);
    joined[prefix.length] = 0x2f;
    joined.set(name, prefix.length + 1);
    name = joined;
  }
  const t = b[at + TYPEFLAG]!;
  return {
    name,
    linkname: str(b, at + LINKNAME, 100),
    typeflag: t === 0 ? '0' : String.fromCharCode(t),
    mode: num(b, at + MODE, 8, 'mode', offset),
    uid: num(b, at + UID, 8, 'uid', offset),
    gid: num(b, at + GID, 8, 'gid', offset),
    size: num(b, at + SIZE, 12, 'size', offset),
    mtime: num(b, at + MTIME, 12, 'mtime', offset, true),
    devmajor: num(b, at + DEVMAJOR, 8, 'devmajor', offset),
    devminor: num(b, at + DEVMINOR, 8, 'devminor', offset),
  };
}
