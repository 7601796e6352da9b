import type { RpcCall } from '@netboot/oncrpc-xdr';
import { fattr, wccAttr } from './attributes.js';
import { checkDir } from './credentials.js';
import { NfsError } from './errno-status.js';
import type { FsAttrs, FsObject } from './export-fs.js';
import type { Refuse, Target } from './export-table.js';
import { NAME_MAX, NfsStat, type NfsErrorStatus } from './nfs3-constants.js';
import type { Fattr, WccData } from './nfs3-types.js';

/** What a procedure knows of the call it answers, beyond its decoded arguments. */
export interface Call {
  readonly rpc: RpcCall;
  /** The object a handle names, with its export's options and the squashed caller. */
  target(fh: Buffer): Promise<Target>;
  /** A refusal an admin should see (logged, rate-limited). */
  readonly refused: Refuse;
  handleOf(t: Target, obj: FsObject): Buffer;
  /** The handles of several objects of `t`'s export at once: cheaper per handle than handleOf. */
  handlesOf(t: Target, objs: readonly FsObject[]): Buffer[];
  /** The largest READ/WRITE on this call's transport. */
  readonly maxIo: number;
  /** The largest reply body this call's transport carries (a UDP reply must fit one datagram). */
  readonly maxReply: number;
  /** Changes on every start and after a storage failure, so a client knows UNSTABLE writes before it may be lost. */
  readonly writeVerifier: Buffer;
}

export const EMPTY_WCC: WccData = { before: undefined, after: undefined };

export const err = (status: NfsErrorStatus, detail?: string, body?: object) => new NfsError(status, detail, body);

/**
 * fattr3 of attributes already converted, by the attributes object: a backend hands out the same object
 * while its attribute cache holds it, so the LOOKUPs after a READDIRPLUS (an entry's attributes and its
 * directory's) reuse what the listing converted instead of making a dozen bigints again. Shared: never modified.
 */
const converted = new WeakMap<FsAttrs, Converted>();

/** A class, not a literal: one is kept per attributes object (see attributes.ts on allocation sites). */
class Converted {
  constructor(
    readonly exportId: number,
    readonly f: Fattr,
  ) {}
}

export function attr(t: Target, st: FsAttrs): Fattr {
  const exportId = t.exp.def.id;
  const known = converted.get(st);
  if (known !== undefined && known.exportId === exportId) return known.f;
  const f = fattr(st, exportId);
  converted.set(st, new Converted(exportId, f));
  return f;
}

/** Fresh attributes of an object, or undefined when they cannot be read (post_op_attr). */
export async function attrOf(t: Target, obj: FsObject): Promise<Fattr | undefined> {
  try {
    return attr(t, await t.fs.getattr(obj));
  } catch {
    return undefined;
  }
}

/** wcc_data of an object: attributes before (as resolved) and now. */
export async function wcc(t: Target, obj: FsObject = t.obj): Promise<WccData> {
  return { before: wccAttr(obj.attrs), after: await attrOf(t, obj) };
}

/** A directory handle plus the permissions the operation needs on it. */
export async function dirTarget(call: Call, fh: Buffer, modify: boolean): Promise<Target> {
  const d = await call.target(fh);
  const fail = modify ? { dirWcc: { before: wccAttr(d.obj.attrs), after: attr(d, d.obj.attrs) } } : { dirAttributes: attr(d, d.obj.attrs) };
  checkDir(d, modify, fail);
  return d;
}

/** 1 for `.`, 2 for `..`, else 0. */
export function isDots(n: Buffer): 0 | 1 | 2 {
  if (n.length === 1 && n[0] === 0x2e) return 1;
  if (n.length === 2 && n[0] === 0x2e && n[1] === 0x2e) return 2;
  return 0;
}

/** A single path component, any bytes but never empty, `.`, `..`, or holding `/` or NUL; longer than NAME_MAX bytes is NAMETOOLONG. */
export function checkName(n: Buffer, dotStatus: typeof NfsStat.EXIST | typeof NfsStat.INVAL = NfsStat.INVAL): Buffer {
  if (n.length > NAME_MAX) throw err(NfsStat.NAMETOOLONG);
  if (n.length === 0 || n.includes(0) || n.includes(0x2f)) throw err(NfsStat.ACCES, 'bad file name');
  if (isDots(n)) throw err(dotStatus);
  return n;
}
