import { NfsError } from './errno-status.js';
import { type AttrChange, type FsAttrs, type TimeChange, isDir, isFile, isSymlink } from './export-fs.js';
import { Access, NfsStat, type NfsErrorStatus, TimeHow } from './nfs3-constants.js';
import type { Sattr } from './nfs3-types.js';

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

const S_ISVTX = 0o1000;

/** The owner and mode of an object, as the permission checks take them. */
export function owner(a: FsAttrs): Owner {
  return { mode: Number(a.mode), uid: Number(a.uid), gid: Number(a.gid) };
}

const inGroup = (c: Caller, gid: number) => c.gid === gid || c.gids.includes(gid);

/** The owner of an object a caller makes in `dir`: the caller, with the directory's group when it is setgid, as the kernel does. */
export function newOwner(c: Caller, dir: FsAttrs): { uid: number; gid: number } {
  return { uid: c.uid, gid: Number(dir.mode) & S_ISGID ? Number(dir.gid) : c.gid };
}

/** Checks a directory for LOOKUP-like use (search) or for a change of its entries (search and write). */
export function checkDir(t: { caller: Caller; opts: AccessOptions; obj: { attrs: FsAttrs } }, modify: boolean, fail: object): void {
  const st = t.obj.attrs;
  if (!isDir(st)) throw new NfsError(NfsStat.NOTDIR, undefined, fail);
  if (modify && !t.opts.rw) throw new NfsError(NfsStat.ROFS, undefined, fail);
  if (!may.exec(t.caller, owner(st), true)) throw new NfsError(NfsStat.ACCES, undefined, fail);
  if (modify && !may.write(t.caller, owner(st), true)) throw new NfsError(NfsStat.ACCES, undefined, fail);
}

/** Sticky directories: only the owner of the entry or of the directory (or root) may remove or replace it. */
export function checkSticky(c: Caller, dir: FsAttrs, child: FsAttrs): void {
  if (!(Number(dir.mode) & S_ISVTX) || c.uid === 0) return;
  if (BigInt(c.uid) !== child.uid && BigInt(c.uid) !== dir.uid) throw new NfsError(NfsStat.ACCES);
}

/**
 * What a sattr3 may change, by the rules the kernel applies to a local
 * caller (the server acts as root, so it checks them itself); `created`
 * is an object just made for the caller. Refusals an admin should see go
 * through `refuse`.
 */
export function sattrChange(c: Caller, st: FsAttrs, s: Sattr, created: boolean, refuse: (status: NfsErrorStatus, detail: string) => NfsError): AttrChange {
  const change: AttrChange = {};
  const isOwner = c.uid === 0 || BigInt(c.uid) === st.uid;
  // As knfsd: what a caller makes is its own; only root may name another owner or group at once
  // (a non-root caller's uid and gid in CREATE's attributes are ignored, never a way to give a file away).
  const owners = !created || c.uid === 0;
  const chown = owners && (s.uid !== undefined || s.gid !== undefined);
  if (chown) {
    // As chown(2) (the kernel's chown_ok/chgrp_ok): only root changes the owner, and a non-owner may not even
    // "change" it to the current owner; the owner may set the group to its current one or one of its own groups.
    if (c.uid !== 0 && !created) {
      if (s.uid !== undefined && !(isOwner && BigInt(s.uid) === st.uid)) throw refuse(NfsStat.PERM, 'only root may change the owner');
      if (s.gid !== undefined && !(isOwner && (BigInt(s.gid) === st.gid || inGroup(c, s.gid)))) {
        throw refuse(NfsStat.PERM, `only root, or the owner to one of its own groups, may change the group (to ${s.gid})`);
      }
    }
    // Applied even when nothing changes: a chown clears setuid (and setgid with group execute) as the kernel does.
    change.uid = s.uid;
    change.gid = s.gid;
  }
  if (s.mode !== undefined && !isSymlink(st)) {
    if (!isOwner && !created) throw refuse(NfsStat.PERM, 'only the owner may change the mode');
    let mode = s.mode & 0o7777;
    const gid = (owners ? s.gid : undefined) ?? Number(st.gid);
    if (c.uid !== 0 && !inGroup(c, gid)) mode &= ~S_ISGID;
    // A directory made in a setgid directory is setgid itself (the kernel set it), whatever mode the client sent.
    if (created && isDir(st)) mode |= Number(st.mode) & S_ISGID;
    // With a chown in the same SETATTR, the chown's clearing wins over the mode sent (as knfsd).
    if (chown && !isDir(st)) mode &= ~(S_ISUID | (mode & 0o010 ? S_ISGID : 0));
    change.mode = mode;
  }
  if (s.size !== undefined) {
    if (isDir(st)) throw new NfsError(NfsStat.ISDIR);
    if (!isFile(st)) throw new NfsError(NfsStat.INVAL);
    if (!created && !isOwner && !may.write(c, owner(st))) throw new NfsError(NfsStat.ACCES);
    // A size past 2^53 cannot be passed on exactly; no file system holds one.
    if (s.size > BigInt(Number.MAX_SAFE_INTEGER)) throw new NfsError(NfsStat.FBIG, `size ${s.size} is too large`);
    change.size = s.size;
    // A truncate by a caller without CAP_FSETID clears setuid/setgid as a write does.
    const kept = s.mode === undefined ? keptAfterWrite(c, st) : undefined;
    if (kept !== undefined) change.mode = kept;
  }
  if (s.atime.how !== TimeHow.DONT_CHANGE || s.mtime.how !== TimeHow.DONT_CHANGE) {
    const clientTime = s.atime.how === TimeHow.SET_TO_CLIENT_TIME || s.mtime.how === TimeHow.SET_TO_CLIENT_TIME;
    if (!created && !isOwner && (clientTime || !may.write(c, owner(st)))) throw new NfsError(clientTime ? NfsStat.PERM : NfsStat.ACCES);
    // As utimensat(2): nanoseconds past a second are EINVAL.
    for (const h of [s.atime, s.mtime]) if (h.how === TimeHow.SET_TO_CLIENT_TIME && h.time.nseconds > 999_999_999) throw new NfsError(NfsStat.INVAL);
    change.atime = timeChange(s.atime);
    change.mtime = timeChange(s.mtime);
  }
  return change;
}

function timeChange(h: Sattr['atime']): TimeChange {
  return h.how === TimeHow.SET_TO_CLIENT_TIME ? { at: h.time } : h.how === TimeHow.SET_TO_SERVER_TIME ? { now: true } : { keep: true };
}

/**
 * The mode a regular file keeps after `caller` changes its contents (WRITE,
 * truncate), or undefined when nothing is cleared. As the kernel
 * (setattr_should_drop_suidgid): a caller without CAP_FSETID (here: not
 * root) clears setuid always, and setgid when group execute is set or the
 * caller is not in the file's group; the owner too.
 */
export function keptAfterWrite(c: Caller, st: FsAttrs): number | undefined {
  if (c.uid === 0 || !isFile(st)) return undefined;
  const mode = Number(st.mode) & 0o7777;
  let kill = mode & S_ISUID;
  if (mode & S_ISGID && (mode & 0o010 || !inGroup(c, Number(st.gid)))) kill |= S_ISGID;
  return kill ? mode & ~kill : undefined;
}
