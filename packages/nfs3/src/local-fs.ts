import { fsync, read } from 'node:fs';
import { promisify } from 'node:util';
import { AttributeCache } from './attribute-cache.js';
import { keyBytes, nameKey } from './byte-path.js';
import { DirListings } from './dir-listings.js';
import type { AttrChange, ExportFs, FsObject, NewOwner, NodeKind, Stability, TimeChange } from './export-fs.js';
import { ExportTree } from './export-tree.js';
import { type LocalAttrs, type LocalIo, rangeCached } from './local-io.js';
import { OpenFiles } from './open-files.js';
import { writeDirect, writeHere } from './file-write.js';

const readFd = promisify(read);
/**
 * The largest READ taken on the event loop when its data is cached (NFS clients' rsize ranges up to 1 MiB),
 * on a loop that other services share (see LocalShared's directReadMax).
 */
export const DIRECT_READ_MAX = 64 * 1024;
const fsyncFd = promisify(fsync);

/** What the local exports of one server share: attributes, open files, directory snapshots. */
export class LocalShared {
  /** Each export's attributes by path from its root (a Map per export: no key string made per call). */
  private readonly caches = new Map<number, AttributeCache<LocalAttrs>>();
  readonly files = new OpenFiles();
  readonly listings = new DirListings();

  /** READs begun and not finished, over the exports of this server (one thread's). */
  readsRunning = 0;

  /**
   * `directReadMax`: the largest READ whose cached data is copied on the serving thread itself when it is the
   * only READ running. On a loop that DHCP, TFTP and HTTP share, DIRECT_READ_MAX, so it never copies
   * megabytes between their events; an NFS worker thread's loop serves only NFS, and there a lone 1 MiB READ
   * handed to the thread pool and back waits for the hop with nothing to overlap it.
   */
  constructor(
    private readonly attributeCacheMs: number,
    readonly directReadMax = DIRECT_READ_MAX,
    /** Whether WRITE data is copied into the page cache on the serving thread (see writeDirect). */
    readonly directWrites = false,
  ) {
  }

  /** The attribute cache of export `id`. */
  cacheOf(id: number): AttributeCache<LocalAttrs> {
    let c = this.caches.get(id);
    if (!c) this.caches.set(id, (c = new AttributeCache(this.attributeCacheMs)));
    return c;
  }

  /**
   * Drops every export's cached attributes: a change made through one export moves paths of any other
   * export over the same tree (one exported inside another) too.
   */
  clearCaches(): void {
    for (const c of this.caches.values()) c.clear();
  }

  /**
   * After a change through export `id` that touched only the objects at `rels` (a name made or removed:
   * the directory and the name): those are forgotten there, and every other export's cache is cleared, as
   * clearCaches() does, since the same directory may be cached under another path there. Many nodes each
   * making a few files under one export (a boot storm's logs and pid files) then keep every other
   * object's attributes, where clearing the export's whole cache made every node stat again.
   */
  changedIn(id: number, rels: readonly string[]): void {
    for (const [other, c] of this.caches) {
      if (other !== id) c.clear();
      else for (const rel of rels) c.forget(rel);
    }
  }

  close(): void {
    this.files.close();
  }
}

class LocalObject implements FsObject {
  readonly fileid: bigint;
  readonly generation: bigint;
  constructor(
    /** Path from the export root as the inode map knows it: how the backend finds the object again. */
    readonly rel: string,
    readonly attrs: LocalAttrs,
  ) {
    this.fileid = attrs.ino;
    this.generation = attrs.birthtimeNs;
  }
}

const childRel = (dir: string, name: string) => (dir === '' ? name : `${dir}/${name}`);
const parentRel = (rel: string) => rel.slice(0, Math.max(0, rel.lastIndexOf('/')));
const KEEP: TimeChange = { keep: true };

/**
 * An export backed by a local directory. Handles carry the inode number
 * (fileid) and birth time (generation); ExportTree maps an inode back to
 * its path from the root. Every operation reaches its object through
 * `LocalIo` from the export root, checking it is still the inode the handle
 * names.
 */
