import { constants, type BigIntStats } from 'node:fs';
import { chmod, copyFile, lchown, link, lstat, lutimes, mkdir, open, readdir, readFile, readlink, rename, rmdir, statfs, symlink, truncate, unlink } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { NfsError, NfsStat, type AttrChange, type ExportFs, type FsAttrs, type FsObject, type FsStat, type NewOwner, type NodeKind, type Stability, type TimeChange } from '@netboot/nfs3';
import { writeFileAtomic } from './durable-files.js';

/** Marks an upper directory whose lower namesake is hidden (after rmdir + mkdir, or a rename over it). */
export const OPAQUE = '.wh..wh..opq';
/** Upper-only objects get their own fileid space, apart from the image's inode numbers. */
const UPPER_TAG = 1n << 63n;
const MAX_SCAN = 500_000;

function fsError(code: string, what: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${what}`), { code });
}

/** Where a merged name is: its layer's lstat, and whether the image also has it (so a delete must leave a whiteout). */
interface Located {
  layer: 'upper' | 'lower';
  st: BigIntStats;
  lowerToo: boolean;
}

class OverlayObject implements FsObject {
  readonly generation = 0n;
  constructor(
    readonly rel: string,
    readonly fileid: bigint,
    readonly attrs: FsAttrs,
  ) {}
}

const isWhiteout = (st: BigIntStats) => st.isCharacterDevice() && st.rdev === 0n;
const child = (dir: string, name: Buffer | string) => (dir === '' ? '' : `${dir}/`) + (typeof name === 'string' ? name : name.toString('latin1'));

/**
 * A node's root as the merge of an image generation (lower, never written)
 * and the node's own layer (upper). Reads fall through to the image; the
 * first change of an object copies it up; a delete of an image name leaves
 * a whiteout (a 0/0 character device, as overlayfs); an upper directory
 * holding `.wh..wh..opq` hides the image's directory of that name. The
 * fileid of an object is the image's inode number, kept across copy-up (an
 * origin map, upper inode to image inode, in the node's directory), or the
 * upper inode with the top bit set for objects the node made.
 *
 * Names are handled as Latin-1 strings of their bytes; every component of
 * every path is checked with lstat on the way down and a symlink is never
 * followed. The upper layer is written by this server only.
 */
export class OverlayFs implements ExportFs {
  private readonly index = new Map<bigint, string>();
  private readonly listings = new Map<string, string[]>();

  private constructor(
    private readonly lower: string,
    private readonly upper: string,
    private readonly originsFile: string,
    private readonly origins: Map<bigint, bigint>,
  ) {}

  /** `lower`: the generation's directory; `upper`: the node's layer (made if missing); `originsFile`: where copy-up identities are kept. */
  static async open(lower: string, upper: string, originsFile: string): Promise<OverlayFs> {
    await mkdir(upper, { recursive: true, mode: 0o755 });
    const text = await readFile(originsFile, 'utf8').catch(() => '{}');
    const origins = new Map(Object.entries(JSON.parse(text) as Record<string, string>).map(([k, v]) => [BigInt(k), BigInt(v)]));
    const fs = new OverlayFs(lower, upper, originsFile, origins);
    const [u, l] = [await lstat(upper, { bigint: true }), await lstat(lower, { bigint: true })];
    if (!origins.has(u.ino)) {
      origins.set(u.ino, l.ino);
      await fs.saveOrigins();
    }
    return fs;
  }

  private path(layer: 'upper' | 'lower', rel: string): Buffer {
    const root = layer === 'upper' ? this.upper : this.lower;
    return rel === '' ? Buffer.from(root) : Buffer.concat([Buffer.from(root), Buffer.from('/'), Buffer.from(rel, 'latin1')]);
  }

  private async lst(layer: 'upper' | 'lower', rel: string): Promise<BigIntStats | undefined> {
    return lstat(this.path(layer, rel), { bigint: true }).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
  }

  private async opaque(rel: string): Promise<boolean> {
    return (await this.lst('upper', child(rel, OPAQUE))) !== undefined;
  }

  private async locate(rel: string): Promise<Located> {
    let upperOn = true;
    let lowerOn = true;
    const comps = rel === '' ? [] : rel.split('/');
    let prefix = '';
    for (let i = 0; ; i++) {
      const u = upperOn ? await this.lst('upper', prefix) : undefined;
      if (u && isWhiteout(u)) throw fsError('ENOENT', rel);
      const l = lowerOn ? await this.lst('lower', prefix) : undefined;
      if (i === comps.length) {
        if (u) return { layer: 'upper', st: u, lowerToo: l !== undefined };
        if (l) return { layer: 'lower', st: l, lowerToo: true };
        throw fsError('ENOENT', rel);
      }
      if (u && !u.isDirectory()) throw fsError('ENOTDIR', rel);
      if (!u) upperOn = false;
      else if (await this.opaque(prefix)) lowerOn = false;
      if (!l || !l.isDirectory()) lowerOn = false;
      if (!u && !lowerOn) throw fsError(l ? 'ENOTDIR' : 'ENOENT', rel);
      prefix = child(prefix, comps[i]!);
    }
  }

  private fileidOf(loc: Located): bigint {
    if (loc.layer === 'lower') return loc.st.ino;
    return this.origins.get(loc.st.ino) ?? loc.st.ino | UPPER_TAG;
  }

  private object(rel: string, loc: Located): OverlayObject {
    const fileid = this.fileidOf(loc);
    this.index.set(fileid, rel);
    return new OverlayObject(rel, fileid, { ...attrsOf(loc.st), ino: fileid });
  }

  private async saveOrigins(): Promise<void> {
    const o: Record<string, string> = {};
    for (const [k, v] of this.origins) o[String(k)] = String(v);
    await writeFileAtomic(this.originsFile, JSON.stringify(o));
  }

  /** Brings `rel` (and its directories) into the upper layer, keeping its identity; returns its upper path. */
  private async copyUp(rel: string): Promise<Buffer> {
    const loc = await this.locate(rel);
    if (loc.layer === 'upper') return this.path('upper', rel);
    if (rel !== '') await this.copyUp(rel.slice(0, Math.max(0, rel.lastIndexOf('/'))));
    const from = this.path('lower', rel);
    const to = this.path('upper', rel);
    const st = loc.st;
    if (st.isDirectory()) await mkdir(to, 0o700);
    else if (st.isFile()) await copyFile(from, to, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
    else if (st.isSymbolicLink()) await symlink(await readlink(from, { encoding: 'buffer' }), to);
    else await mknodAt(to, st.isFIFO() ? 'fifo' : st.isBlockDevice() ? 'blk' : 'chr', Number((st.rdev >> 8n) & 0xfffn), Number((st.rdev & 0xffn) | ((st.rdev >> 12n) & ~0xffn)));
    await lchown(to, Number(st.uid), Number(st.gid));
    if (!st.isSymbolicLink()) await chmod(to, Number(st.mode & 0o7777n));
    await lutimes(to, Number(st.atimeNs) / 1e9, Number(st.mtimeNs) / 1e9);
    const up = (await this.lst('upper', rel))!;
    this.origins.set(up.ino, st.ino);
    await this.saveOrigins();
    return to;
  }

  /** Copies up a directory and everything below it, then hides the image's namesake (for a rename). */
  private async copyUpTree(rel: string): Promise<void> {
    await this.copyUp(rel);
    const loc = await this.locate(rel);
    if (!loc.st.isDirectory()) return;
    for (const n of await this.names(rel)) await this.copyUpTree(child(rel, n));
    await this.makeOpaque(rel);
  }

  private async makeOpaque(rel: string): Promise<void> {
    const fh = await open(this.path('upper', child(rel, OPAQUE)), 'w', 0o600);
    await fh.close();
  }

  /** The merged names of a directory (no whiteouts, no opaque marker). */
  private async names(rel: string): Promise<string[]> {
    const loc = await this.locate(rel);
    if (!loc.st.isDirectory()) throw fsError('ENOTDIR', rel);
    const seen = new Set<string>();
    const out: string[] = [];
    const hidden = new Set<string>();
    let lowerOn = loc.lowerToo;
    if (loc.layer === 'upper') {
      for (const n of await readdir(this.path('upper', rel), { encoding: 'buffer' })) {
        const s = n.toString('latin1');
        if (s === OPAQUE) {
          lowerOn = false;
          continue;
        }
        const st = await this.lst('upper', child(rel, s));
        if (st && isWhiteout(st)) hidden.add(s);
        else {
          seen.add(s);
          out.push(s);
        }
      }
    }
    if (lowerOn) {
      const l = await this.lst('lower', rel);
      if (l?.isDirectory()) {
        for (const n of await readdir(this.path('lower', rel), { encoding: 'buffer' })) {
          const s = n.toString('latin1');
          if (!seen.has(s) && !hidden.has(s)) out.push(s);
        }
      }
    }
    return out;
  }

  /** Clears a name in the upper layer before something new takes it: a whiteout there is removed. */
  private async clearWhiteout(rel: string): Promise<void> {
    const st = await this.lst('upper', rel);
    if (st && isWhiteout(st)) await unlink(this.path('upper', rel));
  }

  private async mustNotExist(rel: string): Promise<void> {
    const ok = await this.locate(rel).then(
      () => false,
      (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return true;
        throw e;
      },
    );
    if (!ok) throw fsError('EEXIST', rel);
  }

  /** After making a new name over an image name hidden by a whiteout: a directory hides the image's directory. */
  private async made(rel: string, owner: NewOwner | undefined, isDir: boolean, hadWhiteout: boolean): Promise<OverlayObject> {
    const p = this.path('upper', rel);
    if (owner) await lchown(p, owner.uid, owner.gid);
    if (isDir && hadWhiteout) await this.makeOpaque(rel);
    return this.object(rel, await this.locate(rel));
  }

  private async prepareNew(dir: FsObject, name: Buffer): Promise<{ rel: string; hadWhiteout: boolean }> {
    const d = dir as OverlayObject;
    const rel = child(d.rel, name);
    await this.mustNotExist(rel);
    await this.copyUp(d.rel);
    const st = await this.lst('upper', rel);
    const hadWhiteout = st !== undefined && isWhiteout(st);
    await this.clearWhiteout(rel);
    return { rel, hadWhiteout };
  }

  /** For logs: which image generation and layer this root merges. */
  describe(): string {
    return `image ${this.lower}, node layer ${this.upper}`;
  }

  /** Replaces the contents of a file of the merged root (made with `mode` if missing), for per-node files such as etc/hostname. */
  async writeFile(rel: string, data: Buffer, mode = 0o644): Promise<void> {
    const dirRel = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';
    const name = Buffer.from(rel.slice(rel.lastIndexOf('/') + 1), 'latin1');
    const dir = await this.lookupPath(dirRel);
    const exists = await this.locate(rel).then(() => true, () => false);
    const obj = exists ? await this.lookup(dir, name) : await this.create(dir, name, { uid: 0, gid: 0 });
    await this.setattr(obj, exists ? { size: 0n } : { mode, size: 0n });
    await this.write(obj, data, 0, 'file');
  }

  private async lookupPath(rel: string): Promise<FsObject> {
    return this.object(rel, await this.locate(rel));
  }

  async root(): Promise<FsObject> {
    return this.object('', await this.locate(''));
  }

  async resolve(fileid: bigint, _generation: bigint): Promise<FsObject> {
    const rel = this.index.get(fileid);
    if (rel !== undefined) {
      const loc = await this.locate(rel).catch(() => undefined);
      if (loc && this.fileidOf(loc) === fileid) return this.object(rel, loc);
    }
    // After a restart or a rename of a parent: search the merged tree, bounded.
    const queue = [''];
    let visited = 0;
    while (queue.length > 0 && visited < MAX_SCAN) {
      const d = queue.shift()!;
      const loc = await this.locate(d).catch(() => undefined);
      if (!loc) continue;
      visited++;
      if (this.fileidOf(loc) === fileid) return this.object(d, loc);
      if (loc.st.isDirectory()) for (const n of await this.names(d)) queue.push(child(d, n));
    }
    throw new NfsError(NfsStat.STALE, 'no such object in this node root');
  }

  async lookup(dir: FsObject, name: Buffer): Promise<FsObject> {
    const d = dir as OverlayObject;
    const s = name.toString('latin1');
    const rel = s === '.' ? d.rel : s === '..' ? d.rel.slice(0, Math.max(0, d.rel.lastIndexOf('/'))) : child(d.rel, s);
    return this.object(rel, await this.locate(rel));
  }

  async getattr(obj: FsObject): Promise<FsAttrs> {
    const o = obj as OverlayObject;
    const loc = await this.locate(o.rel);
    return { ...attrsOf(loc.st), ino: this.fileidOf(loc) };
  }

  async setattr(obj: FsObject, change: AttrChange): Promise<void> {
    const o = obj as OverlayObject;
    const p = await this.copyUp(o.rel);
    const st = (await this.lst('upper', o.rel))!;
    if (change.uid !== undefined || change.gid !== undefined) await lchown(p, change.uid ?? Number(st.uid), change.gid ?? Number(st.gid));
    if (change.mode !== undefined && !st.isSymbolicLink()) await chmod(p, change.mode);
    if (change.size !== undefined) await truncate(p, Number(change.size));
    if (change.atime || change.mtime) {
      const now = Date.now() / 1000;
      const t = (c: TimeChange | undefined, keep: bigint) => (!c || 'keep' in c ? Number(keep) / 1e9 : 'now' in c ? now : c.at.seconds + c.at.nseconds / 1e9);
      await lutimes(p, t(change.atime, st.atimeNs), t(change.mtime, st.mtimeNs));
    }
  }

  async read(obj: FsObject, buf: Buffer, at: number, count: number, position: number): Promise<number> {
    const o = obj as OverlayObject;
    const loc = await this.locate(o.rel);
    const fh = await open(this.path(loc.layer, o.rel), constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      return (await fh.read(buf, at, count, position)).bytesRead;
    } finally {
      await fh.close();
    }
  }

  async write(obj: FsObject, data: Buffer, position: number, stable: Stability): Promise<FsAttrs> {
    const o = obj as OverlayObject;
    const fh = await open(await this.copyUp(o.rel), constants.O_WRONLY | constants.O_NOFOLLOW);
    try {
      await fh.write(data, 0, data.length, position);
      if (stable !== 'unstable') await fh.datasync();
    } finally {
      await fh.close();
    }
    return this.getattr(obj);
  }

  async commit(obj: FsObject): Promise<void> {
    const o = obj as OverlayObject;
    const loc = await this.locate(o.rel);
    if (loc.layer !== 'upper' || !loc.st.isFile()) return;
    const fh = await open(this.path('upper', o.rel), constants.O_RDONLY | constants.O_NOFOLLOW);
    await fh.sync().finally(() => fh.close());
  }

  async create(dir: FsObject, name: Buffer, owner: NewOwner, exclusiveTimes?: { atime: number; mtime: number }): Promise<FsObject> {
    const { rel, hadWhiteout } = await this.prepareNew(dir, name);
    const fh = await open(this.path('upper', rel), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    await fh.close();
    if (exclusiveTimes) await lutimes(this.path('upper', rel), exclusiveTimes.atime, exclusiveTimes.mtime);
    return this.made(rel, owner, false, hadWhiteout);
  }

  async mkdir(dir: FsObject, name: Buffer, owner: NewOwner): Promise<FsObject> {
    const { rel, hadWhiteout } = await this.prepareNew(dir, name);
    await mkdir(this.path('upper', rel), 0o755);
    return this.made(rel, owner, true, hadWhiteout);
  }

  async symlink(dir: FsObject, name: Buffer, target: Buffer, owner: NewOwner): Promise<FsObject> {
    const { rel, hadWhiteout } = await this.prepareNew(dir, name);
    await symlink(target, this.path('upper', rel));
    return this.made(rel, owner, false, hadWhiteout);
  }

  async mknod(dir: FsObject, name: Buffer, kind: NodeKind, major: number, minor: number, owner: NewOwner): Promise<FsObject> {
    if (kind === 'sock') throw fsError('ENOTSUP', 'sockets in an image-backed root');
    const { rel, hadWhiteout } = await this.prepareNew(dir, name);
    await mknodAt(this.path('upper', rel), kind, major, minor);
    return this.made(rel, owner, false, hadWhiteout);
  }

  async link(obj: FsObject, dir: FsObject, name: Buffer): Promise<void> {
    const o = obj as OverlayObject;
    const { rel } = await this.prepareNew(dir, name);
    await link(await this.copyUp(o.rel), this.path('upper', rel));
  }

  async rename(fromDir: FsObject, fromName: Buffer, toDir: FsObject, toName: Buffer): Promise<void> {
    const from = child((fromDir as OverlayObject).rel, fromName);
    const to = child((toDir as OverlayObject).rel, toName);
    if (from === to) return;
    const src = await this.locate(from);
    const dst = await this.locate(to).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    if (src.st.isDirectory() && (to + '/').startsWith(from + '/')) throw fsError('EINVAL', 'a directory into itself');
    if (dst) {
      if (this.fileidOf(dst) === this.fileidOf(src)) return;
      if (src.st.isDirectory() && !dst.st.isDirectory()) throw fsError('ENOTDIR', to);
      if (!src.st.isDirectory() && dst.st.isDirectory()) throw fsError('EISDIR', to);
      if (dst.st.isDirectory() && (await this.names(to)).length > 0) throw fsError('ENOTEMPTY', to);
    }
    if (src.st.isDirectory() && src.lowerToo) await this.copyUpTree(from);
    else await this.copyUp(from);
    await this.copyUp((toDir as OverlayObject).rel);
    if (dst?.layer === 'upper' && dst.st.isDirectory()) await this.emptyUpperDir(to);
    await this.clearWhiteout(to);
    await rename(this.path('upper', from), this.path('upper', to));
    if (src.st.isDirectory() && dst?.lowerToo) await this.makeOpaque(to).catch(() => {});
    if (src.lowerToo) await this.whiteout(from);
    for (const [id, rel] of this.index) if (rel === from || rel.startsWith(from + '/')) this.index.set(id, to + rel.slice(from.length));
  }

  async remove(dir: FsObject, name: Buffer, isDir: boolean): Promise<void> {
    const rel = child((dir as OverlayObject).rel, name);
    const loc = await this.locate(rel);
    if (isDir && !loc.st.isDirectory()) throw fsError('ENOTDIR', rel);
    if (!isDir && loc.st.isDirectory()) throw fsError('EISDIR', rel);
    if (isDir && (await this.names(rel)).length > 0) throw fsError('ENOTEMPTY', rel);
    if (loc.layer === 'upper') {
      if (isDir) {
        await this.emptyUpperDir(rel);
        await rmdir(this.path('upper', rel));
      } else {
        await unlink(this.path('upper', rel));
        if (loc.st.nlink === 1n && this.origins.delete(loc.st.ino)) await this.saveOrigins();
      }
    }
    if (loc.lowerToo) await this.whiteout(rel);
  }

  private async whiteout(rel: string): Promise<void> {
    await this.copyUp(rel.slice(0, Math.max(0, rel.lastIndexOf('/'))));
    await mknodAt(this.path('upper', rel), 'chr', 0, 0);
  }

  /** Removes the whiteouts and opaque marker an upper directory holds once its merged view is empty. */
  private async emptyUpperDir(rel: string): Promise<void> {
    for (const n of await readdir(this.path('upper', rel), { encoding: 'buffer' })) await unlink(this.path('upper', child(rel, n.toString('latin1'))));
  }

  async readdir(dir: FsObject, cookie: bigint, verf: Buffer): Promise<{ verf: Buffer; names: string[] }> {
    const known = cookie !== 0n ? this.listings.get(verf.toString('hex')) : undefined;
    if (known) return { verf, names: known };
    const names = ['.', '..', ...(await this.names((dir as OverlayObject).rel))];
    const v = randomBytes(8);
    this.listings.set(v.toString('hex'), names);
    if (this.listings.size > 64) this.listings.delete(this.listings.keys().next().value!);
    return { verf: v, names };
  }

  async readlink(obj: FsObject): Promise<Buffer> {
    const o = obj as OverlayObject;
    const loc = await this.locate(o.rel);
    return readlink(this.path(loc.layer, o.rel), { encoding: 'buffer' });
  }

  async statfs(_obj: FsObject): Promise<FsStat> {
    const s = await statfs(this.upper, { bigint: true });
    return { tbytes: s.blocks * s.bsize, fbytes: s.bfree * s.bsize, abytes: s.bavail * s.bsize, tfiles: s.files, ffiles: s.ffree, afiles: s.ffree };
  }

  forgetCached(): void {
    this.listings.clear();
  }

  close(): void {}
}

function attrsOf(st: BigIntStats): FsAttrs {
  return { ino: st.ino, mode: st.mode, nlink: st.nlink, uid: st.uid, gid: st.gid, rdev: st.rdev, size: st.size, blocks: st.blocks, atimeNs: st.atimeNs, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs };
}

/** Node has no mknod(2): coreutils `mknod` (argv, never a shell) on a path of the node's layer. */
function mknodAt(path: Buffer, kind: 'chr' | 'blk' | 'fifo', major: number, minor: number): Promise<void> {
  // An argv string is UTF-8: a name with other bytes could not be passed exactly.
  if (path.some((b) => b >= 0x80)) return Promise.reject(fsError('EINVAL', 'device and FIFO names of an image-backed root must be ASCII'));
  const p = path.toString('latin1');
  const args = kind === 'fifo' ? ['-m', '0600', '--', p, 'p'] : ['-m', '0600', '--', p, kind === 'chr' ? 'c' : 'b', String(major), String(minor)];
  return new Promise((resolve, reject) =>
    execFile('mknod', args, { timeout: 10_000, encoding: 'latin1' }, (err, _o, stderr) => (err ? reject(fsError(/File exists/.test(stderr) ? 'EEXIST' : 'EIO', stderr.trim())) : resolve())),
  );
}
