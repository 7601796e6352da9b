import { readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bytesText, printable } from '@netboot/log-text';
import { AuthFlavor, encode, type RpcCall, type RpcResult, type RpcServer } from '@netboot/oncrpc-xdr';
import { resolveClientNames } from './client-names.js';
import type { Export } from './exports-parser.js';
import { needsHostnames } from './match-client.js';
import { decideMount, exportsContaining, normalizeMountPath, subpathBytes, type MountDecision } from './mount-policy.js';
import { MountTable } from './mount-table.js';
import {
  dirpath,
  dirpathBytes,
  exportList,
  FHSIZE,
  fhStatus,
  MOUNT_PROGRAM,
  MOUNT_V1,
  MOUNT_V3,
  MountProc,
  MountStat,
  mountList,
  mountResult3,
  type ExportEntry,
  type MountEntry,
} from './mount-wire.js';

export interface MountdOptions {
  exports: Export[];
  /**
   * The NFS file handle of a directory in an export, from packages/nfs3.
   * `subpath` is undefined for the export's own directory; with
   * `subdirectoryMounts` it is the bytes of a relative path inside the
   * export (`a/b`, already normalized, never `..`; names need not be UTF-8).
   * Undefined means there is no such directory (the client gets MNT3ERR_NOENT).
   * `client`: the address being granted the mount (a node's boot, for an
   * export whose root follows it).
   */
  rootHandle: (exp: Export, subpath: Buffer | undefined, client: string) => Promise<Buffer | undefined>;
  /**
   * Allow MNT of a directory below an export, as nfs-utils does. Off unless
   * the rootHandle callback resolves `subpath`: a callback that ignored it
   * would hand out the export's root for a subdirectory.
   */
  subdirectoryMounts?: boolean;
  /** Where the mount list (rmtab) is kept across restarts; without it the list lives in memory. */
  stateDir?: string;
  /** One line per mount, unmount and refusal. */
  log?: (line: string) => void;
  /** The client's verified host names, for named-host and wildcard specs (default: DNS/hosts lookups, 2 s each). */
  hostnames?: (address: string, exports: readonly Export[]) => Promise<string[]>;
  /** Told of each MNT decided and each UMNT (boot monitoring). */
  onMount?: (e: MountdEvent) => void;
}

/** One MNT or UMNT as boot monitoring sees it. */
export interface MountdEvent {
  op: 'MNT' | 'UMNT';
  address: string;
  path: string;
  /** MOUNT version: 1 is what an NFSv2 client speaks. */
  version: number;
  granted: boolean;
  /** Why a MNT was refused. */
  why?: string;
  /** The exports line that served or refused it (`file:line`), when an export contains the path. */
  exportsLine?: string;
}

const RMTAB = 'rmtab';
/** How long a client's resolved names are reused, and how many clients are remembered. */
const NAMES_TTL_MS = 60_000;
const NAMES_CACHED = 4096;

function ok(body: Buffer[] = []): RpcResult {
  return { stat: 0, body };
}

/**
 * The MOUNT v1/v3 server (program 100005). MNT decisions come from
 * decideMount; this class adds the handle lookup, the mount list kept in
 * `stateDir/rmtab`, and the log. Register it on an RpcServer, which serves
 * it over UDP and TCP.
 */
export class Mountd {
  private exports: Export[];
  private readonly table: MountTable;
  private readonly log: (line: string) => void;
  private writes: Promise<void> = Promise.resolve();
  private writeError: Error | undefined;
  private readonly names = new Map<string, { at: number; names: Promise<string[]> }>();

  constructor(private readonly opts: MountdOptions) {
    this.exports = opts.exports;
    const sink = opts.log ?? ((l) => console.error(l));
    this.log = (line) => sink(printable(line));
    this.table = opts.stateDir ? loadTable(join(opts.stateDir, RMTAB), this.log) : new MountTable();
  }

  /** Serves MOUNT versions 1 and 3 on `server`. */
  register(server: RpcServer): void {
    for (const vers of [MOUNT_V1, MOUNT_V3]) {
      server.register(MOUNT_PROGRAM, vers, {
        [MountProc.NULL]: () => ok(),
        [MountProc.MNT]: (call) => this.mnt(call),
        [MountProc.DUMP]: () => ok([encode(mountList, this.table.list())]),
        [MountProc.UMNT]: (call) => this.umnt(call),
        [MountProc.UMNTALL]: (call) => this.umntall(call),
        [MountProc.EXPORT]: () => ok([encode(exportList, this.exportEntries())]),
      });
    }
  }

  /** Replaces the exports (e.g. after the exports file changed); the mount list is kept. */
  setExports(exports: Export[]): void {
    this.exports = exports;
    this.names.clear();
  }

  /** What DUMP answers: every recorded mount, client address and directory. */
  mountList(): MountEntry[] {
    return this.table.list();
  }

  /** What EXPORT answers: each exported path with its client specs as written. */
  exportEntries(): ExportEntry[] {
    return this.exports.map((e) => ({ dir: e.path, groups: e.clients.map((c) => c.text) }));
  }

  /** Resolves once the mount list is on disk; rejects if the last write failed. */
  async flush(): Promise<void> {
    await this.writes;
    if (this.writeError) throw this.writeError;
  }