export class LocalFs<R> implements ExportFs {
  private readonly tree: ExportTree<LocalAttrs>;
  /** This export's attributes by path from its root. */
  private readonly cache: AttributeCache<LocalAttrs>;
  /**
   * The directory a listing was just read from, still open until the end of that turn (one an export): the
   * READDIRPLUS that listed it stats its names through it next, where it would open the directory a second time.
   */
  private listedFd: R | undefined;
  private listedIno = 0n;
  private listedRel = '';

  private constructor(
    private readonly id: number,
    private readonly io: LocalIo<R>,
    private readonly shared: LocalShared,
    rootIno: bigint,
    what: string,
    maxScan: number | undefined,
  ) {
    this.cache = shared.cacheOf(id);
    this.tree = new ExportTree(
      rootIno,
      {
        check: async (rel, ino, birth) => {
          const st = this.statRel(rel);
          return st.ino === ino && st.birthtimeNs === birth ? st : undefined;
        },
        list: (rel) => this.with(rel, undefined, (d) => this.io.list(d)),
      },
      what,
      maxScan,
    );
  }

  static open<R>(id: number, root: string, io: LocalIo<R>, shared: LocalShared, maxScan?: number): LocalFs<R> {
    const r = io.at('');
    let st: LocalAttrs;
    try {
      st = io.stat(r);
    } finally {
      io.release(r);
    }
    if ((st.mode & 0o170000n) !== 0o040000n) throw new Error(`export ${root} is not a directory`);
    return new LocalFs(id, io, shared, st.ino, root, maxScan);
  }

  private fileKey(ino: bigint): string {
    return `${this.id}:${ino}`;
  }

  /** Attributes of the object at `rel`, from the cache while fresh. */
  private statRel(rel: string): LocalAttrs {
    return this.cache.get(rel, () => this.withSync(rel, undefined, (r) => this.io.stat(r)));
  }

  private withSync<T>(rel: string, ino: bigint | undefined, fn: (r: R) => T): T {
    const r = this.io.at(rel, ino);
    try {
      return fn(r);
    } finally {
      this.io.release(r);
    }
  }

  private async with<T>(rel: string, ino: bigint | undefined, fn: (r: R) => Promise<T>): Promise<T> {
    const r = this.io.at(rel, ino);
    try {
      return await fn(r);
    } finally {
      this.io.release(r);
    }
  }

  private obj(o: FsObject): LocalObject {
    return o as LocalObject;
  }

  async openForLock(o: FsObject): Promise<number> {
    const obj = this.obj(o);
    return (await this.with(obj.rel, obj.fileid, (r) => this.io.openFile(r, obj.fileid))).fd;
  }

  async root(): Promise<FsObject> {
    return new LocalObject('', this.statRel(''));
  }

  async resolve(fileid: bigint, generation: bigint): Promise<FsObject> {
    const { rel, st } = await this.tree.resolve(fileid, generation);
    return new LocalObject(rel, st);
  }

  resolveNow(fileid: bigint, generation: bigint): FsObject | undefined {
    const rel = this.tree.knownPath(fileid, generation);
    // Only attributes the cache vouches for: anything else is a stat, which resolve() makes.
    const st = rel === undefined ? undefined : this.cache.fresh(rel);
    return st && st.ino === fileid && st.birthtimeNs === generation ? new LocalObject(rel!, st) : undefined;
  }

  async lookup(dirObj: FsObject, name: Buffer): Promise<FsObject> {
    const dir = this.obj(dirObj);
    const dots = name.length === 1 && name[0] === 0x2e ? 1 : name.length === 2 && name[0] === 0x2e && name[1] === 0x2e ? 2 : 0;
    const key = dots ? '' : nameKey(name);
    const rel = dots === 1 ? dir.rel : dots === 2 ? parentRel(dir.rel) : childRel(dir.rel, key);
    const st = this.statRel(rel);
    if (!dots) this.tree.record(dir.fileid, key, st.ino);
    return new LocalObject(rel, st);
  }

  lookupNow(dirObj: FsObject, name: Buffer): FsObject | undefined {
    const dir = this.obj(dirObj);
    const key = nameKey(name);
    const rel = childRel(dir.rel, key);
    // lookup()'s answer when its statRel would come from the cache; anything else is lookup()'s to answer.
    const st = this.cache.fresh(rel);
    return st && this.found(dir, key, rel, st);
  }

