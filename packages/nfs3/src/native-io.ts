import { close, closeSync, ftruncate, open } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { promisify } from 'node:util';
import { type NativeCalls, STATX_SLOT, STATX_SLOTS } from '@netboot/platform';
import { keyBytes } from './byte-path.js';
import { NfsError } from './errno-status.js';
import type { NodeKind, Stability, TimeChange } from './export-fs.js';
import { writeThenSync } from './file-write.js';
import type { LocalAttrs, LocalIo } from './local-io.js';
import { NfsStat } from './nfs3-constants.js';
import type { Opened } from './open-files.js';

const openFd = promisify(open);
const closeFd = promisify(close);
const ftruncateFd = promisify(ftruncate);

/** Bytes of a path handed to one openat2 (PATH_MAX is 4096); deeper paths are walked in parts. */
const WALK_MAX = 4000;
/** Directory entries read per getdents64 call; the loop yields between batches. */
const DIRENT_BATCH = 1024;
const DT_DIR = 4;
const DT_UNKNOWN = 0;
/** Names stat'ed per statxNamesInto call (the platform's limit). */
const STAT_BATCH = 4096;

const S = STATX_SLOT;

/**
 * One object's attributes from statx. A class, not an object literal: the attribute cache keeps these,
 * and V8 pretenures a literal's allocation site once most of what it made survives, discarding the
 * optimised code of every function that site was inlined into (see attributes.ts).
 */
class StatxAttrs implements LocalAttrs {
  constructor(
    readonly ino: bigint,
    readonly mode: bigint,
    readonly nlink: bigint,
    readonly uid: bigint,
    readonly gid: bigint,
    readonly rdev: bigint,
    readonly size: bigint,
    readonly blocks: bigint,
    readonly atimeNs: bigint,
    readonly mtimeNs: bigint,
    readonly ctimeNs: bigint,
    readonly birthtimeNs: bigint,
  ) {}
}

const PROC_FD = '/proc/self/fd/';
/** An O_PATH descriptor as a path that only the kernel's magic link resolves: the very inode it was opened on. */
const fdPath = (fd: number) => `${PROC_FD}${fd}`;

/**
 * The local backend on the platform module: every object is reached from
 * the export root's descriptor with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS), as an O_PATH|O_NOFOLLOW descriptor checked against
 * the inode the handle names, and every call acts on that descriptor (or on
 * a name in a directory descriptor): a directory renamed or swapped for a
 * symlink between the server's check and its call cannot redirect it, and
 * nothing outside the export is ever reached. Paths from the root have no
 * length limit beyond the client's (they are walked in parts under PATH_MAX).
 */
export class NativeIo implements LocalIo<number> {
  readonly mode = 'native';
  private readonly rootFd: number;
  private readonly resolve: number;
  private readonly pathFlags: number;
  /** Whether the export's file system reads with RWF_NOWAIT (cleared on its first EOPNOTSUPP). */
  private nowait = true;
  /** Where statxInto writes: signed for sizes and times, unsigned for inode numbers (one buffer, two views). */
  private readonly statOut = new BigInt64Array(STATX_SLOTS);
  private readonly statOutU = new BigUint64Array(this.statOut.buffer);
  /** Where statxNamesInto writes a READDIRPLUS slice's records (grown to the largest slice, at most STAT_BATCH). */
  private batchOut = new BigInt64Array(64 * STATX_SLOTS);
  private batchOutU = new BigUint64Array(this.batchOut.buffer);

  /** `readOnly`: files are only ever opened for reading (an image generation under a node's layer). */
  constructor(
    private readonly n: NativeCalls,
    root: string,
    private readonly readOnly = false,
  ) {
    const c = n.constants;
    this.resolve = c.RESOLVE_BENEATH | c.RESOLVE_NO_SYMLINKS | c.RESOLVE_NO_MAGICLINKS;
    this.pathFlags = c.O_PATH | c.O_NOFOLLOW | c.O_CLOEXEC;
    // The root itself comes from the exports file (the admin's), and must be a directory, not a symlink to one.
    try {
      this.rootFd = n.openat2(c.AT_FDCWD, root, c.O_PATH | c.O_DIRECTORY | c.O_NOFOLLOW | c.O_CLOEXEC, 0, 0);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ELOOP' || code === 'ENOTDIR') throw new Error(`export ${root} is not a directory`);
      throw e;
    }
  }

  at(rel: string, ino?: bigint): number {
    return this.opened(rel, ino, this.pathFlags);
  }

