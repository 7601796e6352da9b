import { MAX_AUTH_BYTES } from './rpc-constants.js';
import type { XdrReader } from './xdr-reader.js';
import { opaqueLength, type XdrWriter } from './xdr-writer.js';

/**
 * opaque_auth: a flavor and up to 400 bytes of flavor-specific body. The
 * decoded body is a view into the message.
 */
export interface OpaqueAuth {
  flavor: number;
  body: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/** AUTH_NONE with an empty body: the verifier of every reply this package sends. */
export const AUTH_NONE_AUTH: OpaqueAuth = Object.freeze({ flavor: 0, body: EMPTY });

export function decodeOpaqueAuth(r: XdrReader, field: string): OpaqueAuth {
  const flavor = r.u32(`${field}.flavor`);
  const body = r.opaque(MAX_AUTH_BYTES, `${field}.body`);
  return { flavor, body };
}

export function opaqueAuthEncodingLength(a: OpaqueAuth): number {
  return 4 + opaqueLength(a.body.length);
}

export function encodeOpaqueAuth(a: OpaqueAuth, w: XdrWriter, field: string): void {
  w.u32(a.flavor, `${field}.flavor`);
  w.opaque(a.body, MAX_AUTH_BYTES, `${field}.body`);
}