  async lookupNames(dirObj: FsObject, names: readonly string[]): Promise<(LocalObject | undefined)[]> {
    const dir = this.obj(dirObj);
    const out: (LocalObject | undefined)[] = new Array(names.length);
    const rels: string[] = new Array(names.length);
    let missing: number[] | undefined;
    for (let i = 0; i < names.length; i++) {
      const rel = (rels[i] = childRel(dir.rel, names[i]!));
      const st = this.cache.fresh(rel);
      if (st) out[i] = this.found(dir, names[i]!, rel, st);
      else (missing ??= []).push(i);
    }
    if (!missing) return out;
    // The directory is opened (and checked to be the handle's inode) once for all its names: the descriptor its
    // listing was just read from when that is still open (a READDIRPLUS that read it from the disk).
    const d = this.takeListed(dir) ?? this.io.at(dir.rel, dir.fileid);
    try {
      const sts = this.statChildren(d, missing.map((i) => names[i]!));
      for (let k = 0; k < missing.length; k++) {
        const st = sts[k];
        if (!st) continue; // changed meanwhile: the entry is left out, as a failed lookup's is
        const i = missing[k]!;
        this.cache.set(rels[i]!, st);
        out[i] = this.found(dir, names[i]!, rels[i]!, st);
      }
    } finally {
      this.io.release(d);
    }
    return out;
  }

  /** Attributes of names of the open directory `d`, in one batch when the I/O layer has one. */
  private statChildren(d: R, names: readonly string[]): (LocalAttrs | undefined)[] {
    if (this.io.statChildren) return this.io.statChildren(d, names);
    return names.map((name) => {
      try {
        return this.io.statChild(d, keyBytes(name));
      } catch {
        return undefined;
      }
    });
  }

  /** Records `name` of `dir` (found with attributes `st`) and gives its object. */
  private found(dir: LocalObject, name: string, rel: string, st: LocalAttrs): LocalObject {
    this.tree.record(dir.fileid, name, st.ino);
    return new LocalObject(rel, st);
  }

  async getattr(o: FsObject): Promise<LocalAttrs> {
    return this.withSync(this.obj(o).rel, undefined, (r) => this.io.stat(r));
  }

  async setattr(o: FsObject, c: AttrChange): Promise<void> {
    const obj = this.obj(o);
    try {
      await this.with(obj.rel, obj.fileid, async (r) => {
        if (c.uid !== undefined || c.gid !== undefined) await this.io.chown(r, c.uid ?? -1, c.gid ?? -1);
        if (c.mode !== undefined && (obj.attrs.mode & 0o170000n) !== 0o120000n) await this.io.chmod(r, c.mode, obj.attrs);
        if (c.size !== undefined) await this.io.truncate(r, Number(c.size));
        if (c.atime || c.mtime) await this.io.utimes(r, c.atime ?? KEEP, c.mtime ?? KEEP);
      });
    } finally {
      // The object's own attributes changed, under each of its names: a file with other hard links has
      // names this export's cache may hold under paths not known here, so all go; anything else has one
      // (a directory cannot be linked), and the rest of the cache stays (CREATE and MKDIR end here too).
      const kind = obj.attrs.mode & 0o170000n;
      if (kind !== 0o040000n && obj.attrs.nlink > 1n) this.shared.clearCaches();
      else this.shared.changedIn(this.id, [obj.rel]);
    }
  }

  private useFile<T>(obj: LocalObject, fn: (fd: number) => Promise<T>, write = false): Promise<T> {
    return this.shared.files.use(this.fileKey(obj.fileid), obj.fileid, () => this.with(obj.rel, obj.fileid, (r) => this.io.openFile(r, obj.fileid)), fn, write);
  }

  /**
   * Data that may wait for the disk moves in the thread pool, never on the
   * event loop that DHCP, TFTP and HTTP share in `netboot serve`: a read that
   * misses the page cache waits for the disk, and a write can be held back by
   * the kernel's dirty page throttling for tens of milliseconds
   * (bench/serve-loop-delay.js). A read whose data is cached is taken on the
   * loop itself (RWF_NOWAIT): handing it to the pool and back costs more than
   * the copy. What the cache does not hold, from the first byte not read,
   * goes to the pool; so do reads above DIRECT_READ_MAX, except a READ
   * running alone up to the shared directReadMax: with other READs running,
   * a large one copied in the pool overlaps the replies the loop writes
   * meanwhile (several calls in flight), while a lone one only waits for the
   * hop (one call in flight).
   */
  async read(o: FsObject, buf: Buffer, at: number, count: number, position: number): Promise<number> {
    const obj = this.obj(o);
    const shared = this.shared;
    // A file open already is held for the read without use()'s promises around it (most READs).
    const held = shared.files.holdNow(this.fileKey(obj.fileid), obj.fileid);
    shared.readsRunning++;
    try {
      return await (held ? this.readOpen(obj, held.fd, buf, at, count, position) : this.useFile(obj, (fd) => this.readOpen(obj, fd, buf, at, count, position)));
    } finally {
      shared.readsRunning--;
      held?.release();
    }
  }

