/**
 * The seam between the NFS procedures and what an export is stored on. The
 * procedures decide what a caller may do (see credentials.ts) and what the
 * protocol answers; an `ExportFs` only carries the operations out, each on
 * objects it handed out itself, never on a path built from client input.
 *
 * Two backends are meant to plug in: the local directory (local-fs.ts) and a
 * copy-on-write image (a shared read-only lower tree under a per-node upper
 * layer). The README's "ExportFs: writing a backend" says what each
 * operation must guarantee.
 */

/** Attributes of an object, as fattr3 needs them; all bigint, as Node's BigIntStats (which satisfies it). */
export interface FsAttrs {
  /** The object's fileid: must equal the `fileid` of the FsObject these attributes belong to. */
  ino: bigint;
  /** st_mode: type and permission bits. */
  mode: bigint;
  nlink: bigint;
  uid: bigint;
  gid: bigint;
  rdev: bigint;
  size: bigint;
  /** 512-byte blocks in use. */
  blocks: bigint;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/**
 * An object of one export as a backend hands it out. `fileid` and
 * `generation` are what a file handle carries: together they must name the
 * same object for as long as it exists (across renames, restarts and, for an
 * image backend, copy-up), and never another object afterwards.
 */
export interface FsObject {
  readonly fileid: bigint;
  readonly generation: bigint;
  readonly attrs: FsAttrs;
}

/** What to do with one of an object's times. */
export type TimeChange = { keep: true } | { now: true } | { at: { seconds: number; nseconds: number } };

/** A SETATTR already authorised by the procedures: every field present is applied, in this order. */
export interface AttrChange {
  /** Owner and group together (one chown); undefined leaves one alone. */
  uid?: number;
  gid?: number;
  /** Permission bits (07777); ignored for symlinks, whose mode Linux cannot change. */
  mode?: number;
  size?: bigint;
  atime?: TimeChange;
  mtime?: TimeChange;
}

/** Who a new object belongs to (the procedures decide: caller, setgid directory). */
export interface NewOwner {
  uid: number;
  gid: number;
}

export type NodeKind = 'chr' | 'blk' | 'fifo' | 'sock';

export type Stability = 'unstable' | 'data' | 'file';

export interface FsStat {
  tbytes: bigint;
  fbytes: bigint;
  abytes: bigint;
  tfiles: bigint;
  ffiles: bigint;
  afiles: bigint;
}

/**
 * A name is one component, checked by the procedures: 1 to 255 bytes, no `/`
 * or NUL, never `.` or `..` (except for `lookup`, which takes both).
 * Operations throw Node-style errors (`code: 'ENOENT'`...) or NfsError;
 * an object that is gone or no longer the one handed out is NfsError STALE.
 */
export interface ExportFs {
  /** The export's root directory. */
  root(): Promise<FsObject>;
  /**
   * A new open file description of the object (read-write where allowed),
   * for byte-range locks held on the real file; only backends on local files
   * have one. The caller closes it.
   */
  openForLock?(o: FsObject): Promise<number>;
  /** The object a handle names, with fresh attributes; STALE when it is gone. */
  resolve(fileid: bigint, generation: bigint): Promise<FsObject>;
  /**
   * resolve() answered at once from what the backend holds (no system call, no wait), or undefined
   * when it must look (then resolve()). Optional: a call that can finish without waiting (a cached
   * READ) then completes in the turn it arrived in, with no promise on its way.
   */
  resolveNow?(fileid: bigint, generation: bigint): FsObject | undefined;
  /** A name in a directory; `.` is the directory, `..` its parent (the root's is the root). Never follows a symlink. */
  lookup(dir: FsObject, name: Buffer): Promise<FsObject>;
  /**
   * lookup()'s answer without a promise when the backend has it at hand (a name a READDIRPLUS just listed,
   * whose attributes its cache vouches for), else undefined: lookup() then answers, errors included. `name`
   * is a checked single component, never `.` or `..`. Optional.
   */
  lookupNow?(dir: FsObject, name: Buffer): FsObject | undefined;
  /**
   * The objects of several names of one directory (names as readdir gives them: Latin-1 strings of
   * their bytes, never `.` or `..`), undefined for a name that is gone: READDIRPLUS's entries at the
   * cost of one lookup of the directory. Optional: without it each name is looked up alone.
   */
  lookupNames?(dir: FsObject, names: readonly string[]): Promise<(FsObject | undefined)[]>;
  /** Fresh attributes of an object. */
  getattr(obj: FsObject): Promise<FsAttrs>;
  setattr(obj: FsObject, change: AttrChange): Promise<void>;
  /** Reads up to `count` bytes at `position` into `buf` at `at`; returns the bytes read. */
  read(obj: FsObject, buf: Buffer, at: number, count: number, position: number): Promise<number>;
  /**
   * read() from what is at hand, without waiting: the bytes the page cache gave at once when the file
   * is open already (fewer than asked when the rest is not cached or the file ends), else -1. The
   * caller reads the rest with read(). `alone`: the client waits on no other call (a backend may then copy
   * a larger READ at once).
   */
  readNow?(obj: FsObject, buf: Buffer, at: number, count: number, position: number, alone?: boolean): number;
  /**
   * For a reply that sends a file's bytes straight from the page cache instead of copying them: the
   * descriptor of the file, open already, when bytes [position, position + count) are in the file and in the
   * page cache now (sampled; see rangeCached) and a send of them never copies more than the backend copies on
   * the serving thread (directReadMax); else undefined (read() or readNow copy them). The
   * descriptor is the caller's until it yields.
   */
  fileNow?(obj: FsObject, position: number, count: number): number | undefined;
  /**
   * An UNSTABLE write() done without waiting when the backend can (the file open for writing, the data
   * copied on the calling thread): the attributes after it, or undefined when the caller must use write().
   * Throws what the write meets (it may have written part: the caller answers, never retries).
   */
  writeNow?(obj: FsObject, data: Buffer, position: number): FsAttrs | undefined;
  /** Writes `data` at `position`, stable as asked; returns the attributes after the write. */
  write(obj: FsObject, data: Buffer, position: number, stable: Stability): Promise<FsAttrs>;
  /** Makes earlier unstable writes of the object stable. */
  commit(obj: FsObject): Promise<void>;
  /** A new empty regular file (mode 0600 until SETATTR), failing with EEXIST when the name is taken. */
  create(dir: FsObject, name: Buffer, owner: NewOwner, exclusiveTimes?: { atime: number; mtime: number }): Promise<FsObject>;
  mkdir(dir: FsObject, name: Buffer, owner: NewOwner): Promise<FsObject>;
  symlink(dir: FsObject, name: Buffer, target: Buffer, owner: NewOwner): Promise<FsObject>;
  mknod(dir: FsObject, name: Buffer, kind: NodeKind, major: number, minor: number, owner: NewOwner): Promise<FsObject>;
  link(obj: FsObject, dir: FsObject, name: Buffer): Promise<void>;
  rename(fromDir: FsObject, fromName: Buffer, toDir: FsObject, toName: Buffer): Promise<void>;
  /** Removes a name: a directory (rmdir) when `dir`, else anything but a directory. */
  remove(dir: FsObject, name: Buffer, isDir: boolean): Promise<void>;
  /**
   * The names of a directory (`.` and `..` first) as Latin-1 strings of their bytes, from the snapshot
   * `verf` names when `cookie` is not 0 and the snapshot is still known (see dir-listings.ts).
   */
  readdir(dir: FsObject, cookie: bigint, verf: Buffer): Promise<{ verf: Buffer; names: string[] }>;
  readlink(obj: FsObject): Promise<Buffer>;
  statfs(obj: FsObject): Promise<FsStat>;
  /**
   * A client was granted MOUNT of this export (before its handle is
   * made). A backend whose root depends on the client's boot (an image
   * node's generation) switches here; true when `root()` now names another
   * object, so the export's root handle is made again.
   */
  mounted?(client: string): Promise<boolean>;
  /** Drops cached attributes: a call found the tree not as the cache said (changed beside the server). */
  forgetCached(): void;
  close(): void;
}

const S_IFMT = 0o170000n;
export const isDir = (a: FsAttrs): boolean => (a.mode & S_IFMT) === 0o040000n;
export const isFile = (a: FsAttrs): boolean => (a.mode & S_IFMT) === 0o100000n;
export const isSymlink = (a: FsAttrs): boolean => (a.mode & S_IFMT) === 0o120000n;
