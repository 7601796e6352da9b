import type { BigIntStats } from 'node:fs';
import type { FsStat, NodeKind, Stability, TimeChange } from './export-fs.js';
import type { Opened } from './open-files.js';

/** Attributes as the local backend reads them: Node's BigIntStats (birth time included: it is the handle's generation). */
export type LocalAttrs = Pick<
  BigIntStats,
  'ino' | 'mode' | 'nlink' | 'uid' | 'gid' | 'rdev' | 'size' | 'blocks' | 'atimeNs' | 'mtimeNs' | 'ctimeNs' | 'birthtimeNs'
>;

/**
 * How the local backend reaches objects beneath its export root: `R` is a
 * reference to one object (an O_PATH descriptor natively, a path in portable
 * mode). `rel` is a path from the root made of names the server has checked
 * ('' for the root); a `name` is one such component. Nothing here follows a
 * symlink. A reference from `at` or `child` is given back with `release`.
 */
export interface LocalIo<R> {
  readonly mode: 'native' | 'portable';
  /** The object at `rel`; when `ino` is given, ESTALE unless it is that inode (a swap between calls). */
  at(rel: string, ino?: bigint): R;
  /** The object `name` in the directory `dir` (a symlink itself, never what it points to). */
  child(dir: R, name: Buffer): R;
  release(r: R): void;
  /**
   * Gives `r` back in the thread pool: when it holds the last reference to an unlinked inode, the file system
   * frees the file's blocks there, not on the event loop.
   */
  releaseLater(r: R): Promise<void>;
  /** Attributes of the object itself (lstat). Synchronous: inode metadata, microseconds (the README's "Attribute cache" keeps it off most calls). */
  stat(r: R): LocalAttrs;
  /** Attributes of the open file `fd` (fstat: the inode is in memory), as `stat` gives them: after a WRITE. */
  statOpen(fd: number): LocalAttrs;
  /**
   * Attributes of `name` (one checked component, never followed when a symlink) in the directory `dir`,
   * in one system call, or undefined when there is no such name: READDIRPLUS's per-entry attributes.
   */
  statChild(dir: R, name: Buffer): LocalAttrs | undefined;
  /**
   * Attributes of several names of `dir` (Latin-1 strings of their bytes, single components), undefined for
   * one that is gone or cannot be read: statChild's answer for each, in fewer calls. Optional.
   */
  statChildren?(dir: R, names: readonly string[]): (LocalAttrs | undefined)[];
  /** Entries of a directory for the inode search: name (Latin-1 form), inode, whether a directory. */
  list(dir: R): Promise<[string, bigint, boolean][]>;
  /** Names of a directory, Latin-1 form, without `.` and `..`. */
  names(dir: R): Promise<string[]>;
  /**
   * The directory at `rel` opened for reading its entries, checked as at() checks (ESTALE unless inode `ino`):
   * readNames() reads it without opening it again. Given back with `release`. Optional, with readNames: else
   * at() and names().
   */
  openDir?(rel: string, ino?: bigint): R;
  /** names() of a directory from openDir(), read without opening it again. */
  readNames?(dir: R): Promise<string[]>;
  chown(r: R, uid: number, gid: number): Promise<void>;
  /** Permission bits of a regular file, directory or special file (never a symlink). */
  chmod(r: R, mode: number, st: LocalAttrs): Promise<void>;
  truncate(r: R, size: number): Promise<void>;
  utimes(r: R, atime: TimeChange, mtime: TimeChange): Promise<void>;
  /** A new empty regular file, mode 0600, O_EXCL. */
  createFile(dir: R, name: Buffer): Promise<void>;
  mkdir(dir: R, name: Buffer): Promise<void>;
  symlink(dir: R, name: Buffer, target: Buffer): Promise<void>;
  mknod(dir: R, name: Buffer, kind: NodeKind, major: number, minor: number): Promise<void>;
  link(r: R, dir: R, name: Buffer): Promise<void>;
  rename(fromDir: R, fromName: Buffer, toDir: R, toName: Buffer): Promise<void>;
  unlink(dir: R, name: Buffer, isDir: boolean): Promise<void>;
  readlink(r: R): Promise<Buffer>;
  statfs(r: R): Promise<FsStat>;
  /** A read-write (else read-only) descriptor of the regular file `r`, which is inode `ino`, for READ and WRITE. */
  openFile(r: R, ino: bigint): Promise<Opened>;
  /**
   * Reads from the page cache only, never waiting for the disk, so the event loop may call it: the bytes read
   * into `buf` at `at` (0 at end of file, fewer than `count` when only the first part is cached), or -1 when
   * none of it is cached or the backend cannot read without blocking (read it in the thread pool then).
   */
  readCached(fd: number, buf: Buffer, at: number, count: number, position: number): number;
  /**
   * Writes all of `data` to the open file `fd` at `position` in the thread pool; when `stable` is 'data' or
   * 'file' it is on disk (data, or data and metadata) before the promise resolves.
   */
  writeAt(fd: number, data: Buffer, position: number, stable: Stability): Promise<void>;
  /**
   * Whether writeAt makes a stable write one call in the thread pool, the copy into the page cache and the
   * flush together (pwritev2 with RWF_SYNC or RWF_DSYNC); see writeDirect.
   */
  readonly stableWriteInOneCall?: boolean;
  close(): void;
}

/** Where rangeCached's one-byte samples land (one thread's: each worker has its own module). */
const PROBE = Buffer.allocUnsafe(1);

/**
 * Whether bytes [position, position + count) of the open file `fd` are in the file and in the page cache
 * now, sampled every SAMPLE_STEP bytes from the first and at the last (readCached of one byte each: the
 * last page there also says the file still reaches it): for a reply that sends them from the page cache
 * (ExportFs.fileNow), where a missing page would make the send wait for the disk. A hole of evicted pages
 * narrower than a step goes unseen, as the HTTP server's samples of a body accept.
 */
export function rangeCached(io: LocalIo<unknown>, fd: number, position: number, count: number): boolean {
  if (count <= 0) return false;
  for (let p = position; p < position + count - 1; p += SAMPLE_STEP) if (io.readCached(fd, PROBE, 0, 1, p) !== 1) return false;
  return io.readCached(fd, PROBE, 0, 1, position + count - 1) === 1;
}

/** Bytes between two samples: 17 one-byte reads for a 1 MiB READ (a fraction of a microsecond each). */
const SAMPLE_STEP = 64 * 1024;