  /** read() on the file's descriptor: what the page cache holds here, the rest in the pool. */
  private async readOpen(obj: LocalObject, fd: number, buf: Buffer, at: number, count: number, position: number): Promise<number> {
    const shared = this.shared;
    // A large READ decides once the calls that arrived with it (one socket read) have started, so it
    // knows whether others run: an open file's descriptor comes without a wait that would let them.
    if (count > DIRECT_READ_MAX) await undefined;
    const max = shared.readsRunning > 1 ? Math.min(DIRECT_READ_MAX, shared.directReadMax) : shared.directReadMax;
    const direct = count <= max ? this.io.readCached(fd, buf, at, count, position) : -1;
    // Short at the end of the file as the server last saw it: that is the whole answer.
    if (direct === count || (direct >= 0 && position + direct >= Number(obj.attrs.size))) return direct;
    const done = Math.max(direct, 0);
    return done + (await readFd(fd, buf, at + done, count - done, position + done)).bytesRead;
  }

  /**
   * read()'s direct copy without a promise, when its file is open already: for a READ of a size read()
   * copies on this thread whatever else runs (DIRECT_READ_MAX), and for one up to directReadMax that its
   * client waits on `alone` while no other READ runs here (read() copies it here too). A larger one with
   * others is left to read(), which lets the calls that arrived with it start first.
   */
  readNow(o: FsObject, buf: Buffer, at: number, count: number, position: number, alone = false): number {
    const obj = this.obj(o);
    const shared = this.shared;
    if (count > (alone && shared.readsRunning === 0 ? shared.directReadMax : Math.min(DIRECT_READ_MAX, shared.directReadMax))) return -1;
    const fd = shared.files.openNow(this.fileKey(obj.fileid), obj.fileid);
    return fd === undefined ? -1 : this.io.readCached(fd, buf, at, count, position);
  }

  fileNow(o: FsObject, position: number, count: number): number | undefined {
    // Not past directReadMax: where the socket takes only part, the rest is copied on this thread.
    if (count > this.shared.directReadMax) return undefined;
    const obj = this.obj(o);
    const fd = this.shared.files.openNow(this.fileKey(obj.fileid), obj.fileid);
    return fd !== undefined && rangeCached(this.io, fd, position, count) ? fd : undefined;
  }

  async write(o: FsObject, data: Buffer, position: number, stable: Stability): Promise<LocalAttrs> {
    const obj = this.obj(o);
    try {
      return await this.useFile(
        obj,
        async (fd) => {
          if (this.shared.directWrites) await writeDirect(this.io, fd, data, position, stable);
          else await this.io.writeAt(fd, data, position, stable);
          // Synchronous: the inode is in memory (microseconds), and an asynchronous stat would queue behind
          // the writes in flight in the pool.
          const st = this.io.statOpen(fd);
          this.cache.set(obj.rel, st);
          return st;
        },
        true,
      );
    } catch (e) {
      this.cache.forget(obj.rel);
      throw e;
    }
  }

  /**
   * write()'s copy without a promise, where write() copies on this thread (directWrites) and the file is
   * open for writing already: the attributes after it, or undefined when write() must do it. Throws what the
   * copy meets. Makes nothing stable (see ExportFs.writeNow).
   */
  writeNow(o: FsObject, data: Buffer, position: number): LocalAttrs | undefined {
    if (!this.shared.directWrites) return undefined;
    const obj = this.obj(o);
    const fd = this.shared.files.openNow(this.fileKey(obj.fileid), obj.fileid, true);
    if (fd === undefined) return undefined;
    try {
      writeHere(fd, data, position);
      const st = this.io.statOpen(fd);
      this.cache.set(obj.rel, st);
      return st;
    } catch (e) {
      this.cache.forget(obj.rel);
      throw e;
    }
  }

