import { may, owner } from './credentials.js';
import { statusOf } from './errno-status.js';
import type { FsObject } from './export-fs.js';
import type { Target } from './export-table.js';
import { isDir, isSymlink } from './export-fs.js';
import { keyBytes } from './byte-path.js';
import { HANDLE_SIZE } from './file-handle.js';
import { NAME_MAX, NfsStat } from './nfs3-constants.js';
import { type ArgsOf, type DirEntry, type DirEntryPlus, type ResOf, entry3, entryplus3 } from './nfs3-procedures.js';
import { FATTR3_SIZE, postOpAttr } from './nfs3-types.js';
import { type Call, attr, checkName, dirTarget, err, isDots } from './procedure-context.js';

// LOOKUP, READLINK, READDIR, READDIRPLUS.

export async function lookup(a: ArgsOf<'LOOKUP'>, call: Call): Promise<ResOf<'LOOKUP'>> {
  const d = await dirTarget(call, a.dir, false);
  const dirAttributes = attr(d, d.obj.attrs);
  let obj: FsObject;
  try {
    obj = await d.fs.lookup(d.obj, isDots(a.name) ? a.name : checkName(a.name));
  } catch (e) {
    throw err(statusOf(e), undefined, { dirAttributes });
  }
  return { status: 0, object: call.handleOf(d, obj), attributes: attr(d, obj.attrs), dirAttributes };
}

/**
 * LOOKUP answered at once when the directory's target is at hand (targetNow) and its backend has the entry
 * (lookupNow): the LOOKUPs of a walk after the READDIRPLUS that listed their names. undefined for anything
 * else, every refusal and error included: lookup() then answers as it always does.
 */
export function lookupNow(a: ArgsOf<'LOOKUP'>, d: Target, handleOf: (t: Target, obj: FsObject) => Buffer): ResOf<'LOOKUP'> | undefined {
  const name = a.name;
  if (!d.fs.lookupNow || !isDir(d.obj.attrs) || !may.exec(d.caller, owner(d.obj.attrs), true)) return undefined;
  if (name.length === 0 || name.length > NAME_MAX || isDots(name) || name.includes(0) || name.includes(0x2f)) return undefined;
  const obj = d.fs.lookupNow(d.obj, name);
  return obj && { status: 0, object: handleOf(d, obj), attributes: attr(d, obj.attrs), dirAttributes: attr(d, d.obj.attrs) };
}

export async function readlink(a: ArgsOf<'READLINK'>, call: Call): Promise<ResOf<'READLINK'>> {
  const t = await call.target(a.object);
  const attributes = attr(t, t.obj.attrs);
  if (!isSymlink(t.obj.attrs)) throw err(NfsStat.INVAL, undefined, { attributes });
  return { status: 0, attributes, data: await t.fs.readlink(t.obj) };
}

/** The listing of a directory handle from `cookie`, with each entry's object (undefined when gone since the snapshot). */
async function listing(call: Call, fh: Buffer, cookie: bigint, verf: Buffer) {
  const d = await call.target(fh);
  const attributes = attr(d, d.obj.attrs);
  if (!isDir(d.obj.attrs)) throw err(NfsStat.NOTDIR, undefined, { attributes });
  if (!may.read(d.caller, owner(d.obj.attrs), true)) throw err(NfsStat.ACCES, undefined, { attributes });
  const l = await d.fs.readdir(d.obj, cookie, verf);
  if (cookie > BigInt(l.names.length)) throw err(NfsStat.BAD_COOKIE, undefined, { attributes });
  const entryAt = async (i: number): Promise<{ name: string; obj: FsObject } | undefined> => {
    const name = l.names[i]!;
    try {
      return { name, obj: await d.fs.lookup(d.obj, keyBytes(name)) };
    } catch {
      return undefined;
    }
  };
  return { d, attributes, verf: l.verf, names: l.names, start: Number(cookie), entryAt };
}

