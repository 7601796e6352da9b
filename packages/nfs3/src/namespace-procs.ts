import { checkSticky, may, mayLink, newOwner, owner, sattrChange } from './credentials.js';
import { statusOf } from './errno-status.js';
import type { FsObject, NewOwner, NodeKind } from './export-fs.js';
import { isDir, isFile } from './export-fs.js';
import type { Target } from './export-table.js';
import { CreateMode, Ftype, NfsStat } from './nfs3-constants.js';
import type { ArgsOf, ResOf } from './nfs3-procedures.js';
import { type DirOpArgs, type Sattr, noSattr } from './nfs3-types.js';
import { type Call, EMPTY_WCC, attr, attrOf, checkName, dirTarget, err, isDots, wcc } from './procedure-context.js';

// CREATE, MKDIR, SYMLINK, MKNOD, REMOVE, RMDIR, RENAME, LINK.

/** Where `make` reports whether it made the object or found one it may answer with (CREATE UNCHECKED, a retransmitted EXCLUSIVE). */
type Made = { obj: FsObject; made: boolean };

/**
 * The common frame of CREATE, MKDIR, SYMLINK and MKNOD: checks the
 * directory and name, runs `make` (which gives the object to `owner`),
 * applies the attributes and answers with handle, attributes and directory wcc.
 */
async function makeObject(
  call: Call,
  where: DirOpArgs,
  attrs: Sattr | undefined | ((made: boolean) => Sattr | undefined),
  make: (d: Target, name: Buffer, owner: NewOwner) => Promise<Made>,
): Promise<ResOf<'CREATE'>> {
  const d = await dirTarget(call, where.dir, true);
  try {
    const name = checkName(where.name, NfsStat.EXIST);
    const { obj, made } = await make(d, name, newOwner(d.caller, d.obj.attrs));
    const apply = typeof attrs === 'function' ? attrs(made) : attrs;
    if (apply) await d.fs.setattr(obj, sattrChange(d.caller, obj.attrs, apply, made, call.refused));
    return { status: 0, object: call.handleOf(d, obj), attributes: attr(d, await d.fs.getattr(obj)), dirWcc: await wcc(d) };
  } catch (e) {
    throw err(statusOf(e), String(e), { dirWcc: await wcc(d) });
  }
}

const lookupQuietly = (d: Target, name: Buffer) => d.fs.lookup(d.obj, name).catch(() => undefined);

export function create(a: ArgsOf<'CREATE'>, call: Call): Promise<ResOf<'CREATE'>> {
  const how = a.how;
  // Over an existing file (UNCHECKED) only the size applies, as with nfsd: the file keeps its mode and owner.
  const attrs = (made: boolean): Sattr | undefined =>
    how.mode === CreateMode.EXCLUSIVE
      ? undefined
      : made
        ? { ...how.attributes, mode: how.attributes.mode ?? 0o644 }
        : { ...noSattr(), size: how.attributes.size };
  return makeObject(call, a.where, attrs, async (d, name, owner) => {
    const existing = await lookupQuietly(d, name);
    if (existing) {
      if (how.mode === CreateMode.UNCHECKED && isFile(existing.attrs)) return { obj: existing, made: false };
      if (how.mode === CreateMode.EXCLUSIVE && isFile(existing.attrs)) {
        // A retransmitted EXCLUSIVE create finds its own verifier in the times, as Linux nfsd stores it.
        const st = existing.attrs;
        if (Number(st.atimeNs / 1_000_000_000n) === how.verf.readUInt32BE(0) && Number(st.mtimeNs / 1_000_000_000n) === how.verf.readUInt32BE(4)) {
          return { obj: existing, made: false };
        }
      }
      throw err(NfsStat.EXIST);
    }
    const times = how.mode === CreateMode.EXCLUSIVE ? { atime: how.verf.readUInt32BE(0), mtime: how.verf.readUInt32BE(4) } : undefined;
    return { obj: await d.fs.create(d.obj, name, owner, times), made: true };
  });
}

export function mkdir(a: ArgsOf<'MKDIR'>, call: Call): Promise<ResOf<'MKDIR'>> {
  return makeObject(call, a.where, { ...a.attributes, mode: a.attributes.mode ?? 0o755 }, async (d, name, owner) => ({
    obj: await d.fs.mkdir(d.obj, name, owner),
    made: true,
  }));
}

export function symlink(a: ArgsOf<'SYMLINK'>, call: Call): Promise<ResOf<'SYMLINK'>> {
  // As knfsd: an empty target, or one holding NUL (which no symlink can), is NFS3ERR_INVAL.
  if (a.data.length === 0 || a.data.includes(0)) return Promise.reject(err(NfsStat.INVAL));
  return makeObject(call, a.where, { ...a.attributes, mode: undefined, size: undefined }, async (d, name, owner) => ({
    obj: await d.fs.symlink(d.obj, name, a.data, owner),
    made: true,
  }));
}