  async commit(o: FsObject): Promise<void> {
    await this.useFile(this.obj(o), (fd) => fsyncFd(fd));
  }

  /** Makes `name` in `dir` with `make`, then `after` on it, gives it to `owner` and records it. */
  private async make(dirObj: FsObject, name: Buffer, owner: NewOwner, make: (d: R) => Promise<void>, after?: (r: R) => Promise<void>): Promise<FsObject> {
    const dir = this.obj(dirObj);
    try {
      return await this.with(dir.rel, dir.fileid, async (d) => {
        await make(d);
        const r = this.io.child(d, name);
        try {
          if (after) await after(r);
          // An unprivileged server (the embedded demo) cannot give files away; they stay its own.
          if (process.getuid?.() === 0) await this.io.chown(r, owner.uid, owner.gid);
          const st = this.io.stat(r);
          this.tree.record(dir.fileid, nameKey(name), st.ino);
          return new LocalObject(childRel(dir.rel, nameKey(name)), st);
        } finally {
          this.io.release(r);
        }
      });
    } finally {
      // What a new name changes: its directory's attributes, and the name's own (one made over an existing
      // name). A hard link to another object (link()) changes that object under every name it has: not here.
      this.shared.changedIn(this.id, [dir.rel, childRel(dir.rel, nameKey(name))]);
    }
  }

  create(dir: FsObject, name: Buffer, owner: NewOwner, exclusiveTimes?: { atime: number; mtime: number }): Promise<FsObject> {
    const times = exclusiveTimes;
    return this.make(
      dir,
      name,
      owner,
      (d) => this.io.createFile(d, name),
      times ? (r) => this.io.utimes(r, { at: { seconds: times.atime, nseconds: 0 } }, { at: { seconds: times.mtime, nseconds: 0 } }) : undefined,
    );
  }

  mkdir(dir: FsObject, name: Buffer, owner: NewOwner): Promise<FsObject> {
    return this.make(dir, name, owner, (d) => this.io.mkdir(d, name));
  }

  symlink(dir: FsObject, name: Buffer, target: Buffer, owner: NewOwner): Promise<FsObject> {
    return this.make(dir, name, owner, (d) => this.io.symlink(d, name, target));
  }

  mknod(dir: FsObject, name: Buffer, kind: NodeKind, major: number, minor: number, owner: NewOwner): Promise<FsObject> {
    return this.make(dir, name, owner, (d) => this.io.mknod(d, name, kind, major, minor));
  }

  async link(o: FsObject, dirObj: FsObject, name: Buffer): Promise<void> {
    const obj = this.obj(o);
    const dir = this.obj(dirObj);
    try {
      await this.with(obj.rel, obj.fileid, (r) => this.with(dir.rel, dir.fileid, (d) => this.io.link(r, d, name)));
      this.tree.record(dir.fileid, nameKey(name), obj.fileid);
    } finally {
      this.shared.clearCaches();
    }
  }

  /** Attributes of `name` in `d`, or undefined when there is none. */
  private childStat(d: R, name: Buffer): LocalAttrs | undefined {
    const held = this.childHeld(d, name);
    if (held) this.io.release(held.r);
    return held?.st;
  }

  /**
   * `name` in `d` and its attributes, or undefined when there is none. The reference is held for the caller,
   * who gives it back with `letGo`.
   */
  private childHeld(d: R, name: Buffer): { r: R; st: LocalAttrs } | undefined {
    let r: R;
    try {
      r = this.io.child(d, name);
    } catch {
      return undefined;
    }
    try {
      return { r, st: this.io.stat(r) };
    } catch {
      this.io.release(r);
      return undefined;
    }
  }

  /**
   * Gives back a reference held across an unlink or a rename over it. When that dropped the last name of a
   * regular file, this reference keeps its inode alive through the call, so the call only removes a name and
   * the blocks are freed when the reference is let go, in the thread pool: freeing a large file takes
   * unlinkat or renameat2 long, and they run on the event loop that DHCP, TFTP and HTTP share.
   */
  private async letGo(held: { r: R; st: LocalAttrs } | undefined): Promise<void> {
    if (!held) return;
    if ((held.st.mode & 0o170000n) === 0o100000n && held.st.nlink <= 1n) await this.io.releaseLater(held.r);
    else this.io.release(held.r);
  }