export async function readdir(a: ArgsOf<'READDIR'>, call: Call): Promise<ResOf<'READDIR'>> {
  const l = await listing(call, a.dir, a.cookie, a.cookieverf);
  const count = Math.min(a.count, call.maxReply);
  let size = 4 + postOpAttr.encodingLength(l.attributes) + 8 + 4 + 4;
  const entries: DirEntry[] = [];
  let i = l.start;
  for (; i < l.names.length; i++) {
    const e = await l.entryAt(i);
    if (!e) continue;
    const entry = { fileid: e.obj.fileid, name: keyBytes(e.name), cookie: BigInt(i + 1) };
    const n = 4 + entry3.encodingLength(entry);
    if (size + n > count) break;
    size += n;
    entries.push(entry);
  }
  if (entries.length === 0 && i < l.names.length) throw err(NfsStat.TOOSMALL, undefined, { attributes: l.attributes });
  return { status: 0, attributes: l.attributes, cookieverf: l.verf, entries, eof: i >= l.names.length };
}

/** Stands in for an entry's handle while the reply is sized: every handle of this server is this long. */
const HANDLE_SPACE = Buffer.alloc(HANDLE_SIZE);
const pad4 = (n: number) => (4 - (n & 3)) & 3;

export async function readdirplus(a: ArgsOf<'READDIRPLUS'>, call: Call): Promise<ResOf<'READDIRPLUS'>> {
  const l = await listing(call, a.dir, a.cookie, a.cookieverf);
  const maxcount = Math.min(a.maxcount, call.maxReply);
  let size = 4 + postOpAttr.encodingLength(l.attributes) + 8 + 4 + 4;
  let dirSize = 0;
  const entries: DirEntryPlus[] = [];
  const objs: FsObject[] = [];
  // An entry's size depends on its name alone (attributes and handle are fixed-size), so the names that
  // fit are known before any is looked up; they are then looked up together, and a name gone meanwhile
  // leaves room for the next ones. Bounded: each pass takes at least one name.
  let i = l.start;
  let full = false;
  while (!full && i < l.names.length) {
    let room = size;
    let dirRoom = dirSize;
    let j = i;
    for (; j < l.names.length; j++) {
      const len = l.names[j]!.length;
      const n = 4 + entrySize(len);
      const dn = 8 + 4 + len + pad4(len) + 8;
      if (room + n > maxcount || (entries.length + (j - i) > 0 && dirRoom + dn > a.dircount)) break;
      room += n;
      dirRoom += dn;
    }
    if (j === i) break;
    const found = await lookupSlice(l, i, j);
    for (let k = i; k < j; k++) {
      const obj = found[k - i];
      if (!obj) continue;
      const entry = { fileid: obj.fileid, name: keyBytes(l.names[k]!), cookie: BigInt(k + 1), attributes: attr(l.d, obj.attrs), handle: HANDLE_SPACE };
      size += 4 + entryplus3.encodingLength(entry);
      dirSize += 8 + 4 + entry.name.length + pad4(entry.name.length) + 8;
      entries.push(entry);
      objs.push(obj);
    }
    i = j;
    full = found.every((o) => o !== undefined);
  }
  if (entries.length === 0 && i < l.names.length) throw err(NfsStat.TOOSMALL, undefined, { attributes: l.attributes });
  const handles = call.handlesOf(l.d, objs);
  for (let k = 0; k < entries.length; k++) entries[k]!.handle = handles[k]!;
  return { status: 0, attributes: l.attributes, cookieverf: l.verf, entries, eof: i >= l.names.length };
}

/** XDR size of an entryplus3 with attributes and a handle, for a name of `len` bytes (without the list's value-follows word). */
const entrySize = (len: number) => 8 + 4 + len + pad4(len) + 8 + 4 + FATTR3_SIZE + 4 + 4 + HANDLE_SIZE + pad4(HANDLE_SIZE);

/** The objects of names [from, to) of a listing: `.` and `..` alone, the rest in one batch when the backend can. */
async function lookupSlice(l: Awaited<ReturnType<typeof listing>>, from: number, to: number): Promise<(FsObject | undefined)[]> {
  const out: (FsObject | undefined)[] = [];
  let k = from;
  for (; k < to && k < 2; k++) out.push((await l.entryAt(k))?.obj);
  if (k >= to) return out;
  if (!l.d.fs.lookupNames) {
    for (; k < to; k++) out.push((await l.entryAt(k))?.obj);
    return out;
  }
  return out.concat(await l.d.fs.lookupNames(l.d.obj, l.names.slice(k, to)));
}
