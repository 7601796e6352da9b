import { MAX_BLKSIZE, MAX_REQUEST_LENGTH, Opcode } from './constants.js';
import type { TftpOption, TftpPacket } from './packet.js';
import { TftpWireError } from './tftp-wire-error.js';

/** Bytes a string takes with its NUL; refuses what a TFTP string cannot hold. */
function cstringLength(s: string, field: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) throw new TftpWireError('UNREPRESENTABLE', field, i, 'NUL inside a string');
    if (c > 0xff) throw new TftpWireError('UNREPRESENTABLE', field, i, 'character above 0xFF (strings are bytes)');
  }
  return s.length + 1;
}

function optionsLength(list: TftpOption[]): number {
  let n = 0;
  list.forEach((o, i) => {
    if (o.name.length === 0) throw new TftpWireError('UNREPRESENTABLE', `options[${i}].name`, 0, 'empty option name');
    n += cstringLength(o.name, `options[${i}].name`) + cstringLength(o.value, `options[${i}].value`);
  });
  return n;
}

function checkU16(v: number, field: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) {
    throw new TftpWireError('UNREPRESENTABLE', field, 0, `${v} is not a 16-bit number`);
  }
}

/** The exact number of bytes `encodeInto` writes for `p`; throws if `p` cannot be encoded. */
export function encodingLength(p: TftpPacket): number {
  switch (p.op) {
    case Opcode.RRQ:
    case Opcode.WRQ: {
      const n = 2 + cstringLength(p.filename, 'filename') + cstringLength(p.mode, 'mode') + optionsLength(p.options);
      if (n > MAX_REQUEST_LENGTH) {
        throw new TftpWireError('UNREPRESENTABLE', 'filename', 0, `request of ${n} bytes exceeds ${MAX_REQUEST_LENGTH}`);
      }
      return n;
    }
    case Opcode.DATA:
      checkU16(p.block, 'block');
      if (p.data.length > MAX_BLKSIZE) {
        throw new TftpWireError('UNREPRESENTABLE', 'data', 4, `${p.data.length} bytes exceed blksize ${MAX_BLKSIZE}`);
      }
      return 4 + p.data.length;
    case Opcode.ACK:
      checkU16(p.block, 'block');
      return 4;
    case Opcode.ERROR:
      checkU16(p.code, 'code');
      return 4 + cstringLength(p.message, 'message');
    case Opcode.OACK:
      if (p.options.length === 0) throw new TftpWireError('UNREPRESENTABLE', 'options', 2, 'an OACK needs at least one option');
      return 2 + optionsLength(p.options);
    default:
      throw new TftpWireError('UNREPRESENTABLE', 'opcode', 0, `unknown opcode ${(p as { op: unknown }).op}`);
  }
}

function putString(s: string, buf: Buffer, at: number): number {
  at += buf.write(s, at, 'latin1');
  buf[at] = 0;
  return at + 1;
}

function putOptions(list: TftpOption[], buf: Buffer, at: number): number {
  for (const o of list) at = putString(o.value, buf, putString(o.name, buf, at));
  return at;
}

/** Writes `p` at `buf[offset]`; returns the bytes written. Throws TftpWireError when it cannot. */
export function encodeInto(p: TftpPacket, buf: Buffer, offset = 0): number {
  const n = encodingLength(p);
  if (offset < 0 || offset + n > buf.length) {
    throw new TftpWireError('NO_SPACE', 'opcode', offset, `${n} bytes needed, ${Math.max(0, buf.length - offset)} left`);
  }
  buf.writeUInt16BE(p.op, offset);
  let at = offset + 2;
  switch (p.op) {
    case Opcode.RRQ:
    case Opcode.WRQ:
      at = putOptions(p.options, buf, putString(p.mode, buf, putString(p.filename, buf, at)));
      break;
    case Opcode.DATA:
      buf.writeUInt16BE(p.block, at);
      at += 2 + p.data.copy(buf, at + 2);
      break;
    case Opcode.ACK:
      buf.writeUInt16BE(p.block, at);
      at += 2;
      break;
    case Opcode.ERROR:
      buf.writeUInt16BE(p.code, at);
      at = putString(p.message, buf, at + 2);
      break;
    case Opcode.OACK:
      at = putOptions(p.options, buf, at);
      break;
  }
  return at - offset;
}

/** Encodes `p` into a new buffer of exactly its length (for control packets, not the data path). */
export function encode(p: TftpPacket): Buffer {
  const buf = Buffer.allocUnsafe(encodingLength(p));
  encodeInto(p, buf, 0);
  return buf;
}

/**
 * Writes the 4-byte DATA header alone, so the data can follow as a separate
 * view in a vectored send instead of being copied behind it.
 */
export function encodeDataHeader(block: number, buf: Buffer, offset = 0): number {
  checkU16(block, 'block');
  if (offset < 0 || offset + 4 > buf.length) throw new TftpWireError('NO_SPACE', 'opcode', offset);
  buf.writeUInt16BE(Opcode.DATA, offset);
  buf.writeUInt16BE(block, offset + 2);
  return 4;
}
