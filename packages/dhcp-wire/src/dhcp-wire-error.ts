/** Why bytes could not be decoded, or a value could not be encoded. */
export type DhcpWireErrorCode =
  | 'TRUNCATED' // the datagram ends inside a field
  | 'BAD_FIELD' // a field holds a value the protocol forbids (hlen > 16, a missing END)
  | 'BAD_OPTION' // an option's length does not fit its type
  | 'NO_SPACE' // the message cannot fit in the space allowed
  | 'UNREPRESENTABLE'; // a value that its type cannot carry

/**
 * The one error of the DHCP codecs: names the field and the byte offset where
 * decoding stopped, so a log line says what was wrong with a datagram.
 */
export class DhcpWireError extends Error {
  override name = 'DhcpWireError';
  constructor(
    readonly code: DhcpWireErrorCode,
    readonly field: string,
    readonly offset: number,
    detail?: string,
  ) {
    super(`${code} in ${field} at offset ${offset}${detail ? `: ${detail}` : ''}`);
  }
}