export function mknod(a: ArgsOf<'MKNOD'>, call: Call): Promise<ResOf<'MKNOD'>> {
  const w = a.what;
  if (!('attributes' in w)) return Promise.reject(err(NfsStat.BADTYPE));
  const kind: NodeKind = w.type === Ftype.CHR ? 'chr' : w.type === Ftype.BLK ? 'blk' : w.type === Ftype.FIFO ? 'fifo' : 'sock';
  return makeObject(call, a.where, { ...w.attributes, size: undefined }, async (d, name, owner) => {
    // Device nodes need CAP_MKNOD, which the server has and a non-root caller does not.
    if ('spec' in w && d.caller.uid !== 0) throw call.refused(NfsStat.PERM, 'only root may make device nodes');
    const spec = 'spec' in w ? w.spec : { specdata1: 0, specdata2: 0 };
    // As knfsd: a device number Linux cannot hold (12-bit major, 20-bit minor) is NFS3ERR_INVAL.
    if (spec.specdata1 > 0xfff || spec.specdata2 > 0xfffff) throw err(NfsStat.INVAL, `device ${spec.specdata1},${spec.specdata2} is out of range`);
    return { obj: await d.fs.mknod(d.obj, name, kind, spec.specdata1, spec.specdata2, owner), made: true };
  });
}

export async function remove(a: ArgsOf<'REMOVE'>, call: Call, dir: boolean): Promise<ResOf<'REMOVE'>> {
  const d = await dirTarget(call, a.dir, true);
  try {
    if (dir && isDots(a.name) === 2) throw err(NfsStat.NOTEMPTY);
    const name = checkName(a.name);
    const child = await d.fs.lookup(d.obj, name);
    if (dir && !isDir(child.attrs)) throw err(NfsStat.NOTDIR);
    if (!dir && isDir(child.attrs)) throw err(NfsStat.ISDIR);
    checkSticky(d.caller, d.obj.attrs, child.attrs);
    await d.fs.remove(d.obj, name, dir);
    return { status: 0, dirWcc: await wcc(d) };
  } catch (e) {
    throw err(statusOf(e), String(e), { dirWcc: await wcc(d) });
  }
}

export async function rename(a: ArgsOf<'RENAME'>, call: Call): Promise<ResOf<'RENAME'>> {
  const from = await dirTarget(call, a.from.dir, true);
  let to: Target | undefined;
  const body = async () => ({ fromWcc: await wcc(from), toWcc: to ? await wcc(to) : EMPTY_WCC });
  try {
    to = await dirTarget(call, a.to.dir, true);
    if (to.exp !== from.exp) throw call.refused(NfsStat.XDEV, `${from.exp.def.path} and ${to.exp.def.path} are different exports`);
    const fromName = checkName(a.from.name);
    const toName = checkName(a.to.name, NfsStat.EXIST);
    const src = await from.fs.lookup(from.obj, fromName);
    checkSticky(from.caller, from.obj.attrs, src.attrs);
    // Moving a directory to another parent rewrites its `..`: that takes write permission on it.
    if (isDir(src.attrs) && from.obj.fileid !== to.obj.fileid && !may.write(from.caller, owner(src.attrs), true)) throw err(NfsStat.ACCES);
    const dst = await lookupQuietly(to, toName);
    if (dst) checkSticky(to.caller, to.obj.attrs, dst.attrs);
    await from.fs.rename(from.obj, fromName, to.obj, toName);
    return { status: 0, ...(await body()) };
  } catch (e) {
    throw err(statusOf(e), String(e), await body());
  }
}

export async function link(a: ArgsOf<'LINK'>, call: Call): Promise<ResOf<'LINK'>> {
  const f = await call.target(a.file);
  const attributes = attr(f, f.obj.attrs);
  if (isDir(f.obj.attrs)) throw err(NfsStat.ISDIR, undefined, { attributes });
  const d = await dirTarget(call, a.link.dir, true);
  try {
    if (d.exp !== f.exp) throw call.refused(NfsStat.XDEV, `${f.exp.def.path} and ${d.exp.def.path} are different exports`);
    const name = checkName(a.link.name, NfsStat.EXIST);
    if (!mayLink(d.caller, owner(f.obj.attrs))) throw call.refused(NfsStat.PERM, `uid ${d.caller.uid} may not link a file it neither owns nor may read and write`);
    await d.fs.link(f.obj, d.obj, name);
    return { status: 0, attributes: await attrOf(f, f.obj), dirWcc: await wcc(d) };
  } catch (e) {
    throw err(statusOf(e), String(e), { attributes, dirWcc: await wcc(d) });
  }
}