  async rename(fromObj: FsObject, fromName: Buffer, toObj: FsObject, toName: Buffer): Promise<void> {
    const from = this.obj(fromObj);
    const to = this.obj(toObj);
    try {
      await this.with(from.rel, from.fileid, (f) =>
        this.with(to.rel, to.fileid, async (t) => {
          const src = this.childStat(f, fromName);
          const held = this.childHeld(t, toName);
          try {
            const dst = held?.st;
            await this.io.rename(f, fromName, t, toName);
            if (src) this.tree.forget(from.fileid, nameKey(fromName), src.ino);
            if (dst && dst.ino !== src?.ino) {
              this.tree.forget(to.fileid, nameKey(toName), dst.ino);
              if (dst.nlink <= 1n) this.shared.files.drop(this.fileKey(dst.ino));
            }
            if (src) this.tree.record(to.fileid, nameKey(toName), src.ino);
          } finally {
            await this.letGo(held);
          }
        }),
      );
    } finally {
      this.shared.clearCaches();
    }
  }

  async remove(dirObj: FsObject, name: Buffer, isDir: boolean): Promise<void> {
    const dir = this.obj(dirObj);
    try {
      await this.with(dir.rel, dir.fileid, async (d) => {
        const held = this.childHeld(d, name);
        try {
          await this.io.unlink(d, name, isDir);
          if (!held) return;
          this.tree.forget(dir.fileid, nameKey(name), held.st.ino);
          if (held.st.nlink <= 1n) this.shared.files.drop(this.fileKey(held.st.ino));
        } finally {
          await this.letGo(held);
        }
      });
    } finally {
      this.shared.clearCaches();
    }
  }

  readdir(o: FsObject, cookie: bigint, verf: Buffer): Promise<{ verf: Buffer; names: string[] }> {
    const dir = this.obj(o);
    return this.shared.listings.get(dir.fileid, dir.attrs.mtimeNs, () => this.namesOf(dir), cookie, verf);
  }

  /**
   * The names of `dir` read from the disk: on a descriptor opened for reading at once when the I/O layer can
   * (one openat2, checked against the handle's inode), not an O_PATH one and then '.' beneath it.
   */
  private async namesOf(dir: LocalObject): Promise<string[]> {
    const io = this.io;
    if (!io.openDir || !io.readNames) return this.with(dir.rel, dir.fileid, (d) => io.names(d));
    const d = io.openDir(dir.rel, dir.fileid);
    let names: string[];
    try {
      names = await io.readNames(d);
    } catch (e) {
      io.release(d);
      throw e;
    }
    // Kept open for the READDIRPLUS that asked: it stats the names through it next (takeListed), in the promise
    // jobs that follow this one. Closed once they have run: later, the path may lead to another directory.
    this.dropListed();
    this.listedFd = d;
    this.listedIno = dir.fileid;
    this.listedRel = dir.rel;
    process.nextTick(() => {
      if (this.listedFd === d) this.dropListed();
    });
    return names;
  }

  /**
   * The descriptor the last listing read from the disk was read on, when it is `dir`'s (the same inode, reached by
   * the same path, checked when it was opened); undefined otherwise. Taken: the caller releases it.
   */
  private takeListed(dir: LocalObject): R | undefined {
    const d = this.listedFd;
    if (d === undefined || this.listedIno !== dir.fileid || this.listedRel !== dir.rel) return undefined;
    this.listedFd = undefined;
    return d;
  }

  private dropListed(): void {
    if (this.listedFd !== undefined) this.io.release(this.listedFd);
    this.listedFd = undefined;
  }

  readlink(o: FsObject): Promise<Buffer> {
    const obj = this.obj(o);
    return this.with(obj.rel, obj.fileid, (r) => this.io.readlink(r));
  }

  statfs(o: FsObject) {
    const obj = this.obj(o);
    return this.with(obj.rel, obj.fileid, (r) => this.io.statfs(r));
  }

  forgetCached(): void {
    this.shared.clearCaches();
  }

  close(): void {
    this.dropListed();
    this.io.close();
  }
}
