import { randomBytes } from 'node:crypto';
import { printable, RateLimitedLog } from '@netboot/log-text';
import { BufferPool, type ProcedureHandler } from '@netboot/oncrpc-xdr';
import { native, platformStatus } from '@netboot/platform';
import { ExportTable, type NfsExport } from './export-table.js';
import type { ExportFs } from './export-fs.js';
import { LocalFs, LocalShared } from './local-fs.js';
import { NFS_PROGRAM, NFS_V3 } from './nfs3-constants.js';
import { NativeIo } from './native-io.js';
import { PortableIo } from './portable-io.js';
import { IDEMPOTENT, READ_ROOM, nfsHandlers } from './rpc-adapter.js';

export type { NfsExport } from './export-table.js';

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
  /**
   * Serve through Node's path-based calls even where the platform module
   * loaded: what a server without it does (see "Portable mode").
   */
  portable?: boolean;
  /**
   * The WRITE/COMMIT verifier (8 bytes): one per server instance, shared by
   * its worker threads, new on every start (default: random). Changed in
   * place after a WRITE or COMMIT meets a storage failure: its worker
   * threads share it as a view of one SharedArrayBuffer.
   */
  writeVerifier?: Buffer;
  /**
   * The largest READ whose data, when cached, is copied on the serving
   * thread instead of in the thread pool while it is the only READ running
   * (default DIRECT_READ_MAX, 64 KiB, the most it copies in any case;
   * Infinity on an NFS worker thread, whose loop serves nothing else).
   */
  directReadMax?: number;
  /**
   * Whether WRITE data is copied into the page cache on the serving thread
   * (a stable write's flush still waits in the thread pool) instead of in the
   * thread pool (default false: the loop netboot serve shares with DHCP,
   * TFTP and HTTP never waits for a writer the kernel holds back; true on an
   * NFS worker thread, whose loop serves nothing else and where the hop costs
   * more than the copy).
   */
  directWrites?: boolean;
  /** Another backend for some exports (an image-backed node root); undefined leaves the export to the local backend. */
  backend?: (def: NfsExport) => Promise<ExportFs | undefined>;
}

/**
 * NFSv3 (RFC 1813) over local directory trees. The server runs as root and
 * acts for many users, so the procedures check AUTH_SYS permissions
 * themselves after squashing per export (credentials.ts) and act through
 * each export's `ExportFs` (export-fs.ts), which never follows a symlink for
 * the client and gives every object it creates to the squashed caller.
 * This class puts the pieces together: the export table and its handles
 * (export-table.ts), the procedures (*-procs.ts), the RPC adapter
 * (rpc-adapter.ts) and the local backend (local-fs.ts).
 */
export class NfsServer {
  /** Changes on every start and after a storage failure, so a client knows UNSTABLE writes before it may be lost. */
  readonly writeVerifier: Buffer;
  private readonly log: RateLimitedLog;
  private readonly maxIoTcp: number;
  private readonly maxIoUdp: number;
  private readonly local: LocalShared;
  private readonly native: typeof native;
  private readonly pool: BufferPool;
  private maxScan: number | undefined;
  private readonly backend: NfsServerOptions['backend'];

  private constructor(
    opts: NfsServerOptions,
    private readonly table: ExportTable,
  ) {
    this.writeVerifier = opts.writeVerifier ?? randomBytes(8);
    if (this.writeVerifier.length !== 8) throw new RangeError(`writeVerifier: 8 bytes, not ${this.writeVerifier.length}`);
    this.maxIoTcp = opts.maxIoTcp ?? 1024 * 1024;
    this.maxIoUdp = opts.maxIoUdp ?? 32 * 1024;
    const sink = opts.log ?? ((l) => console.error(l));
    // Error texts carry paths, which are any bytes a client chose.
    this.log = new RateLimitedLog((l) => sink(printable(l)));
    this.native = opts.portable ? undefined : native;
    if (!this.native) {
      const status = platformStatus();
      const why = opts.portable ? 'asked for' : status.mode === 'portable' ? status.why : 'native';
      sink(
        `nfs: portable mode (${why}): files are reached by path, not from descriptors beneath each export root, so on rw exports ` +
          'a client or local user who can rename inside an export can swap a directory for a symlink between a check and ' +
          'the call and redirect a change outside the export; SETATTR times are set to the microsecond, MKNOD makes only ' +
          'sockets (no devices or FIFOs), and a path including the export prefix is limited to 4096 bytes',
      );
    }
    this.local = new LocalShared(opts.attributeCacheMs ?? 1000, opts.directReadMax, opts.directWrites);
    this.maxScan = opts.maxScan;
    this.backend = opts.backend;
    this.pool = new BufferPool(READ_ROOM + this.maxIoTcp + 3);
  }

  static async create(opts: NfsServerOptions): Promise<NfsServer> {
    let server: NfsServer | undefined;
    const table = new ExportTable(opts.handleKey, (def) => server!.openExport(def));
    server = new NfsServer(opts, table);
    await table.setExports(opts.exports);
    return server;
  }

  private async openExport(def: NfsExport): Promise<ExportFs> {
    const other = await this.backend?.(def);
    if (other) return other;
    if (this.native) return LocalFs.open(def.id, def.path, new NativeIo(this.native, def.path), this.local, this.maxScan);
    return LocalFs.open(def.id, def.path, new PortableIo(def.path), this.local, this.maxScan);
  }

  /**
   * Replaces the export list (after the exports file changed). Exports that
   * keep their id keep their inode index; handles of a removed export go STALE.
   */
  async setExports(defs: NfsExport[], maxScan?: number): Promise<void> {
    if (maxScan !== undefined) this.maxScan = maxScan;
    await this.table.setExports(defs);
  }

  /** The handle of an export's root directory (what MOUNT returns), or undefined for a path not exported. */
  rootHandle(path: string): Buffer | undefined {
    return this.table.rootHandle(path);
  }

  /**
   * The handle of a directory below an export root (MOUNT of a
   * subdirectory), one component at a time: undefined for `..`, a missing
   * component, a symlink or a non-directory. `client`: the address granted
   * MOUNT, told to the export's backend first (ExportFs.mounted).
   */
  dirHandle(exportPath: string, subpath: Uint8Array | string | undefined, client?: string): Promise<Buffer | undefined> {
    return this.table.dirHandle(exportPath, subpath, client);
  }

  /**
   * Opens the file a handle names as a new open file description (read-write
   * where it can be), for the lock manager to hold a client's byte-range
   * locks on (OFD locks: one description per lock owner). Undefined for a
   * handle that names nothing here or a backend without local files.
   */
  async openForLock(fh: Buffer): Promise<number | undefined> {
    const found = await this.table.objectOf(fh).catch(() => undefined);
    if (!found?.fs.openForLock) return undefined;
    return found.fs.openForLock(found.obj);
  }

  /** Registers NFS v3 with an RPC server. */
  register(rpc: {
    register(prog: number, vers: number, procs: Record<number, ProcedureHandler>, opts?: { idempotent?: readonly number[] }): void;
  }): void {
    rpc.register(NFS_PROGRAM, NFS_V3, this.handlers(), { idempotent: IDEMPOTENT });
  }

  handlers(): Record<number, ProcedureHandler> {
    return nfsHandlers({
      table: this.table,
      log: this.log,
      maxIoTcp: this.maxIoTcp,
      maxIoUdp: this.maxIoUdp,
      pool: this.pool,
      writeVerifier: this.writeVerifier,
    });
  }

  close(): void {
    this.table.close();
    this.local.close();
  }
}
