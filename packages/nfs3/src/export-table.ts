import type { RpcCall } from '@netboot/oncrpc-xdr';
import { type AccessOptions, type Caller, squash } from './credentials.js';
import { NfsError } from './errno-status.js';
import { type ExportFs, type FsObject, isDir } from './export-fs.js';
import { HandleCodec, type HandleId } from './file-handle.js';
import { NAME_MAX, NfsStat, type NfsErrorStatus } from './nfs3-constants.js';

/** One exported directory as the NFS server needs it. */
export interface NfsExport {
  /** Carried in every handle and reported as fsid: must stay the same across restarts. */
  id: number;
  /** Absolute path of the exported directory. */
  path: string;
  /** The options for a client address, or undefined when the export does not list that client. */
  optionsFor(address: string): AccessOptions | undefined | Promise<AccessOptions | undefined>;
}

export interface ExportEntry {
  readonly def: NfsExport;
  readonly fs: ExportFs;
  /** The root's handle (what MOUNT returns). */
  rootHandle: Buffer;
}

/** The object a handle names, the export it is in and who is asking: what every procedure starts from. */
export interface Target {
  exp: ExportEntry;
  fs: ExportFs;
  opts: AccessOptions;
  caller: Caller;
  obj: FsObject;
}

/** Logs a refusal an admin should see and returns the error to throw. */
export type Refuse = (status: NfsErrorStatus, detail: string, body?: object) => NfsError;

/**
 * The exports by id and the signed handles naming their objects. A handle
 * is export id | fileid | generation | MAC (file-handle.ts): the backend's
 * identity of an object, never a path.
 */
export class ExportTable {
  private readonly handles: HandleCodec;
  private readonly byId = new Map<number, ExportEntry>();

  constructor(
    handleKey: Buffer,
    private readonly open: (def: NfsExport) => ExportFs | Promise<ExportFs>,
  ) {
    this.handles = new HandleCodec(handleKey);
  }

  /**
   * Replaces the export list (after the exports file changed). Exports that
   * keep their id and path keep their backend (and its inode index); handles
   * of a removed export go STALE.
   */
  async setExports(defs: NfsExport[]): Promise<void> {
    const next = new Map<number, ExportEntry>();
    for (const def of defs) {
      if (next.has(def.id)) throw new Error(`two exports share the id ${def.id} (${def.path}): give one an explicit fsid=`);
      const old = this.byId.get(def.id);
      if (old && old.def.path === def.path) {
        next.set(def.id, { ...old, def });
        continue;
      }
      const fs = await this.open(def);
      next.set(def.id, { def, fs, rootHandle: this.handleOf(def.id, await fs.root()) });
    }
    for (const [id, e] of this.byId) if (next.get(id)?.fs !== e.fs) e.fs.close();
    this.byId.clear();
    for (const [id, e] of next) this.byId.set(id, e);
    for (const e of this.byId.values()) e.fs.forgetCached();
  }

  handleOf(exportId: number, obj: FsObject): Buffer {
    return this.handles.encode({ exportId, ino: obj.fileid, birth: obj.generation });
  }

  /** The handles of several objects of one export, signed together (READDIRPLUS). */
  handlesOf(exportId: number, objs: readonly FsObject[]): Buffer[] {
    // Built by push, as handleOf's one-element array is: both then have one elements kind, so the codec's
    // optimised code is not thrown away ("wrong map") the first time the other kind reaches it.
    const ids: HandleId[] = [];
    for (const o of objs) ids.push({ exportId, ino: o.fileid, birth: o.generation });
    return this.handles.encodeMany(ids);
  }

