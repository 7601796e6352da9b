/** Why bytes could not be decoded as TFTP, or a value could not be encoded. */
export type TftpWireErrorCode =
  | 'SHORT_BUFFER' // the packet ends before the field does (a missing NUL counts)
  | 'BAD_VALUE' // a value outside the field's domain (unknown opcode, option without a value, ...)
  | 'NO_SPACE' // the output buffer is too small for the encoding
  | 'UNREPRESENTABLE'; // a value TFTP cannot carry (NUL inside a string, name over the limit, block > 65535, ...)

/**
 * The one error type of tftp-wire for malformed packets and unencodable
 * values. It names the field and the byte offset so that a log line says
 * where a peer went wrong.
 */
export class TftpWireError extends Error {
  override name = 'TftpWireError';
  constructor(
    readonly code: TftpWireErrorCode,
    readonly field: string,
    readonly offset: number,
    detail?: string,
  ) {
    super(`${code} in ${field} at offset ${offset}${detail ? `: ${detail}` : ''}`);
  }
}
