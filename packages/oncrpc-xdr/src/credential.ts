import {
  AUTH_SYS_MAX_GIDS,
  AUTH_SYS_MAX_MACHINE_NAME,
  AuthFlavor,
  MAX_AUTH_BYTES,
} from './rpc-constants.js';
import type { OpaqueAuth } from './opaque-auth.js';
import { XdrError } from './xdr-error.js';
import { XdrReader } from './xdr-reader.js';
import { stringLength, XdrWriter } from './xdr-writer.js';

/** AUTH_SYS parameters (authsys_parms, RFC 5531 appendix A). */
export interface AuthSysCredential {
  flavor: 1;
  stamp: number;
  machine: string;
  uid: number;
  gid: number;
  gids: number[];
}

/** The credentials this package understands and hands to procedure handlers. */
export type Credential = { flavor: 0 } | AuthSysCredential;

export const AUTH_NONE_CREDENTIAL: Credential = Object.freeze({ flavor: 0 as const });

/**
 * Decodes an authsys_parms body. The body must be exactly one authsys_parms:
 * trailing bytes mean the peer and we disagree about the layout.
 */
export function decodeAuthSys(body: Uint8Array): AuthSysCredential {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const r = new XdrReader(buf);
  const stamp = r.u32('authsys.stamp');
  const machine = r.string(AUTH_SYS_MAX_MACHINE_NAME, 'authsys.machinename');
  const uid = r.u32('authsys.uid');
  const gid = r.u32('authsys.gid');
  const n = r.arrayLength(AUTH_SYS_MAX_GIDS, 'authsys.gids');
  const gids = new Array<number>(n);
  for (let i = 0; i < n; i++) gids[i] = r.u32('authsys.gids');
  r.done('authsys');
  return { flavor: 1, stamp, machine, uid, gid, gids };
}

export function authSysEncodingLength(c: AuthSysCredential): number {
  return 4 + stringLength(c.machine) + 4 + 4 + 4 + 4 * c.gids.length;
}

/** Encodes the authsys_parms body; refuses what the wire can't carry (long names, >16 gids). */
export function encodeAuthSys(c: AuthSysCredential): Buffer {
  if (c.gids.length > AUTH_SYS_MAX_GIDS) {
    throw new XdrError('UNREPRESENTABLE', 'authsys.gids', 0, `${c.gids.length} gids exceed the maximum ${AUTH_SYS_MAX_GIDS}`);
  }
  const len = authSysEncodingLength(c);
  if (len > MAX_AUTH_BYTES) {
    throw new XdrError('UNREPRESENTABLE', 'authsys', 0, `${len} bytes exceed the ${MAX_AUTH_BYTES}-byte credential limit`);
  }
  const w = new XdrWriter(Buffer.alloc(len));
  w.u32(c.stamp, 'authsys.stamp');
  w.string(c.machine, AUTH_SYS_MAX_MACHINE_NAME, 'authsys.machinename');
  w.u32(c.uid, 'authsys.uid');
  w.u32(c.gid, 'authsys.gid');
  w.u32(c.gids.length, 'authsys.gids');
  for (const g of c.gids) w.u32(g, 'authsys.gids');
  return w.buf;
}

/** The opaque_auth that carries a credential in a CALL. */
export function credentialToOpaqueAuth(c: Credential): OpaqueAuth {
  return c.flavor === AuthFlavor.AUTH_SYS ? { flavor: AuthFlavor.AUTH_SYS, body: encodeAuthSys(c) } : { flavor: 0, body: new Uint8Array(0) };
}

/**
 * The credential in a CALL's opaque_auth, or null for a flavor this package
 * does not support. Throws XdrError when an AUTH_SYS body is malformed.
 */
export function credentialFromOpaqueAuth(a: OpaqueAuth): Credential | null {
  if (a.flavor === AuthFlavor.AUTH_NONE) return AUTH_NONE_CREDENTIAL;
  if (a.flavor === AuthFlavor.AUTH_SYS) return authSysOf(a.body);
  return null;
}

/**
 * The last AUTH_SYS body decoded (a copy) and its credential. A client sends the same credential with
 * every call, so comparing some dozens of bytes replaces a decode (a reader, the machine name's string,
 * the gids array) per call. The credential is frozen, since every call with that body shares it.
 */
let lastBody: Buffer | undefined;
let lastCredential: AuthSysCredential | undefined;

function authSysOf(body: Uint8Array): AuthSysCredential {
  if (lastCredential && lastBody!.length === body.length && lastBody!.equals(body)) return lastCredential;
  const c = decodeAuthSys(body);
  Object.freeze(c.gids);
  lastCredential = Object.freeze(c);
  lastBody = Buffer.from(body);
  return lastCredential;
}
