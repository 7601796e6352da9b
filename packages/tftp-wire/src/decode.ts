import { Opcode } from './constants.js';
import type { TftpOption, TftpPacket } from './packet.js';
import { TftpWireError } from './tftp-wire-error.js';

/** Reads a NUL-terminated byte string starting at `at`; returns it and the offset after the NUL. */
function cstring(buf: Buffer, at: number, end: number, field: string): [string, number] {
  const nul = buf.indexOf(0, at);
  if (nul < 0 || nul >= end) throw new TftpWireError('SHORT_BUFFER', field, at, 'no terminating NUL');
  return [buf.toString('latin1', at, nul), nul + 1];
}

function options(buf: Buffer, at: number, end: number): TftpOption[] {
  const list: TftpOption[] = [];
  while (at < end) {
    const i = list.length;
    const [name, afterName] = cstring(buf, at, end, `options[${i}].name`);
    if (name.length === 0) throw new TftpWireError('BAD_VALUE', `options[${i}].name`, at, 'empty option name');
    const [value, afterValue] = cstring(buf, afterName, end, `options[${i}].value`);
    list.push({ name, value });
    at = afterValue;
  }
  return list;
}

/**
 * Decodes one TFTP datagram occupying `buf[offset, end)`. Byte fields are
 * views into `buf`; strings are latin1 (one char per byte). Anything
 * malformed throws TftpWireError, never another exception.
 */
export function decode(buf: Buffer, offset = 0, end = buf.length): TftpPacket {
  if (offset < 0 || end > buf.length || offset > end) {
    throw new TftpWireError('SHORT_BUFFER', 'opcode', offset, 'offset outside the buffer');
  }
  if (end - offset < 2) throw new TftpWireError('SHORT_BUFFER', 'opcode', offset);
  const op = buf.readUInt16BE(offset);
  const body = offset + 2;
  switch (op) {
    case Opcode.RRQ:
    case Opcode.WRQ: {
      const [filename, afterName] = cstring(buf, body, end, 'filename');
      const [mode, afterMode] = cstring(buf, afterName, end, 'mode');
      return { op, filename, mode, options: options(buf, afterMode, end) };
    }
    case Opcode.DATA:
      if (end - body < 2) throw new TftpWireError('SHORT_BUFFER', 'block', body);
      return { op, block: buf.readUInt16BE(body), data: buf.subarray(body + 2, end) };
    case Opcode.ACK:
      // Trailing bytes after the block number are tolerated: some ROMs pad ACKs.
      if (end - body < 2) throw new TftpWireError('SHORT_BUFFER', 'block', body);
      return { op, block: buf.readUInt16BE(body) };
    case Opcode.ERROR: {
      if (end - body < 2) throw new TftpWireError('SHORT_BUFFER', 'code', body);
      const code = buf.readUInt16BE(body);
      const [message] = cstring(buf, body + 2, end, 'message');
      return { op, code, message };
    }
    case Opcode.OACK:
      // An OACK acknowledges at least one option; an empty one is a cut-off packet.
      if (body === end) throw new TftpWireError('SHORT_BUFFER', 'options', body, 'OACK without options');
      return { op, options: options(buf, body, end) };
    default:
      throw new TftpWireError('BAD_VALUE', 'opcode', offset, `unknown opcode ${op}`);
  }
}
