/** Why a tar stream was refused. */
export type TarErrorCode =
  | 'truncated' // the stream ended inside a header, a body or before the end-of-archive marker
  | 'checksum' // a header's checksum does not match its bytes
  | 'field' // a header field or pax record that does not parse
  | 'limit' // a declared length over the reader's maximum
  | 'unsupported'; // an entry type this reader does not import (sparse, multi-volume)

/**
 * Malformed or refused archive bytes. `field` names the header field or pax
 * key, `offset` is the byte offset in the stream of the header it belongs to,
 * `entry` the entry's name when it is known.
 */
export class TarError extends Error {
  override name = 'TarError';
  constructor(
    readonly code: TarErrorCode,
    readonly field: string,
    readonly offset: number,
    message: string,
    readonly entry?: string,
  ) {
    super(`${entry !== undefined ? `${JSON.stringify(entry)}: ` : ''}${message} (${field} at byte ${offset})`);
  }
}