  /** Resolves a handle for a call: BADHANDLE, STALE, or a refusal for a client the export does not list. */
  async target(call: RpcCall, fh: Buffer, refuse: Refuse): Promise<Target> {
    const id = this.handles.decode(fh);
    if (!id) throw refuse(NfsStat.BADHANDLE, 'not a handle of this server');
    const exp = this.byId.get(id.exportId);
    if (!exp) throw refuse(NfsStat.STALE, `export ${id.exportId} is no longer exported`);
    const opts = await exp.def.optionsFor(call.remote.address);
    if (!opts) throw refuse(NfsStat.ACCES, `${call.remote.address} is not a client of ${exp.def.path}`);
    // As Linux nfsd: a `secure` export answers calls from unprivileged ports with NFS3ERR_PERM.
    if (opts.secure && call.remote.port >= 1024) throw refuse(NfsStat.PERM, 'request from an insecure port');
    const caller = squash(call.cred, opts);
    const obj = await exp.fs.resolve(id.ino, id.birth);
    return { exp, fs: exp.fs, opts, caller, obj };
  }

  /**
   * target() answered at once, when the export's options for the client are known and its backend
   * resolves the handle without waiting (resolveNow); undefined for anything else, a call target()
   * would refuse included: target() then answers, or refuses with the reason logged.
   */
  targetNow(call: RpcCall, fh: Buffer): Target | undefined {
    const id = this.handles.decode(fh);
    const exp = id && this.byId.get(id.exportId);
    if (!id || !exp?.fs.resolveNow) return undefined;
    const opts = exp.def.optionsFor(call.remote.address);
    if (!opts || typeof (opts as Promise<unknown>).then === 'function') return undefined;
    const o = opts as AccessOptions;
    if (o.secure && call.remote.port >= 1024) return undefined;
    const obj = exp.fs.resolveNow(id.ino, id.birth);
    return obj && { exp, fs: exp.fs, opts: o, caller: squash(call.cred, o), obj };
  }

  /**
   * The object a handle names and its export's backend, with no caller to
   * authorise (the lock manager's use: the client was authorised when it got
   * the handle); undefined for a handle not of this server or export.
   */
  async objectOf(fh: Buffer): Promise<{ fs: ExportFs; obj: FsObject } | undefined> {
    const id = this.handles.decode(fh);
    const exp = id && this.byId.get(id.exportId);
    if (!id || !exp) return undefined;
    return { fs: exp.fs, obj: await exp.fs.resolve(id.ino, id.birth) };
  }

  /** The handle of an export's root directory (what MOUNT returns), or undefined for a path not exported. */
  rootHandle(path: string): Buffer | undefined {
    for (const e of this.byId.values()) if (e.def.path === path) return e.rootHandle;
    return undefined;
  }

  /**
   * The handle of a directory below an export root (MOUNT of a
   * subdirectory), looked up one component at a time: undefined for `..`,
   * a missing component, a symlink or a non-directory.
   */
  async dirHandle(exportPath: string, subpath: Uint8Array | string | undefined, client?: string): Promise<Buffer | undefined> {
    const e = [...this.byId.values()].find((x) => x.def.path === exportPath);
    if (!e) return undefined;
    if (client !== undefined && e.fs.mounted && (await e.fs.mounted(client))) e.rootHandle = this.handleOf(e.def.id, await e.fs.root());
    if (!subpath?.length) return e.rootHandle;
    const bytes = typeof subpath === 'string' ? Buffer.from(subpath, 'utf8') : Buffer.from(subpath.buffer, subpath.byteOffset, subpath.byteLength);
    let at = await e.fs.root();
    for (const name of splitBytes(bytes)) {
      if (name.length === 0 || (name.length === 1 && name[0] === 0x2e)) continue;
      if ((name.length === 2 && name[0] === 0x2e && name[1] === 0x2e) || name.length > NAME_MAX || name.includes(0)) return undefined;
      const next = await e.fs.lookup(at, name).catch(() => undefined);
      if (!next || !isDir(next.attrs)) return undefined;
      at = next;
    }
    return this.handleOf(e.def.id, at);
  }

  forgetCached(): void {
    for (const e of this.byId.values()) e.fs.forgetCached();
  }

  close(): void {
    for (const e of this.byId.values()) e.fs.close();
  }
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