  openDir(rel: string, ino?: bigint): number {
    const c = this.n.constants;
    // Opened for reading at once, with at()'s resolve flags and inode check: no O_PATH descriptor to reopen '.' from.
    // O_DIRECTORY refuses anything but a directory before it is opened (a device is never opened).
    try {
      return this.opened(rel, ino, c.O_RDONLY | c.O_DIRECTORY | c.O_NOFOLLOW | c.O_CLOEXEC);
    } catch (e) {
      // The handle's directory was swapped for something else: at() finds the other inode and answers STALE.
      if (ino !== undefined && (e as NodeJS.ErrnoException).code === 'ENOTDIR') throw new NfsError(NfsStat.STALE, `${rel} is no longer a directory`);
      throw e;
    }
  }

  /** The object at `rel` opened with `flags` beneath the root; when `ino` is given, STALE unless it is that inode. */
  private opened(rel: string, ino: bigint | undefined, flags: number): number {
    let fd: number;
    try {
      fd = rel === '' ? (flags === this.pathFlags ? this.rootFd : this.n.openat2(this.rootFd, '.', flags, 0, this.resolve)) : this.walk(keyBytes(rel), flags);
    } catch (e) {
      // A directory on the handle's path was swapped for a symlink (RESOLVE_NO_SYMLINKS refuses it): the path no
      // longer leads to the object. knfsd reaches objects by inode, never by path, and answers nfserr_stale for a
      // handle it cannot follow (fh_verify); its nfserrno has no ELOOP at all. The client's next call rescans.
      if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw new NfsError(NfsStat.STALE, `a directory on the path of ${rel} is now a symlink`);
      throw e;
    }
    if (ino !== undefined && (!this.n.statxInto(fd, '', this.n.constants.AT_EMPTY_PATH, this.statOut) || this.statOutU[S.ino] !== ino)) {
      this.release(fd);
      throw new NfsError(NfsStat.STALE, `inode ${ino} was replaced under its handle`);
    }
    return fd;
  }

  /** Opens `path` (names from the root) beneath the root, in parts of at most WALK_MAX bytes. */
  private walk(path: Buffer, flags: number): number {
    const c = this.n.constants;
    let dir = this.rootFd;
    let start = 0;
    try {
      while (path.length - start > WALK_MAX) {
        const cut = path.lastIndexOf(0x2f, start + WALK_MAX);
        const next = this.n.openat2(dir, path.subarray(start, cut), this.pathFlags | c.O_DIRECTORY, 0, this.resolve);
        this.release(dir);
        dir = next;
        start = cut + 1;
      }
      return this.n.openat2(dir, path.subarray(start), flags, 0, this.resolve);
    } finally {
      this.release(dir);
    }
  }

  child(dir: number, name: Buffer): number {
    return this.n.openat2(dir, name, this.pathFlags, 0, this.resolve);
  }

  release(r: number): void {
    if (r !== this.rootFd) closeSync(r);
  }

  async releaseLater(r: number): Promise<void> {
    if (r !== this.rootFd) await closeFd(r);
  }

  stat(r: number): LocalAttrs {
    // statx(AT_EMPTY_PATH) on the descriptor: the inode is in memory, no I/O; gives the birth time too.
    if (!this.n.statxInto(r, '', this.n.constants.AT_EMPTY_PATH, this.statOut)) throw new NfsError(NfsStat.STALE, 'the object is gone');
    return this.attrs();
  }

  statOpen(fd: number): LocalAttrs {
    // The same statx as `stat`: no BigIntStats and its Date objects per WRITE.
    return this.stat(fd);
  }

  statChild(dir: number, name: Buffer): LocalAttrs | undefined {
    // One statx of a single name beneath the directory `dir` was opened and checked on: it neither leaves
    // it nor follows a symlink, and gives the birth time, in one call instead of openat2 + statx + close.
    return this.n.statxInto(dir, name, this.n.constants.AT_SYMLINK_NOFOLLOW, this.statOut) ? this.attrs() : undefined;
  }

  statChildren(dir: number, names: readonly string[]): (LocalAttrs | undefined)[] {
    const out: (LocalAttrs | undefined)[] = new Array(names.length);
    if (this.batchOut.length < Math.min(names.length, STAT_BATCH) * STATX_SLOTS) {
      this.batchOut = new BigInt64Array(Math.min(names.length, STAT_BATCH) * STATX_SLOTS);
      this.batchOutU = new BigUint64Array(this.batchOut.buffer);
    }
    for (let from = 0; from < names.length; from += STAT_BATCH) {
      const count = Math.min(STAT_BATCH, names.length - from);
      try {
        // One call for the batch: each name's statx beneath `dir` (checked to be a single component in C).
        this.n.statxNamesInto(dir, names, from, count, this.batchOut);
      } catch {
        // A name the batch refuses or an error other than ENOENT: each name alone, a failure leaving it out.
        for (let k = from; k < from + count; k++) {
          try {
            out[k] = this.statChild(dir, keyBytes(names[k]!));
          } catch {
            out[k] = undefined;
          }
        }
        continue;
      }
      for (let k = 0; k < count; k++) out[from + k] = this.batchOut[k * STATX_SLOTS + S.mode] === 0n ? undefined : this.attrs(this.batchOut, this.batchOutU, k * STATX_SLOTS);
    }
    return out;
  }

