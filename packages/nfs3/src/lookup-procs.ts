import { may, owner } from './credentials.js';
import { statusOf } from './errno-status.js';
import type { FsObject } from './export-fs.js';
import { isDir, isSymlink } from './export-fs.js';
import { keyBytes } from './byte-path.js';
import { NfsStat } from './nfs3-constants.js';
import { type ArgsOf, type DirEntry, type DirEntryPlus, type ResOf, entry3, entryplus3 } from './nfs3-procedures.js';
import { postOpAttr } from './nfs3-types.js';
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

export async function readdirplus(a: ArgsOf<'READDIRPLUS'>, call: Call): Promise<ResOf<'READDIRPLUS'>> {
  const l = await listing(call, a.dir, a.cookie, a.cookieverf);
  const maxcount = Math.min(a.maxcount, call.maxReply);
  let size = 4 + postOpAttr.encodingLength(l.attributes) + 8 + 4 + 4;
  let dirSize = 0;
  const entries: DirEntryPlus[] = [];
  let i = l.start;
  for (; i < l.names.length; i++) {
    const e = await l.entryAt(i);
    if (!e) continue;
    const entry = {
      fileid: e.obj.fileid,
      name: keyBytes(e.name),
      cookie: BigInt(i + 1),
      attributes: attr(l.d, e.obj.attrs),
      handle: call.handleOf(l.d, e.obj),
    };
    const n = 4 + entryplus3.encodingLength(entry);
    const dn = 8 + 4 + entry.name.length + ((4 - (entry.name.length & 3)) & 3) + 8;
    if (size + n > maxcount || (entries.length > 0 && dirSize + dn > a.dircount)) break;
    size += n;
    dirSize += dn;
    entries.push(entry);
  }
  if (entries.length === 0 && i < l.names.length) throw err(NfsStat.TOOSMALL, undefined, { attributes: l.attributes });
  return { status: 0, attributes: l.attributes, cookieverf: l.verf, entries, eof: i >= l.names.length };
}
