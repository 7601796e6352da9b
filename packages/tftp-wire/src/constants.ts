/** Packet types (RFC 1350, OACK from RFC 2347). */
export const Opcode = {
  RRQ: 1,
  WRQ: 2,
  DATA: 3,
  ACK: 4,
  ERROR: 5,
  OACK: 6,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** ERROR packet codes (RFC 1350; 8 from RFC 2347). */
export const ErrorCode = {
  NOT_DEFINED: 0,
  FILE_NOT_FOUND: 1,
  ACCESS_VIOLATION: 2,
  DISK_FULL: 3,
  ILLEGAL_OPERATION: 4,
  UNKNOWN_TID: 5,
  FILE_EXISTS: 6,
  NO_SUCH_USER: 7,
  OPTION_REFUSED: 8,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The RFC's wording for each code, used when a caller gives no message of its own. */
export const errorMessages: Readonly<Record<number, string>> = {
  0: 'Not defined',
  1: 'File not found',
  2: 'Access violation',
  3: 'Disk full or allocation exceeded',
  4: 'Illegal TFTP operation',
  5: 'Unknown transfer ID',
  6: 'File already exists',
  7: 'No such user',
  8: 'Option negotiation failed',
};

/** RFC 1350's block size, used whenever blksize is not negotiated. */
export const DEFAULT_BLKSIZE = 512;
/** RFC 2348's range; the upper bound is what fits in a UDP datagram over IPv4 without options. */
export const MIN_BLKSIZE = 8;
export const MAX_BLKSIZE = 65464;
/** RFC 2349 timeout range, seconds. */
export const MIN_TIMEOUT = 1;
export const MAX_TIMEOUT = 255;
/** RFC 7440 windowsize range. */
export const MIN_WINDOWSIZE = 1;
export const MAX_WINDOWSIZE = 65535;
/**
 * RFC 2347 caps a request packet at 512 octets. Encoders refuse longer
 * requests; decoders accept whatever arrived, since some clients exceed it.
 */
export const MAX_REQUEST_LENGTH = 512;