  /** The record at `at` of what statxInto or statxNamesInto wrote, as the backend's attributes. */
  private attrs(s = this.statOut, u = this.statOutU, at = 0): LocalAttrs {
    return new StatxAttrs(
      u[at + S.ino]!,
      s[at + S.mode]!,
      s[at + S.nlink]!,
      s[at + S.uid]!,
      s[at + S.gid]!,
      u[at + S.rdev]!,
      s[at + S.size]!,
      s[at + S.blocks]!,
      s[at + S.atimeNs]!,
      s[at + S.mtimeNs]!,
      s[at + S.ctimeNs]!,
      s[at + S.birthtimeNs]!,
    );
  }

  /** Entries of a directory by getdents64 on a descriptor opened from `dir`, in batches with a yield between (a large directory's). */
  private async entries(dir: number): Promise<[Buffer, bigint, number][]> {
    const c = this.n.constants;
    const fd = this.n.openat2(dir, '.', c.O_RDONLY | c.O_DIRECTORY | c.O_CLOEXEC, 0, this.resolve);
    try {
      const out: [Buffer, bigint, number][] = [];
      for (;;) {
        const batch = this.n.readdir(fd, DIRENT_BATCH);
        for (const e of batch) {
          // Some file systems leave the type unknown in the entry: ask the inode.
          if (e[2] === DT_UNKNOWN) e[2] = (this.n.fstatat(fd, e[0], c.AT_SYMLINK_NOFOLLOW).mode & c.S_IFMT) === c.S_IFDIR ? DT_DIR : 8;
          out.push(e);
        }
        // readdir stops at `max` entries or at the end: a shorter batch was the rest of the directory, so most
        // directories are read in one call, without a second getdents64 or a turn of the loop to learn the end.
        if (batch.length < DIRENT_BATCH) return out;
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      closeSync(fd);
    }
  }

  async list(dir: number): Promise<[string, bigint, boolean][]> {
    return (await this.entries(dir)).map(([name, ino, type]) => [name.toString('latin1'), ino, type === DT_DIR]);
  }

  async names(dir: number): Promise<string[]> {
    const c = this.n.constants;
    const fd = this.n.openat2(dir, '.', c.O_RDONLY | c.O_DIRECTORY | c.O_CLOEXEC, 0, this.resolve);
    try {
      return await this.readNames(fd);
    } finally {
      closeSync(fd);
    }
  }

  async readNames(fd: number): Promise<string[]> {
    // Names come as Latin-1 strings, the listing's form: no Buffer, inode or type per entry.
    let out: string[] | undefined;
    for (;;) {
      const batch = this.n.readdirNames(fd, DIRENT_BATCH);
      // A short batch is the rest of the directory: most directories are one call and one array.
      if (!out && batch.length < DIRENT_BATCH) return batch;
      out ??= [];
      for (let i = 0; i < batch.length; i++) out.push(batch[i]!);
      if (batch.length < DIRENT_BATCH) return out;
      await new Promise((r) => setImmediate(r));
    }
  }

  async chown(r: number, uid: number, gid: number): Promise<void> {
    this.n.fchownat(r, '', uid, gid, this.n.constants.AT_EMPTY_PATH);
  }

  async chmod(r: number, mode: number, st: LocalAttrs): Promise<void> {
    const c = this.n.constants;
    const type = Number(st.mode) & c.S_IFMT;
    if (type === c.S_IFLNK) return; // Linux cannot change a symlink's mode
    if (type === c.S_IFREG || type === c.S_IFDIR) {
      // fchmod needs a real descriptor: reopened from the O_PATH one, so it is the same inode.
      const fd = await openFd(fdPath(r), c.O_RDONLY | c.O_NONBLOCK | c.O_CLOEXEC);
      try {
        this.n.fchmod(fd, mode);
      } finally {
        await closeFd(fd);
      }
      return;
    }
    // A device, FIFO or socket is never opened (opening a device can act on it): chmod through the magic link.
    this.n.fchmodat(c.AT_FDCWD, fdPath(r), mode, 0);
  }

  async truncate(r: number, size: number): Promise<void> {
    const c = this.n.constants;
    const fd = await openFd(fdPath(r), c.O_WRONLY | c.O_NONBLOCK | c.O_CLOEXEC);
    try {
      // In the thread pool: freeing the blocks of a large file takes time.
      await ftruncateFd(fd, size);
    } finally {
      await closeFd(fd);
    }
  }

  async utimes(r: number, atime: TimeChange, mtime: TimeChange): Promise<void> {
    const c = this.n.constants;
    const spec = (t: TimeChange): [number, number] => ('at' in t ? [t.at.seconds, t.at.nseconds] : [0, 'now' in t ? c.UTIME_NOW : c.UTIME_OMIT]);
    const [as, an] = spec(atime);
    const [ms, mn] = spec(mtime);
    this.n.utimensat(r, '', as, an, ms, mn, c.AT_EMPTY_PATH);
  }

  async createFile(dir: number, name: Buffer): Promise<void> {
    const c = this.n.constants;
    closeSync(this.n.openat2(dir, name, c.O_CREAT | c.O_EXCL | c.O_WRONLY | c.O_NOFOLLOW | c.O_CLOEXEC, 0o600, this.resolve));
  }

  async mkdir(dir: number, name: Buffer): Promise<void> {
    this.n.mkdirat(dir, name, 0o700);
  }

  async symlink(dir: number, name: Buffer, target: Buffer): Promise<void> {
    this.n.symlinkat(target, dir, name);
  }

  async mknod(dir: number, name: Buffer, kind: NodeKind, major: number, minor: number): Promise<void> {
    const c = this.n.constants;
    const type = { chr: c.S_IFCHR, blk: c.S_IFBLK, fifo: c.S_IFIFO, sock: c.S_IFSOCK }[kind];
    this.n.mknodat(dir, name, type | 0o600, major, minor);
  }

  async link(r: number, dir: number, name: Buffer): Promise<void> {
    const c = this.n.constants;
    try {
      this.n.linkat(r, '', dir, name, c.AT_EMPTY_PATH);
    } catch (e) {
      // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH (ENOENT without it): the magic link names the same inode.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      this.n.linkat(c.AT_FDCWD, fdPath(r), dir, name, c.AT_SYMLINK_FOLLOW);
    }
  }

  async rename(fromDir: number, fromName: Buffer, toDir: number, toName: Buffer): Promise<void> {
    this.n.renameat2(fromDir, fromName, toDir, toName, 0);
  }

  async unlink(dir: number, name: Buffer, isDir: boolean): Promise<void> {
    this.n.unlinkat(dir, name, isDir ? this.n.constants.AT_REMOVEDIR : 0);
  }

  async readlink(r: number): Promise<Buffer> {
    return this.n.readlinkat(r, '');
  }

  async statfs(r: number) {
    const s = await fsp.statfs(fdPath(r), { bigint: true });
    return { tbytes: s.blocks * s.bsize, fbytes: s.bfree * s.bsize, abytes: s.bavail * s.bsize, tfiles: s.files, ffiles: s.ffree, afiles: s.ffree };
  }

  async openFile(r: number): Promise<Opened> {
    const c = this.n.constants;
    // Reopened through the magic link: the very inode `at` checked, whatever its name is now.
    if (this.readOnly) return { fd: await openFd(fdPath(r), c.O_RDONLY | c.O_CLOEXEC), writable: false };
    try {
      return { fd: await openFd(fdPath(r), c.O_RDWR | c.O_CLOEXEC), writable: true };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EACCES' && code !== 'EROFS' && code !== 'ETXTBSY' && code !== 'EPERM') throw err;
      return { fd: await openFd(fdPath(r), c.O_RDONLY | c.O_CLOEXEC), writable: false };
    }
  }

  readCached(fd: number, buf: Buffer, at: number, count: number, position: number): number {
    if (!this.nowait) return -1;
    try {
      return this.n.preadNowait(fd, buf, at, count, position);
    } catch (e) {
      // A file system without non-blocking reads says so for every file: stop asking. Any other error the
      // thread pool's read meets again and reports.
      if ((e as NodeJS.ErrnoException).code === 'ENOTSUP' || (e as NodeJS.ErrnoException).code === 'EOPNOTSUPP') this.nowait = false;
      return -1;
    }
  }

  /** writeAt makes a stable write in one pool call (see LocalIo.stableWriteInOneCall). */
  readonly stableWriteInOneCall = true;

  /**
   * A stable WRITE in one hop to the pool: pwritev2 with RWF_DSYNC (DATA_SYNC) or RWF_SYNC (FILE_SYNC: the
   * size and times too), where a write and then an fsync would take two. The flush covers the written range,
   * which is what the reply promises; earlier unstable writes wait for COMMIT as before.
   */
  async writeAt(fd: number, data: Buffer, position: number, stable: Stability): Promise<void> {
    if (stable === 'unstable') return writeThenSync(fd, data, position, stable);
    const c = this.n.constants;
    await this.n.pwriteSync(fd, data, 0, data.length, position, stable === 'file' ? c.RWF_SYNC : c.RWF_DSYNC);
  }

  close(): void {
    closeSync(this.rootFd);
  }
}
