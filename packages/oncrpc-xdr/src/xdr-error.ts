/** Why bytes could not be decoded, or a value could not be encoded. */
export type XdrErrorCode =
  | 'SHORT_BUFFER' // fewer bytes remain than the field needs
  | 'TOO_LONG' // a declared length or count exceeds the caller's maximum
  | 'BAD_VALUE' // a value outside the field's domain (bool not 0/1, unknown enum arm, ...)
  | 'NO_SPACE' // the output buffer is too small for the encoding
  | 'UNREPRESENTABLE'; // a value the encoder cannot put on the wire (out of range, too long)

/**
 * The one error type of the RPC family for malformed bytes and unencodable
 * values. It names the field and the byte offset so that a log line says
 * where a peer went wrong.
 */
export class XdrError extends Error {
  override name = 'XdrError';
  constructor(
    readonly code: XdrErrorCode,
    readonly field: string,
    readonly offset: number,
    detail?: string,
  ) {
    super(`${code} in ${field} at offset ${offset}${detail ? `: ${detail}` : ''}`);
  }
}
