import { Opcode } from './constants.js';

/**
 * One option of a request or an OACK. Names and values are byte strings
 * (one char per byte, latin1) so any packet round-trips exactly; option names
 * are compared case-insensitively by the negotiation, not here.
 */
export interface TftpOption {
  name: string;
  value: string;
}

/**
 *  2 bytes   string     1    string  1   string 1  string 1 ...
 * +--------+----------+---+--------+---+-------+---+------+---+
 * | 01/02  | filename | 0 |  mode  | 0 | opt1  | 0 | val1 | 0 | ...
 * +--------+----------+---+--------+---+-------+---+------+---+
 * The mode is kept as sent; `transferMode()` reads it case-insensitively.
 */
export interface RequestPacket {
  op: typeof Opcode.RRQ | typeof Opcode.WRQ;
  filename: string;
  mode: string;
  options: TftpOption[];
}

/**
 *  2 bytes  2 bytes  n bytes (0..blksize)
 * +-------+--------+--------+
 * |  03   | block  |  data  |
 * +-------+--------+--------+
 * `data` is a view into the decoded buffer.
 */
export interface DataPacket {
  op: typeof Opcode.DATA;
  block: number;
  data: Buffer;
}

/**
 *  2 bytes  2 bytes
 * +-------+--------+
 * |  04   | block  |
 * +-------+--------+
 */
export interface AckPacket {
  op: typeof Opcode.ACK;
  block: number;
}

/**
 *  2 bytes  2 bytes   string   1
 * +-------+--------+---------+---+
 * |  05   |  code  | message | 0 |
 * +-------+--------+---------+---+
 */
export interface ErrorPacket {
  op: typeof Opcode.ERROR;
  code: number;
  message: string;
}

/**
 *  2 bytes  string 1  string 1 ...
 * +-------+------+---+-----+---+
 * |  06   | opt1 | 0 | val1| 0 | ...
 * +-------+------+---+-----+---+
 */
export interface OackPacket {
  op: typeof Opcode.OACK;
  options: TftpOption[];
}

export type TftpPacket = RequestPacket | DataPacket | AckPacket | ErrorPacket | OackPacket;

/** The two transfer modes this package implements. `mail` (obsolete) and anything else is undefined. */
export type TransferMode = 'octet' | 'netascii';

/** Reads a request's mode the way RFC 1350 says: case-insensitively. */
export function transferMode(mode: string): TransferMode | undefined {
  const m = mode.toLowerCase();
  return m === 'octet' || m === 'netascii' ? m : undefined;
}