  /** The MNT decision and handle for a client, as the MNT procedure computes it (without logging or recording). */
  async decide(path: string, address: string, port: number, raw: Buffer = Buffer.from(path, 'utf8')): Promise<MountDecision & { fhandle?: Buffer }> {
    const normalized = normalizeMountPath(path);
    const candidates = normalized === undefined ? [] : exportsContaining(this.exports, normalized);
    const hostnames = candidates.some(needsHostnames) ? await this.hostnamesOf(address) : [];
    const d = decideMount(this.exports, { path, address, port, hostnames });
    if (!d.granted) return d;
    if (d.subpath !== '' && !this.opts.subdirectoryMounts) {
      return { granted: false, status: MountStat.NOENT, why: `${d.path} is inside export ${d.export.path}, and mounting subdirectories is off` };
    }
    const fhandle = await this.opts.rootHandle(d.export, d.subpath === '' ? undefined : subpathBytes(raw, d.export.path), address);
    if (!fhandle) return { granted: false, status: MountStat.NOENT, why: `no directory ${d.path}` };
    return { ...d, fhandle };
  }

  /** The client's names, looked up at most once a minute per client (a node retrying MNT must not flood DNS). */
  private hostnamesOf(address: string): Promise<string[]> {
    const now = Date.now();
    const hit = this.names.get(address);
    if (hit && now - hit.at < NAMES_TTL_MS) return hit.names;
    const names = (this.opts.hostnames ?? resolveClientNames)(address, this.exports).catch(() => []);
    this.names.delete(address);
    this.names.set(address, { at: now, names });
    if (this.names.size > NAMES_CACHED) this.names.delete(this.names.keys().next().value!);
    return names;
  }

  private async mnt(call: RpcCall): Promise<RpcResult> {
    const raw = dirpathBytes.read(call.args);
    const path = raw.toString('utf8');
    const shown = bytesText(raw);
    const { address, port } = call.remote;
    const from = `${address}:${port}`;
    let d: Awaited<ReturnType<Mountd['decide']>>;
    try {
      d = await this.decide(path, address, port, raw);
    } catch (e) {
      this.log(`mount request from ${from} for ${shown}: refused (handle lookup failed: ${(e as Error).message})`);
      return call.vers === MOUNT_V1 ? ok([encode(fhStatus, { status: MountStat.SERVERFAULT })]) : ok([encode(mountResult3, { status: MountStat.SERVERFAULT })]);
    }
    if (d.granted && call.vers === MOUNT_V1 && d.fhandle!.length > FHSIZE) {
      d = { granted: false, status: MountStat.NOTSUPP, why: `the file handle is ${d.fhandle!.length} bytes; MOUNT v1 carries ${FHSIZE} (mount with NFS version 3)` };
    }
    if (!d.granted) {
      this.log(`mount request from ${from} for ${shown}: refused (${d.why})`);
      if (this.opts.onMount) {
        const normalized = normalizeMountPath(path);
        const exp = normalized === undefined ? undefined : exportsContaining(this.exports, normalized)[0];
        const exportsLine = exp ? `${exp.source.file}:${exp.source.line}` : undefined;
        this.opts.onMount({ op: 'MNT', address, path, version: call.vers, granted: false, why: d.why, exportsLine });
      }
      return call.vers === MOUNT_V1 ? ok([encode(fhStatus, { status: d.status })]) : ok([encode(mountResult3, { status: d.status })]);
    }
    this.log(`mount request from ${from} for ${shown}: granted (${d.options.rw ? 'rw' : 'ro'}, export ${d.export.path})`);
    if (this.table.add(address, d.path)) this.save();
    this.opts.onMount?.({ op: 'MNT', address, path, version: call.vers, granted: true, exportsLine: `${d.export.source.file}:${d.export.source.line}` });
    if (call.vers === MOUNT_V1) {
      // A v1 handle is fixed at 32 bytes: shorter NFS handles are padded with zeros.
      const fixed = Buffer.alloc(FHSIZE);
      fixed.set(d.fhandle!);
      return ok([encode(fhStatus, { status: 0, fhandle: fixed })]);
    }
    return ok([encode(mountResult3, { status: MountStat.OK, fhandle: d.fhandle!, authFlavors: [AuthFlavor.AUTH_SYS] })]);
  }

  private umnt(call: RpcCall): RpcResult {
    const path = dirpath.read(call.args);
    const { address, port } = call.remote;
    const removed = this.table.remove(address, normalizeMountPath(path) ?? path);
    this.log(`unmount request from ${address}:${port} for ${path}: ${removed ? 'removed' : 'was not mounted'}`);
    if (removed) this.save();
    this.opts.onMount?.({ op: 'UMNT', address, path, version: call.vers, granted: true });
    return ok();
  }

  private umntall(call: RpcCall): RpcResult {
    const { address, port } = call.remote;
    const n = this.table.removeHost(address);
    this.log(`unmount-all request from ${address}:${port}: ${n} mount${n === 1 ? '' : 's'} removed`);
    if (n > 0) this.save();
    return ok();
  }

  /** Writes the mount list (atomically: a temporary file renamed over rmtab), one write after another. */
  private save(): void {
    const dir = this.opts.stateDir;
    if (!dir) return;
    const text = this.table.toText();
    this.writes = this.writes.then(async () => {
      try {
        await mkdir(dir, { recursive: true });
        const tmp = join(dir, `${RMTAB}.tmp`);
        await writeFile(tmp, text);
        await rename(tmp, join(dir, RMTAB));
        this.writeError = undefined;
      } catch (e) {
        this.writeError = e as Error;
        this.log(`cannot save the mount list in ${dir}: ${(e as Error).message}`);
      }
    });
  }
}

function loadTable(file: string, log: (l: string) => void): MountTable {
  try {
    return MountTable.fromText(readFileSync(file, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') log(`cannot read the mount list ${file}: ${(e as Error).message}; starting empty`);
    return new MountTable();
  }
}
