import { Access } from './nfs3-constants.js';

/** The export options that decide who a caller is and what it may do. */
export interface AccessOptions {
  rw: boolean;
  rootSquash: boolean;
  allSquash: boolean;
  anonuid: number;
  anongid: number;
  secure: boolean;
  sync?: boolean;
}

/** The identity the server acts for, after squashing. */
export interface Caller {
  uid: number;
  gid: number;
  gids: readonly number[];
}

export type AuthCred =
  | { flavor: 0 }
  | { flavor: 1; uid: number; gid: number; gids: number[] }
  | { flavor: number; uid?: number; gid?: number; gids?: number[] };

/**
 * Maps an RPC credential to the caller the server acts for, as exports(5)
 * describes: AUTH_NONE and all_squash become the anonymous user; root_squash
 * turns uid 0 and gid 0 (also among the supplementary groups) anonymous.
 */
export function squash(cred: AuthCred, opts: AccessOptions): Caller {
  const anon: Caller = { uid: opts.anonuid, gid: opts.anongid, gids: [] };
  if (cred.flavor !== 1 || cred.uid === undefined || opts.allSquash) return anon;
  let uid = cred.uid;
  let gid = cred.gid ?? opts.anongid;
  let gids = cred.gids ?? [];
  if (opts.rootSquash) {
    if (uid === 0) uid = opts.anonuid;
    if (gid === 0) gid = opts.anongid;
    gids = gids.map((g) => (g === 0 ? opts.anongid : g));
  }
  return { uid, gid, gids };
}

export interface Owner {
  mode: number;
  uid: number;
  gid: number;
}

const R = 4;
const W = 2;
const X = 1;

/** The rwx bits of `obj` that apply to `caller`, with root bypassing r and w (and x if anyone has x). */
export function permitted(caller: Caller, obj: Owner, isDir: boolean): number {
  if (caller.uid === 0) {
    const anyX = (obj.mode & 0o111) !== 0 || isDir;
    return R | W | (anyX ? X : 0);
  }
  if (caller.uid === obj.uid) return (obj.mode >> 6) & 7;
  if (caller.gid === obj.gid || caller.gids.includes(obj.gid)) return (obj.mode >> 3) & 7;
  return obj.mode & 7;
}

export const may = {
  read: (c: Caller, o: Owner, dir = false) => (permitted(c, o, dir) & R) !== 0,
  write: (c: Caller, o: Owner, dir = false) => (permitted(c, o, dir) & W) !== 0,
  exec: (c: Caller, o: Owner, dir = false) => (permitted(c, o, dir) & X) !== 0,
};

/** The ACCESS3 bits granted out of `wanted`. */
export function accessBits(caller: Caller, obj: Owner, isDir: boolean, wanted: number, readOnly: boolean): number {
  const p = permitted(caller, obj, isDir);
  let got = 0;
  if (p & R) got |= Access.READ;
  if (p & X) got |= isDir ? Access.LOOKUP : Access.EXECUTE;
  if (p & W && !readOnly) got |= Access.MODIFY | Access.EXTEND | (isDir ? Access.DELETE : 0);
  return got & wanted;
}

const S_ISUID = 0o4000;
const S_ISGID = 0o2000;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;

/**
 * Whether `caller` may make a hard link to `obj`, by the kernel's
 * protected_hardlinks rule (the server, as root, would otherwise bypass it):
 * the owner may, and anyone who can read and write a regular file that is
 * neither setuid nor executable-setgid.
 */
export function mayLink(caller: Caller, obj: Owner): boolean {
  if (caller.uid === 0 || caller.uid === obj.uid) return true;
  if ((obj.mode & S_IFMT) !== S_IFREG) return false;
  if (obj.mode & S_ISUID || (obj.mode & S_ISGID && obj.mode & 0o010)) return false;
  return may.read(caller, obj) && may.write(caller, obj);
}
