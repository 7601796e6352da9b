import { randomBytes } from 'node:crypto';
import { constants, fstatSync, readSync, writeSync, type BigIntStats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { BufferPool, REPLY_HEADROOM, RateLimitedLog, XdrError, type ProcedureHandler, type XdrCodec, type RpcCall, type RpcResult } from '@netboot/oncrpc-xdr';
import { AttributeCache } from './attribute-cache.js';
import { fattr, nfsTime, wccAttr } from './attributes.js';
import { childPath, keyBytes, nameKey, parentPath, printable } from './byte-path.js';
import { type AccessOptions, type Caller, accessBits, may, mayLink, squash } from './credentials.js';
import { DirListings } from './dir-listings.js';
import { NfsError, statusOf } from './errno-status.js';
import { ExactTimes, type TimeChange } from './exact-times.js';
import { ExportTree } from './export-tree.js';
import { HandleCodec } from './file-handle.js';
import {
  CreateMode,
  FsProperties,
  Ftype,
  NAME_MAX,
  NFS_PROGRAM,
  NFS_V3,
  NfsStat,
  Proc,
  type ProcName,
  StableHow,
  TimeHow,
} from './nfs3-constants.js';
import {
  type ArgsOf,
  type DirEntry,
  type DirEntryPlus,
  type ResOf,
  encodeReadRes,
  encodeReadResAround,
  READ_HEAD_MAX,
  entry3,
  entryplus3,
  procedures,
} from './nfs3-procedures.js';
import { type Fattr, type DirOpArgs, type Sattr, type WccData, noSattr, postOpAttr } from './nfs3-types.js';
import { OpenFiles } from './open-files.js';
import { makeNode } from './special-files.js';

/** One exported directory as the NFS server needs it. */
export interface NfsExport {
  /** Carried in every handle and reported as fsid: must stay the same across restarts. */
  id: number;
  /** Absolute path of the exported directory. */
  path: string;
  /** The options for a client address, or undefined when the export does not list that client. */
  optionsFor(address: string): AccessOptions | undefined | Promise<AccessOptions | undefined>;
}

export interface NfsServerOptions {
  exports: NfsExport[];
  /** Secret that signs handles (see loadHandleKey). */
  handleKey: Buffer;
  log?: (line: string) => void;
  /** Largest READ/WRITE over TCP (default 1 MiB); the RPC server's maxRecordSize must allow it plus headers. */
  maxIoTcp?: number;
  /** Largest READ/WRITE over UDP (default 32 KiB, so a reply fits one datagram). */
  maxIoUdp?: number;
  /** Entries the inode search may visit after a restart (default 2,000,000). */
  maxScan?: number;
  /**
   * How long attributes read from the file system are reused, in ms
   * (default 1000; 0 reads them on every call). Changes made through this
   * server are seen at once; changes made beside it, after at most this long.
   */
  attributeCacheMs?: number;
}

interface ExportState {
  def: NfsExport;
  tree: ExportTree;
}

interface Target {
  call: RpcCall;
  exp: ExportState;
  opts: AccessOptions;
  caller: Caller;
  path: Buffer;
  st: BigIntStats;
}

type Impl<P extends ProcName> = (call: RpcCall, args: ArgsOf<P>) => Promise<ResOf<P>>;

const EMPTY_WCC: WccData = { before: undefined, after: undefined };
const FAIL_BODY: Record<ProcName, object> = {
  NULL: {},
  GETATTR: {},
  SETATTR: { wcc: EMPTY_WCC },
  LOOKUP: { dirAttributes: undefined },
  ACCESS: { attributes: undefined },
  READLINK: { attributes: undefined },
  READ: { attributes: undefined },
  WRITE: { wcc: EMPTY_WCC },
  CREATE: { dirWcc: EMPTY_WCC },
  MKDIR: { dirWcc: EMPTY_WCC },
  SYMLINK: { dirWcc: EMPTY_WCC },
  MKNOD: { dirWcc: EMPTY_WCC },
  REMOVE: { dirWcc: EMPTY_WCC },
  RMDIR: { dirWcc: EMPTY_WCC },
  RENAME: { fromWcc: EMPTY_WCC, toWcc: EMPTY_WCC },
  LINK: { attributes: undefined, dirWcc: EMPTY_WCC },
  READDIR: { attributes: undefined },
  READDIRPLUS: { attributes: undefined },
  FSSTAT: { attributes: undefined },
  FSINFO: { attributes: undefined },
  PATHCONF: { attributes: undefined },
  COMMIT: { wcc: EMPTY_WCC },
};

/** Procedures a UDP retransmission may simply run again (nfsd's RC_NOCACHE): the duplicate request cache never copies their replies. */
const IDEMPOTENT = [
  Proc.NULL,
  Proc.GETATTR,
  Proc.LOOKUP,
  Proc.ACCESS,
  Proc.READLINK,
  Proc.READ,
  Proc.READDIR,
  Proc.READDIRPLUS,
  Proc.FSSTAT,
  Proc.FSINFO,
  Proc.PATHCONF,
  Proc.COMMIT,
];

/** Procedures after which cached attributes may be wrong: every change but WRITE, which stores what it produced. */
const CHANGES = new Set<ProcName>(['SETATTR', 'CREATE', 'MKDIR', 'SYMLINK', 'MKNOD', 'REMOVE', 'RMDIR', 'RENAME', 'LINK']);

/** Room in front of READ data for the reply's headers: the TCP record mark, the RPC reply header, READ3resok's. */
const READ_ROOM = REPLY_HEADROOM + READ_HEAD_MAX;

/** READs up to this size are served with a synchronous pread (see read()). */
const SYNC_READ_MAX = 64 * 1024;
/**
 * A write copies into the page cache in well under a millisecond
 * a megabyte, unless the kernel holds the writer back because too much is
 * dirty (balance_dirty_pages sleeps tens of milliseconds and more). A
 * synchronous write that took longer than this sends the writes of the
 * next POOL_WRITES_MS to the thread pool, so the event loop does not sleep
 * with the kernel.
 */
const SYNC_WRITE_STALL_MS = 10;
const POOL_WRITES_MS = 1000;

const S_ISVTX = 0o1000;
const S_ISGID = 0o2000;
const err = (status: ConstructorParameters<typeof NfsError>[0], detail?: string, body?: object) =>
  new NfsError(status, detail, body);
const PROC_NAMES = new Map<number, string>(Object.entries(Proc).map(([n, v]) => [v, n]));
const STATUS_NAMES = new Map<number, string>(Object.entries(NfsStat).map(([n, v]) => [v, `NFS3ERR_${n}`]));

/**
 * NFSv3 (RFC 1813) over a local directory tree. The server runs as root and
 * acts for many users, so it checks AUTH_SYS permissions itself after
 * squashing per export, never follows a symlink for the client (lstat,
 * O_NOFOLLOW, names checked component by component), and gives every object
 * it creates to the squashed caller.
 */
export class NfsServer {
  private readonly handles: HandleCodec;
  private readonly byId = new Map<number, ExportState>();
  private readonly files = new OpenFiles();
  private readonly listings = new DirListings();
  private readonly pool: BufferPool;
  /** READ calls between their start and their reply being built. */
  private readsRunning = 0;
  /** Until when (performance.now()) WRITE data goes to the thread pool (see SYNC_WRITE_STALL_MS). */
  private poolWritesUntil = 0;
  /** Changes on every start, so a client knows UNSTABLE writes before it may be lost. */
  readonly writeVerifier = randomBytes(8);
  private readonly log: RateLimitedLog;
  private readonly maxIoTcp: number;
  private readonly maxIoUdp: number;
  private readonly times: ExactTimes;

  private constructor(
    opts: NfsServerOptions,
    states: ExportState[],
    private readonly attrs: AttributeCache,
  ) {
    this.handles = new HandleCodec(opts.handleKey);
    for (const s of states) this.byId.set(s.def.id, s);
    const sink = opts.log ?? ((l) => console.error(l));
    // Error texts carry paths, which are any bytes a client chose.
    this.log = new RateLimitedLog((l) => sink(printable(l)));
    this.times = new ExactTimes((l) => this.log.log('nfs times', l));
    this.maxIoTcp = opts.maxIoTcp ?? 1024 * 1024;
    this.maxIoUdp = opts.maxIoUdp ?? 32 * 1024;
    this.pool = new BufferPool(READ_ROOM + this.maxIoTcp + 3);
  }

  static async create(opts: NfsServerOptions): Promise<NfsServer> {
    const states: ExportState[] = [];
    const ids = new Set<number>();
    const attrs = new AttributeCache(opts.attributeCacheMs ?? 1000);
    for (const def of opts.exports) {
      if (ids.has(def.id)) throw new Error(`two exports share the id ${def.id} (${def.path}): give one an explicit fsid=`);
      ids.add(def.id);
      states.push({ def, tree: await ExportTree.open(def.path, def.id, opts.maxScan, attrs) });
    }
    return new NfsServer(opts, states, attrs);
  }

  /**
   * Replaces the export list (after the exports file changed). Exports that
   * keep their id keep their inode index; handles of a removed export go STALE.
   */
  async setExports(defs: NfsExport[], maxScan?: number): Promise<void> {
    const next = new Map<number, ExportState>();
    for (const def of defs) {
      if (next.has(def.id)) throw new Error(`two exports share the id ${def.id} (${def.path}): give one an explicit fsid=`);
      const old = this.byId.get(def.id);
      next.set(def.id, { def, tree: old && old.def.path === def.path ? old.tree : await ExportTree.open(def.path, def.id, maxScan, this.attrs) });
    }
    this.byId.clear();
    for (const [id, s] of next) this.byId.set(id, s);
    this.attrs.clear();
  }

  /** The handle of an export's root directory (what MOUNT returns), or undefined for a path not exported. */
  rootHandle(path: string): Buffer | undefined {
    for (const s of this.byId.values()) {
      if (s.def.path === path) return this.handles.encode({ exportId: s.def.id, ino: s.tree.rootIno, birth: s.tree.rootBirth });
    }
    return undefined;
  }

  /**
   * The handle of a directory below an export root (MOUNT of a
   * subdirectory), walking `subpath` one component at a time with lstat:
   * undefined for `..`, a missing component, a symlink or a non-directory.
   */
  async dirHandle(exportPath: string, subpath: Uint8Array | string | undefined): Promise<Buffer | undefined> {
    const s = [...this.byId.values()].find((e) => e.def.path === exportPath);
    if (!s) return undefined;
    if (!subpath?.length) return this.rootHandle(exportPath);
    let path = s.tree.rootBytes;
    let parent = s.tree.rootIno;
    let st: BigIntStats | undefined;
    const bytes = typeof subpath === 'string' ? Buffer.from(subpath, 'utf8') : Buffer.from(subpath.buffer, subpath.byteOffset, subpath.byteLength);
    for (const name of splitBytes(bytes)) {
      if (name.length === 0 || isDots(name) === 1) continue;
      if (isDots(name) === 2 || name.length > NAME_MAX) return undefined;
      path = childPath(path, name);
      st = await fsp.lstat(path, { bigint: true }).catch(() => undefined);
      if (!st?.isDirectory()) return undefined;
      s.tree.record(parent, nameKey(name), st.ino);
      parent = st.ino;
    }
    return st ? this.handleOf(s, st) : this.rootHandle(exportPath);
  }

  /** Registers NFS v3 with an RPC server. */
  register(rpc: {
    register(prog: number, vers: number, procs: Record<number, ProcedureHandler>, opts?: { idempotent?: readonly number[] }): void;
  }): void {
    rpc.register(NFS_PROGRAM, NFS_V3, this.handlers(), { idempotent: IDEMPOTENT });
  }

  close(): void {
    this.files.close();
    this.times.close();
  }

  handlers(): Record<number, ProcedureHandler> {
    const h: Record<number, ProcedureHandler> = {
      [Proc.NULL]: () => ({ stat: 0, body: [] }),
      [Proc.READ]: (call) => this.read(call),
    };
    const impls: { [P in ProcName]?: Impl<P> } = {
      GETATTR: (c, a) => this.getattr(c, a),
      SETATTR: (c, a) => this.setattr(c, a),
      LOOKUP: (c, a) => this.lookup(c, a),
      ACCESS: (c, a) => this.access(c, a),
      READLINK: (c, a) => this.readlink(c, a),
      WRITE: (c, a) => this.write(c, a),
      CREATE: (c, a) => this.create(c, a),
      MKDIR: (c, a) => this.mkdir(c, a),
      SYMLINK: (c, a) => this.symlink(c, a),
      MKNOD: (c, a) => this.mknod(c, a),
      REMOVE: (c, a) => this.remove(c, a, false),
      RMDIR: (c, a) => this.remove(c, a, true),
      RENAME: (c, a) => this.rename(c, a),
      LINK: (c, a) => this.link(c, a),
      READDIR: (c, a) => this.readdir(c, a),
      READDIRPLUS: (c, a) => this.readdirplus(c, a),
      FSSTAT: (c, a) => this.fsstat(c, a),
      FSINFO: (c, a) => this.fsinfo(c, a),
      PATHCONF: (c, a) => this.pathconf(c, a),
      COMMIT: (c, a) => this.commit(c, a),
    };
    for (const [name, impl] of Object.entries(impls)) {
      h[Proc[name as ProcName]] = this.wrap(name as ProcName, impl as Impl<ProcName>);
    }
    return h;
  }

  private wrap<P extends ProcName>(name: P, impl: Impl<P>): ProcedureHandler {
    const codec = procedures[name];
    // Changes to names or attributes: whatever the cache holds may be out of date after them (see AttributeCache).
    const changes = CHANGES.has(name);
    return async (call) => {
      const args = codec.args.read(call.args) as ArgsOf<P>;
      const res = await impl(call, args).catch((e: unknown) => this.failure(name, e));
      if (changes) this.attrs.clear();
      // Encoded after room for the reply's headers, so the reply leaves as one buffer.
      const c = codec.res as XdrCodec<ResOf<P>>;
      const length = c.encodingLength(res);
      const buf = Buffer.allocUnsafe(REPLY_HEADROOM + length);
      const n = c.encodeInto(res, buf, REPLY_HEADROOM);
      if (n !== length) throw new XdrError('UNREPRESENTABLE', c.name, n, `wrote ${n} bytes, expected ${length}`);
      return { stat: 0, body: [buf.subarray(REPLY_HEADROOM)], headroom: REPLY_HEADROOM };
    };
  }

  private failure<P extends ProcName>(name: P, e: unknown): ResOf<P> {
    const status = statusOf(e);
    // Outside LOOKUP (where a missing name is routine), NOENT means a path the cache vouched for was renamed
    // or removed beside the server: the next call looks again instead of waiting for the entries to expire.
    if (status === NfsStat.NOENT && name !== 'LOOKUP') this.attrs.clear();
    if (status === NfsStat.SERVERFAULT) this.log.log(`nfs ${name}`, `nfs: ${name} failed (NFS3ERR_SERVERFAULT): ${String(e)}`);
    return { ...FAIL_BODY[name], ...(e instanceof NfsError ? e.body : {}), status } as ResOf<P>;
  }

  // ---- handles, exports, names ----

  private async target(call: RpcCall, fh: Buffer): Promise<Target> {
    const id = this.handles.decode(fh);
    if (!id) throw this.refused(call, NfsStat.BADHANDLE, 'not a handle of this server');
    const exp = this.byId.get(id.exportId);
    if (!exp) throw this.refused(call, NfsStat.STALE, `export ${id.exportId} is no longer exported`);
    const opts = await exp.def.optionsFor(call.remote.address);
    if (!opts) throw this.refused(call, NfsStat.ACCES, `${call.remote.address} is not a client of ${exp.def.path}`);
    // As Linux nfsd: a `secure` export answers calls from unprivileged ports with NFS3ERR_PERM.
    if (opts.secure && call.remote.port >= 1024) throw this.refused(call, NfsStat.PERM, 'request from an insecure port');
    const caller = squash(call.cred, opts);
    const { path, st } = await exp.tree.resolve(id.ino, id.birth);
    return { call, exp, opts, caller, path, st };
  }

  /**
   * A refusal an admin should see (a client beyond its rights, or probing),
   * as opposed to ordinary errors such as NOENT: logged, rate-limited per
   * client and status so a flood of forged handles costs a few lines.
   */
  private refused(call: RpcCall, status: ConstructorParameters<typeof NfsError>[0], detail: string, body?: object): NfsError {
    const proc = PROC_NAMES.get(call.proc) ?? `procedure ${call.proc}`;
    this.log.log(
      `nfs: refusals of ${call.remote.address} (${STATUS_NAMES.get(status)})`,
      `nfs: ${proc} from ${call.remote.address}:${call.remote.port} refused (${STATUS_NAMES.get(status)}): ${detail}`,
    );
    return err(status, detail, body);
  }

  private handleOf(exp: ExportState, st: BigIntStats): Buffer {
    return this.handles.encode({ exportId: exp.def.id, ino: st.ino, birth: st.birthtimeNs });
  }

  private attr(t: { exp: ExportState }, st: BigIntStats): Fattr {
    return fattr(st, t.exp.def.id);
  }

  private async attrOf(t: { exp: ExportState }, path: Buffer): Promise<Fattr | undefined> {
    try {
      return this.attr(t, await fsp.lstat(path, { bigint: true }));
    } catch {
      return undefined;
    }
  }

  private async wcc(t: { exp: ExportState }, pre: BigIntStats, path: Buffer): Promise<WccData> {
    return { before: wccAttr(pre), after: await this.attrOf(t, path) };
  }

  /** A directory handle plus the permissions the operation needs on it. */
  private async dirTarget(call: RpcCall, fh: Buffer, modify: boolean): Promise<Target> {
    const d = await this.target(call, fh);
    const fail = modify ? { dirWcc: { before: wccAttr(d.st), after: this.attr(d, d.st) } } : { dirAttributes: this.attr(d, d.st) };
    if (!d.st.isDirectory()) throw err(NfsStat.NOTDIR, undefined, fail);
    if (modify && !d.opts.rw) throw err(NfsStat.ROFS, undefined, fail);
    if (!may.exec(d.caller, owner(d.st), true)) throw err(NfsStat.ACCES, undefined, fail);
    if (modify && !may.write(d.caller, owner(d.st), true)) throw err(NfsStat.ACCES, undefined, fail);
    return d;
  }

  /** A single path component, any bytes but never empty, `.`, `..`, or holding `/` or NUL; longer than NAME_MAX bytes is NAMETOOLONG. */
  private name(n: Buffer, dotStatus: typeof NfsStat.EXIST | typeof NfsStat.INVAL = NfsStat.INVAL): Buffer {
    if (n.length > NAME_MAX) throw err(NfsStat.NAMETOOLONG);
    if (n.length === 0 || n.includes(0) || n.includes(0x2f)) throw err(NfsStat.ACCES, 'bad file name');
    if (isDots(n)) throw err(dotStatus);
    return n;
  }

  /** Sticky directories: only the owner of the entry or of the directory (or root) may remove or replace it. */
  private checkSticky(d: Target, child: BigIntStats): void {
    if (!(Number(d.st.mode) & S_ISVTX) || d.caller.uid === 0) return;
    if (BigInt(d.caller.uid) !== child.uid && BigInt(d.caller.uid) !== d.st.uid) throw err(NfsStat.ACCES);
  }

  private key(t: { exp: ExportState }, ino: bigint): string {
    return `${t.exp.def.id}:${ino}`;
  }

  // ---- attributes ----

  /** Applies a sattr3; `created` skips the permission checks for an object just made for the caller. */
  private async applySattr(t: Target, path: Buffer, st: BigIntStats, s: Sattr, created: boolean): Promise<void> {
    const c = t.caller;
    const isOwner = c.uid === 0 || BigInt(c.uid) === st.uid;
    const lnk = st.isSymbolicLink();
    // As knfsd: what a caller makes is its own; only root may name another owner or group at once
    // (a non-root caller's uid and gid in CREATE's attributes are ignored, never a way to give a file away).
    const owners = !created || c.uid === 0;
    if (owners && (s.uid !== undefined || s.gid !== undefined)) {
      const uid = s.uid ?? Number(st.uid);
      const gid = s.gid ?? Number(st.gid);
      if (c.uid !== 0 && !created) {
        if (uid !== Number(st.uid)) throw this.refused(t.call, NfsStat.PERM, 'only root may change the owner');
        if (gid !== Number(st.gid) && !(isOwner && (c.gid === gid || c.gids.includes(gid)))) {
          throw this.refused(t.call, NfsStat.PERM, `only root, or the owner to one of its own groups, may change the group (to ${gid})`);
        }
      }
      if (uid !== Number(st.uid) || gid !== Number(st.gid)) await fsp.lchown(path, uid, gid);
    }
    if (s.mode !== undefined && !lnk) {
      if (!isOwner && !created) throw this.refused(t.call, NfsStat.PERM, 'only the owner may change the mode');
      let mode = s.mode & 0o7777;
      const gid = (owners ? s.gid : undefined) ?? Number(st.gid);
      if (c.uid !== 0 && c.gid !== gid && !c.gids.includes(gid)) mode &= ~S_ISGID;
      // A directory made in a setgid directory is setgid itself (the kernel set it), whatever mode the client sent.
      if (created && st.isDirectory()) mode |= Number(st.mode) & S_ISGID;
      await fsp.chmod(path, mode);
    }
    if (s.size !== undefined) {
      if (st.isDirectory()) throw err(NfsStat.ISDIR);
      if (!st.isFile()) throw err(NfsStat.INVAL);
      if (!created && !isOwner && !may.write(c, owner(st))) throw err(NfsStat.ACCES);
      // ftruncate takes a JavaScript number: a size past 2^53 would throw RangeError (SERVERFAULT); no file system holds one.
      if (s.size > BigInt(Number.MAX_SAFE_INTEGER)) throw err(NfsStat.FBIG, `size ${s.size} is too large`);
      const fh = await fsp.open(path, constants.O_WRONLY | constants.O_NOFOLLOW);
      try {
        await fh.truncate(Number(s.size));
      } finally {
        await fh.close();
      }
    }
    if (s.atime.how !== TimeHow.DONT_CHANGE || s.mtime.how !== TimeHow.DONT_CHANGE) {
      const clientTime = s.atime.how === TimeHow.SET_TO_CLIENT_TIME || s.mtime.how === TimeHow.SET_TO_CLIENT_TIME;
      if (!created && !isOwner && (clientTime || !may.write(c, owner(st)))) throw err(clientTime ? NfsStat.PERM : NfsStat.ACCES);
      await this.times.set(path, timeChange(s.atime), timeChange(s.mtime));
    }
  }

  /** Gives a new object to the caller (group from a setgid directory, as the kernel would). */
  private async own(d: Target, path: Buffer): Promise<void> {
    // An unprivileged server (the embedded demo) cannot give files away; they stay its own.
    if (process.getuid?.() !== 0) return;
    const gid = Number(d.st.mode) & S_ISGID ? Number(d.st.gid) : d.caller.gid;
    await fsp.lchown(path, d.caller.uid, gid);
  }

  // ---- procedures ----

  private async getattr(call: RpcCall, a: ArgsOf<'GETATTR'>): Promise<ResOf<'GETATTR'>> {
    const t = await this.target(call, a.object);
    return { status: 0, attributes: this.attr(t, t.st) };
  }

  private async setattr(call: RpcCall, a: ArgsOf<'SETATTR'>): Promise<ResOf<'SETATTR'>> {
    const t = await this.target(call, a.object);
    const wcc = { before: wccAttr(t.st), after: this.attr(t, t.st) };
    if (a.guard) {
      const ct = nfsTime(t.st.ctimeNs);
      if (ct.seconds !== a.guard.seconds || ct.nseconds !== a.guard.nseconds) throw err(NfsStat.NOT_SYNC, undefined, { wcc });
    }
    if (!t.opts.rw) throw err(NfsStat.ROFS, undefined, { wcc });
    try {
      await this.applySattr(t, t.path, t.st, a.attributes, false);
    } catch (e) {
      throw err(statusOf(e), String(e), { wcc: await this.wcc(t, t.st, t.path) });
    }
    return { status: 0, wcc: await this.wcc(t, t.st, t.path) };
  }

  private async lookup(call: RpcCall, a: ArgsOf<'LOOKUP'>): Promise<ResOf<'LOOKUP'>> {
    const d = await this.dirTarget(call, a.dir, false);
    const dirAttributes = this.attr(d, d.st);
    const dots = isDots(a.name);
    let path: Buffer;
    if (dots === 1) path = d.path;
    else if (dots === 2) path = d.st.ino === d.exp.tree.rootIno ? d.path : parentPath(d.path);
    else {
      try {
        path = childPath(d.path, this.name(a.name));
      } catch (e) {
        throw err(statusOf(e), undefined, { dirAttributes });
      }
    }
    let st: BigIntStats;
    try {
      st = this.attrs.lstat(path);
    } catch (e) {
      throw err(statusOf(e), undefined, { dirAttributes });
    }
    if (!dots) d.exp.tree.record(d.st.ino, nameKey(a.name), st.ino);
    return { status: 0, object: this.handleOf(d.exp, st), attributes: this.attr(d, st), dirAttributes };
  }

  private async access(call: RpcCall, a: ArgsOf<'ACCESS'>): Promise<ResOf<'ACCESS'>> {
    const t = await this.target(call, a.object);
    const access = accessBits(t.caller, owner(t.st), t.st.isDirectory(), a.access, !t.opts.rw);
    return { status: 0, attributes: this.attr(t, t.st), access };
  }

  private async readlink(call: RpcCall, a: ArgsOf<'READLINK'>): Promise<ResOf<'READLINK'>> {
    const t = await this.target(call, a.object);
    const attributes = this.attr(t, t.st);
    if (!t.st.isSymbolicLink()) throw err(NfsStat.INVAL, undefined, { attributes });
    const data = await fsp.readlink(t.path, { encoding: 'buffer' });
    return { status: 0, attributes, data };
  }

  private async read(call: RpcCall): Promise<RpcResult> {
    const a = procedures.READ.args.read(call.args);
    let pooled: Buffer | undefined;
    this.readsRunning++;
    try {
      const t = await this.target(call, a.file);
      const attributes = this.attr(t, t.st);
      if (t.st.isDirectory()) throw err(NfsStat.ISDIR, undefined, { attributes });
      if (!t.st.isFile()) throw err(NfsStat.INVAL, undefined, { attributes });
      const o = owner(t.st);
      // As nfsd: the owner may read regardless of the mode, and execute permission allows reading (to run it).
      if (!may.read(t.caller, o) && !may.exec(t.caller, o) && BigInt(t.caller.uid) !== t.st.uid) {
        throw err(NfsStat.ACCES, undefined, { attributes });
      }
      const max = call.transport === 'tcp' ? this.maxIoTcp : this.maxIoUdp;
      const count = Math.min(a.count, max);
      // The data is read after room for the whole reply's headers and followed by room for its
      // padding, so the reply leaves as one buffer (see encodeReadResAround, REPLY_HEADROOM).
      const size = READ_ROOM + count + 3;
      pooled = count > 64 * 1024 ? this.pool.take(size) : undefined;
      const buf = pooled ?? Buffer.allocUnsafe(size);
      const n =
        count === 0 || a.offset >= t.st.size
          ? 0
          : await this.files.use(this.key(t, t.st.ino), t.path, t.st.ino, async (fh) => {
              // A small read of cached data takes microseconds synchronously, several times less than
              // the thread-pool round trip. A large one is synchronous too when it is the only READ
              // running (one call in flight: the hop would only add two wake-ups and a loop turn);
              // beside others it goes to the thread pool so they overlap on the cores.
              if (count <= SYNC_READ_MAX || this.readsRunning === 1) return readSync(fh.fd, buf, READ_ROOM, count, Number(a.offset));
              return (await fh.read(buf, READ_ROOM, count, Number(a.offset))).bytesRead;
            });
      const eof = a.offset + BigInt(n) >= t.st.size;
      const { body, headroom } = encodeReadResAround({ attributes, count: n, eof }, buf, READ_ROOM, n);
      const give = pooled;
      pooled = undefined;
      return { stat: 0, body: [body], headroom, onSent: give ? () => this.pool.give(give) : undefined };
    } catch (e) {
      if (pooled) this.pool.give(pooled);
      return { stat: 0, body: encodeReadRes(this.failure('READ', e) as never) };
    } finally {
      this.readsRunning--;
    }
  }

  private async write(call: RpcCall, a: ArgsOf<'WRITE'>): Promise<ResOf<'WRITE'>> {
    const t = await this.target(call, a.file);
    const wcc = { before: wccAttr(t.st), after: this.attr(t, t.st) };
    if (!t.opts.rw) throw err(NfsStat.ROFS, undefined, { wcc });
    if (t.st.isDirectory()) throw err(NfsStat.ISDIR, undefined, { wcc });
    if (!t.st.isFile()) throw err(NfsStat.INVAL, undefined, { wcc });
    if (!may.write(t.caller, owner(t.st)) && BigInt(t.caller.uid) !== t.st.uid) throw err(NfsStat.ACCES, undefined, { wcc });
    const count = Math.min(a.count, a.data.length);
    if (a.offset + BigInt(count) > BigInt(Number.MAX_SAFE_INTEGER)) throw err(NfsStat.FBIG, undefined, { wcc });
    // An async export replies before the data is on disk, as exports(5) describes; sync honours `stable`.
    const sync = t.opts.sync !== false;
    try {
      const after = await this.files.use(this.key(t, t.st.ino), t.path, t.st.ino, async (fh) => {
        // Into the page cache synchronously, unless a recent write stalled (SYNC_WRITE_STALL_MS): measured 1.4 to 1.7x the throughput of the thread-pool
        // hop at 4 and 16 calls in flight (the hop's wake-ups, and pool threads contending for the
        // file's lock, cost more than the loop gains by reading the next call meanwhile).
        const start = performance.now();
        const direct = start >= this.poolWritesUntil;
        let done = 0;
        while (done < count) {
          const at = Number(a.offset) + done;
          const n = direct ? writeSync(fh.fd, a.data, done, count - done, at) : (await fh.write(a.data, done, count - done, at)).bytesWritten;
          if (n === 0) break;
          done += n;
        }
        if (direct && performance.now() - start > SYNC_WRITE_STALL_MS) this.poolWritesUntil = performance.now() + POOL_WRITES_MS;
        // The disk wait in the pool. fsync of the whole file, not only this range (knfsd's RWF_SYNC):
        // with several stable writes in flight the first flushes them all and the others find their
        // pages clean (measured 1.07 to 1.16x the throughput of range-only O_SYNC writes at 4 in flight).
        if (sync && a.stable === StableHow.FILE_SYNC) await fh.sync();
        else if (sync && a.stable === StableHow.DATA_SYNC) await fh.datasync();
        // Synchronous: an asynchronous stat queues behind the writes in flight on the same file.
        const st = fstatSync(fh.fd, { bigint: true });
        this.attrs.set(t.path, st);
        return st;
      }, true);
      return {
        status: 0,
        wcc: { before: wccAttr(t.st), after: this.attr(t, after) },
        count,
        committed: a.stable,
        verf: this.writeVerifier,
      };
    } catch (e) {
      this.attrs.forget(t.path);
      throw err(statusOf(e), String(e), { wcc: await this.wcc(t, t.st, t.path) });
    }
  }

  private async commit(call: RpcCall, a: ArgsOf<'COMMIT'>): Promise<ResOf<'COMMIT'>> {
    const t = await this.target(call, a.file);
    const wcc = { before: wccAttr(t.st), after: this.attr(t, t.st) };
    if (t.st.isDirectory()) throw err(NfsStat.ISDIR, undefined, { wcc });
    if (!t.st.isFile()) throw err(NfsStat.INVAL, undefined, { wcc });
    await this.files.use(this.key(t, t.st.ino), t.path, t.st.ino, (fh) => fh.sync());
    return { status: 0, wcc, verf: this.writeVerifier };
  }

  /**
   * The common frame of CREATE, MKDIR, SYMLINK and MKNOD: checks the
   * directory and name, runs `make`, gives the object to the caller, applies
   * the attributes and answers with handle, attributes and directory wcc.
   */
  private async makeObject(
    call: RpcCall,
    where: DirOpArgs,
    attrs: Sattr | undefined | ((made: boolean) => Sattr | undefined),
    make: (d: Target, path: Buffer) => Promise<'made' | 'existing'>,
  ): Promise<ResOf<'CREATE'>> {
    const d = await this.dirTarget(call, where.dir, true);
    try {
      const path = childPath(d.path, this.name(where.name, NfsStat.EXIST));
      const made = await make(d, path);
      let st = await fsp.lstat(path, { bigint: true });
      if (made === 'made') {
        await this.own(d, path);
        st = await fsp.lstat(path, { bigint: true });
      }
      const apply = typeof attrs === 'function' ? attrs(made === 'made') : attrs;
      if (apply) await this.applySattr({ ...d, st }, path, st, apply, made === 'made');
      st = await fsp.lstat(path, { bigint: true });
      d.exp.tree.record(d.st.ino, nameKey(where.name), st.ino);
      return {
        status: 0,
        object: this.handleOf(d.exp, st),
        attributes: this.attr(d, st),
        dirWcc: await this.wcc(d, d.st, d.path),
      };
    } catch (e) {
      throw err(statusOf(e), String(e), { dirWcc: await this.wcc(d, d.st, d.path) });
    }
  }

  private create(call: RpcCall, a: ArgsOf<'CREATE'>): Promise<ResOf<'CREATE'>> {
    const how = a.how;
    // Over an existing file (UNCHECKED) only the size applies, as with nfsd: the file keeps its mode and owner.
    const attrs = (made: boolean): Sattr | undefined =>
      how.mode === CreateMode.EXCLUSIVE
        ? undefined
        : made
          ? { ...how.attributes, mode: how.attributes.mode ?? 0o644 }
          : { ...noSattr(), size: how.attributes.size };
    return this.makeObject(call, a.where, attrs, async (d, path) => {
      const existing = await fsp.lstat(path, { bigint: true }).catch(() => undefined);
      if (existing) {
        if (how.mode === CreateMode.UNCHECKED && existing.isFile()) return 'existing';
        if (how.mode === CreateMode.EXCLUSIVE && existing.isFile()) {
          // A retransmitted EXCLUSIVE create finds its own verifier in the times, as Linux nfsd stores it.
          if (Number(existing.atimeNs / 1_000_000_000n) === how.verf.readUInt32BE(0) && Number(existing.mtimeNs / 1_000_000_000n) === how.verf.readUInt32BE(4)) {
            return 'existing';
          }
        }
        throw err(NfsStat.EXIST);
      }
      const fh = await fsp.open(path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW, 0o600);
      await fh.close();
      if (how.mode === CreateMode.EXCLUSIVE) await fsp.lutimes(path, how.verf.readUInt32BE(0), how.verf.readUInt32BE(4));
      return 'made';
    });
  }

  private mkdir(call: RpcCall, a: ArgsOf<'MKDIR'>): Promise<ResOf<'MKDIR'>> {
    return this.makeObject(call, a.where, { ...a.attributes, mode: a.attributes.mode ?? 0o755 }, async (_d, path) => {
      await fsp.mkdir(path, 0o700);
      return 'made';
    });
  }

  private symlink(call: RpcCall, a: ArgsOf<'SYMLINK'>): Promise<ResOf<'SYMLINK'>> {
    // As knfsd: an empty target, or one holding NUL (which no symlink can), is NFS3ERR_INVAL.
    if (a.data.length === 0 || a.data.includes(0)) return Promise.resolve(this.failure('SYMLINK', err(NfsStat.INVAL)));
    return this.makeObject(call, a.where, { ...a.attributes, mode: undefined, size: undefined }, async (_d, path) => {
      await fsp.symlink(a.data, path);
      return 'made';
    });
  }

  private mknod(call: RpcCall, a: ArgsOf<'MKNOD'>): Promise<ResOf<'MKNOD'>> {
    const w = a.what;
    if (!('attributes' in w)) return Promise.resolve(this.failure('MKNOD', err(NfsStat.BADTYPE)));
    const kind = w.type === Ftype.CHR ? 'chr' : w.type === Ftype.BLK ? 'blk' : w.type === Ftype.FIFO ? 'fifo' : 'sock';
    return this.makeObject(call, a.where, { ...w.attributes, size: undefined }, async (d, path) => {
      // Device nodes need CAP_MKNOD, which the server has and a non-root caller does not.
      if ('spec' in w && d.caller.uid !== 0) throw this.refused(call, NfsStat.PERM, 'only root may make device nodes');
      await makeNode(path, kind, 'spec' in w ? w.spec.specdata1 : 0, 'spec' in w ? w.spec.specdata2 : 0);
      return 'made';
    });
  }

  private async remove(call: RpcCall, a: ArgsOf<'REMOVE'>, dir: boolean): Promise<ResOf<'REMOVE'>> {
    const d = await this.dirTarget(call, a.dir, true);
    try {
      if (dir && isDots(a.name) === 2) throw err(NfsStat.NOTEMPTY);
      const name = this.name(a.name);
      const path = childPath(d.path, name);
      const st = await fsp.lstat(path, { bigint: true });
      if (dir && !st.isDirectory()) throw err(NfsStat.NOTDIR);
      if (!dir && st.isDirectory()) throw err(NfsStat.ISDIR);
      this.checkSticky(d, st);
      if (dir) await fsp.rmdir(path);
      else await fsp.unlink(path);
      d.exp.tree.forget(d.st.ino, nameKey(name), st.ino);
      if (st.nlink <= 1n) this.files.drop(this.key(d, st.ino));
      return { status: 0, dirWcc: await this.wcc(d, d.st, d.path) };
    } catch (e) {
      throw err(statusOf(e), String(e), { dirWcc: await this.wcc(d, d.st, d.path) });
    }
  }

  private async rename(call: RpcCall, a: ArgsOf<'RENAME'>): Promise<ResOf<'RENAME'>> {
    const from = await this.dirTarget(call, a.from.dir, true);
    let to: Target | undefined;
    const body = async () => ({
      fromWcc: await this.wcc(from, from.st, from.path),
      toWcc: to ? await this.wcc(to, to.st, to.path) : EMPTY_WCC,
    });
    try {
      to = await this.dirTarget(call, a.to.dir, true);
      if (to.exp !== from.exp) throw this.refused(call, NfsStat.XDEV, `${from.exp.def.path} and ${to.exp.def.path} are different exports`);
      const fromName = this.name(a.from.name);
      const toName = this.name(a.to.name, NfsStat.EXIST);
      const fromPath = childPath(from.path, fromName);
      const toPath = childPath(to.path, toName);
      const src = await fsp.lstat(fromPath, { bigint: true });
      this.checkSticky(from, src);
      // Moving a directory to another parent rewrites its `..`: that takes write permission on it.
      if (src.isDirectory() && from.st.ino !== to.st.ino && !may.write(from.caller, owner(src), true)) throw err(NfsStat.ACCES);
      const dst = await fsp.lstat(toPath, { bigint: true }).catch(() => undefined);
      if (dst) this.checkSticky(to, dst);
      await fsp.rename(fromPath, toPath);
      from.exp.tree.forget(from.st.ino, nameKey(fromName), src.ino);
      if (dst && dst.ino !== src.ino) {
        to.exp.tree.forget(to.st.ino, nameKey(toName), dst.ino);
        if (dst.nlink <= 1n) this.files.drop(this.key(to, dst.ino));
      }
      to.exp.tree.record(to.st.ino, nameKey(toName), src.ino);
      return { status: 0, ...(await body()) };
    } catch (e) {
      throw err(statusOf(e), String(e), await body());
    }
  }

  private async link(call: RpcCall, a: ArgsOf<'LINK'>): Promise<ResOf<'LINK'>> {
    const f = await this.target(call, a.file);
    const attributes = this.attr(f, f.st);
    if (f.st.isDirectory()) throw err(NfsStat.ISDIR, undefined, { attributes });
    const d = await this.dirTarget(call, a.link.dir, true);
    try {
      if (d.exp !== f.exp) throw this.refused(call, NfsStat.XDEV, `${f.exp.def.path} and ${d.exp.def.path} are different exports`);
      const name = this.name(a.link.name, NfsStat.EXIST);
      if (!mayLink(d.caller, owner(f.st))) throw this.refused(call, NfsStat.PERM, `uid ${d.caller.uid} may not link a file it neither owns nor may read and write`);
      await fsp.link(f.path, childPath(d.path, name));
      d.exp.tree.record(d.st.ino, nameKey(name), f.st.ino);
      return { status: 0, attributes: await this.attrOf(f, f.path), dirWcc: await this.wcc(d, d.st, d.path) };
    } catch (e) {
      throw err(statusOf(e), String(e), { attributes, dirWcc: await this.wcc(d, d.st, d.path) });
    }
  }

  /** The listing of a directory handle from `cookie`, with per-entry lstat (undefined when gone since the snapshot). */
  private async listing(call: RpcCall, fh: Buffer, cookie: bigint, verf: Buffer) {
    const d = await this.target(call, fh);
    const attributes = this.attr(d, d.st);
    if (!d.st.isDirectory()) throw err(NfsStat.NOTDIR, undefined, { attributes });
    if (!may.read(d.caller, owner(d.st), true)) throw err(NfsStat.ACCES, undefined, { attributes });
    const l = await this.listings.get(d.st.ino, d.st.mtimeNs, d.path, cookie, verf);
    if (cookie > BigInt(l.names.length)) throw err(NfsStat.BAD_COOKIE, undefined, { attributes });
    const entryAt = async (i: number): Promise<{ name: string; st: BigIntStats } | undefined> => {
      const name = l.names[i]!;
      const path = i === 0 ? d.path : i === 1 ? (d.st.ino === d.exp.tree.rootIno ? d.path : parentPath(d.path)) : childPath(d.path, name);
      try {
        const st = await fsp.lstat(path, { bigint: true });
        if (i >= 2) d.exp.tree.record(d.st.ino, name, st.ino);
        return { name, st };
      } catch {
        return undefined;
      }
    };
    return { d, attributes, verf: l.verf, names: l.names, start: Number(cookie), entryAt };
  }

  private async readdir(call: RpcCall, a: ArgsOf<'READDIR'>): Promise<ResOf<'READDIR'>> {
    const l = await this.listing(call, a.dir, a.cookie, a.cookieverf);
    const count = Math.min(a.count, this.maxReply(call));
    let size = 4 + postOpAttr.encodingLength(l.attributes) + 8 + 4 + 4;
    const entries: DirEntry[] = [];
    let i = l.start;
    for (; i < l.names.length; i++) {
      const e = await l.entryAt(i);
      if (!e) continue;
      const entry = { fileid: e.st.ino, name: keyBytes(e.name), cookie: BigInt(i + 1) };
      const n = 4 + entry3.encodingLength(entry);
      if (size + n > count) break;
      size += n;
      entries.push(entry);
    }
    if (entries.length === 0 && i < l.names.length) throw err(NfsStat.TOOSMALL, undefined, { attributes: l.attributes });
    return { status: 0, attributes: l.attributes, cookieverf: l.verf, entries, eof: i >= l.names.length };
  }

  private async readdirplus(call: RpcCall, a: ArgsOf<'READDIRPLUS'>): Promise<ResOf<'READDIRPLUS'>> {
    const l = await this.listing(call, a.dir, a.cookie, a.cookieverf);
    const maxcount = Math.min(a.maxcount, this.maxReply(call));
    let size = 4 + postOpAttr.encodingLength(l.attributes) + 8 + 4 + 4;
    let dirSize = 0;
    const entries: DirEntryPlus[] = [];
    let i = l.start;
    for (; i < l.names.length; i++) {
      const e = await l.entryAt(i);
      if (!e) continue;
      const entry = {
        fileid: e.st.ino,
        name: keyBytes(e.name),
        cookie: BigInt(i + 1),
        attributes: this.attr(l.d, e.st),
        handle: this.handleOf(l.d.exp, e.st),
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

  /** The largest reply body a transport carries: a UDP reply must fit one datagram. */
  private maxReply(call: RpcCall): number {
    return call.transport === 'tcp' ? this.maxIoTcp + 4096 : this.maxIoUdp;
  }

  private async fsstat(call: RpcCall, a: ArgsOf<'FSSTAT'>): Promise<ResOf<'FSSTAT'>> {
    const t = await this.target(call, a.object);
    const s = await fsp.statfs(t.path, { bigint: true });
    return {
      status: 0,
      attributes: this.attr(t, t.st),
      tbytes: s.blocks * s.bsize,
      fbytes: s.bfree * s.bsize,
      abytes: s.bavail * s.bsize,
      tfiles: s.files,
      ffiles: s.ffree,
      afiles: s.ffree,
      invarsec: 0,
    };
  }

  private async fsinfo(call: RpcCall, a: ArgsOf<'FSINFO'>): Promise<ResOf<'FSINFO'>> {
    const t = await this.target(call, a.object);
    const max = call.transport === 'tcp' ? this.maxIoTcp : this.maxIoUdp;
    return {
      status: 0,
      attributes: this.attr(t, t.st),
      rtmax: max,
      rtpref: max,
      rtmult: 4096,
      wtmax: max,
      wtpref: max,
      wtmult: 4096,
      dtpref: Math.min(max, 64 * 1024),
      maxfilesize: (1n << 63n) - 1n,
      timeDelta: { seconds: 0, nseconds: 1 },
      properties: FsProperties.LINK | FsProperties.SYMLINK | FsProperties.HOMOGENEOUS | FsProperties.CANSETTIME,
    };
  }

  private async pathconf(call: RpcCall, a: ArgsOf<'PATHCONF'>): Promise<ResOf<'PATHCONF'>> {
    const t = await this.target(call, a.object);
    return {
      status: 0,
      attributes: this.attr(t, t.st),
      linkmax: 65000,
      nameMax: NAME_MAX,
      noTrunc: true,
      chownRestricted: true,
      caseInsensitive: false,
      casePreserving: true,
    };
  }
}

function owner(st: BigIntStats): { mode: number; uid: number; gid: number } {
  return { mode: Number(st.mode), uid: Number(st.uid), gid: Number(st.gid) };
}

/** 1 for `.`, 2 for `..`, else 0. */
function isDots(n: Buffer): 0 | 1 | 2 {
  if (n.length === 1 && n[0] === 0x2e) return 1;
  if (n.length === 2 && n[0] === 0x2e && n[1] === 0x2e) return 2;
  return 0;
}

function timeChange(h: Sattr['atime']): TimeChange {
  return h.how === TimeHow.SET_TO_CLIENT_TIME ? { at: h.time } : h.how === TimeHow.SET_TO_SERVER_TIME ? { now: true } : { keep: true };
}

/** The components of a relative path of bytes. */
function splitBytes(path: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = path.indexOf(0x2f); i >= 0; i = path.indexOf(0x2f, start)) {
    out.push(path.subarray(start, i));
    start = i + 1;
  }
  out.push(path.subarray(start));
  return out;
}
