import type { BootEvent } from '@netboot/boot-events';
import { NfsStat, Proc, type NfsCallObserver } from '@netboot/nfs3';
import type { RpcCall } from '@netboot/oncrpc-xdr';
import { nfsProcName, nfsStatusName, type NfsOpStats } from './nfs-op-stats.js';

/** Clients followed at once; the one heard from least recently is forgotten past this. */
const MAX_CLIENTS = 4096;
/** Handles remembered per client while its init is looked for. */
const MAX_PATHS = 512;
/** An `active` event per client at most this often. */
const ACTIVE_EVERY_MS = 1000;
/** An `error` event per client at most this often (the counters count every one). */
const ERROR_EVERY_MS = 1000;
const MAX_FH = 64;
const MAX_NAME = 255;
const MAX_LINK = 1024;
const LINK_HOPS = 8;

/** Statuses that are part of normal work (a LOOKUP probing a missing name) and are not reported as errors. */
const ROUTINE = new Set<number>([NfsStat.OK, NfsStat.NOENT, NfsStat.EXIST, NfsStat.NOTEMPTY, NfsStat.NOTDIR, NfsStat.ISDIR, NfsStat.INVAL]);

interface Client {
  firstCallSeen: boolean;
  initPath: string;
  /** Until the init is read: handle (hex) → absolute path in the export, and symlinks' targets by path. */
  paths: Map<string, string> | undefined;
  links: Map<string, string> | undefined;
  lastActive: number;
  lastError: number;
}

/** The handle of an fh3 at `at` (hex), and where it ends; undefined when the bytes are not one. */
function readFh(buf: Buffer, at: number, end: number): { hex: string; next: number } | undefined {
  if (at + 4 > end) return undefined;
  const len = buf.readUInt32BE(at);
  if (len > MAX_FH || at + 4 + len > end) return undefined;
  return { hex: buf.toString('hex', at + 4, at + 4 + len), next: at + 4 + ((len + 3) & ~3) };
}

function readString(buf: Buffer, at: number, end: number, max: number): string | undefined {
  if (at + 4 > end) return undefined;
  const len = buf.readUInt32BE(at);
  if (len > max || at + 4 + len > end) return undefined;
  return buf.toString('latin1', at + 4, at + 4 + len);
}

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/** `name` in directory `dir`, both absolute; `..` and `.` resolved. */
function join(dir: string, name: string): string {
  if (name === '.') return dir;
  if (name === '..') return dir.slice(0, Math.max(0, dir.lastIndexOf('/'))) || '/';
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** An absolute path with its symlinks (as seen so far) resolved, component by component. */
function resolveLinks(path: string, links: Map<string, string>): string {
  let out = '/';
  const parts = path.split('/').filter((p) => p !== '');
  let hops = 0;
  for (let i = 0; i < parts.length; i++) {
    out = join(out, parts[i]);
    const target = links.get(out);
    if (target !== undefined && hops++ < LINK_HOPS) {
      const base = target.startsWith('/') ? '/' : join(out, '..');
      const rest = target.split('/').filter((p) => p !== '');
      parts.splice(i + 1, 0, ...rest);
      out = base;
    }
  }
  return out;
}

/**
 * Watches NFS calls for what a boot needs: a node's first call after it
 * mounted, the first READ of its init (handles followed through LOOKUP and
 * READLINK replies, from the export's root, until then only), that it is
 * still active, and its errors. Every call is counted in `stats`.
 */
export class NfsEvents implements NfsCallObserver {
  /** What start and follow read: handles and names, replies that name handles and link targets. */
  readonly readsBytesOf = [Proc.LOOKUP, Proc.READ, Proc.READLINK];
  private readonly clients = new Map<string, Client>();
  private now = Date.now();
  private readonly clock: NodeJS.Timeout;

  constructor(
    private readonly emit: (e: BootEvent) => void,
    private readonly stats: NfsOpStats,
    private readonly initPathOf: (ip: string) => string,
  ) {
    // A coarse clock for the per-call checks: no Date.now() per call.
    this.clock = setInterval(() => (this.now = Date.now()), 250);
    this.clock.unref();
  }

  close(): void {
    clearInterval(this.clock);
  }

  /** MOUNT granted: the node's next calls are a new boot's. */
  mounted(ip: string): void {
    this.clients.delete(ip);
    this.client(ip, true);
  }

  /** A client's record; one first seen without a MOUNT (running before netboot started) is not followed for its init. */
  private client(ip: string, mounting = false): Client {
    let c = this.clients.get(ip);
    if (c) return c;
    if (this.clients.size >= MAX_CLIENTS) this.clients.delete(this.clients.keys().next().value!);
    const paths = mounting ? new Map<string, string>() : undefined;
    const links = mounting ? new Map<string, string>() : undefined;
    c = { firstCallSeen: false, initPath: this.initPathOf(ip), paths, links, lastActive: 0, lastError: 0 };
    this.clients.set(ip, c);
    return c;
  }

  start(call: RpcCall): unknown {
    if (call.proc !== Proc.LOOKUP && call.proc !== Proc.READ && call.proc !== Proc.READLINK) return undefined;
    const c = this.clients.get(plain(call.remote.address));
    if (!c?.paths) return undefined;
    const { buf, offset, end } = call.args;
    const fh = readFh(buf, offset, end);
    if (!fh) return undefined;
    if (call.proc !== Proc.LOOKUP) return { fh: fh.hex };
    const name = readString(buf, fh.next, end, MAX_NAME);
    return name === undefined ? undefined : { fh: fh.hex, name };
  }

  done(call: RpcCall, status: number, body: Uint8Array | undefined, ms: number, started: unknown): void {
    this.stats.record(call.proc, status, ms);
    const ip = plain(call.remote.address);
    const c = this.client(ip);
    const at = this.now;
    // Events carry the exact time (they are rare); the coarse clock only paces them.
    if (!c.firstCallSeen) {
      c.firstCallSeen = true;
      this.emit({ kind: 'nfs', at: Date.now(), ip, what: 'first-call', proc: nfsProcName(call.proc) });
    }
    if (!ROUTINE.has(status) && at - c.lastError >= ERROR_EVERY_MS) {
      c.lastError = at;
      this.emit({ kind: 'nfs', at: Date.now(), ip, what: 'error', proc: nfsProcName(call.proc), status: nfsStatusName(status) });
    }
    if (c.paths && started && status === 0 && body) this.follow(c, ip, call.proc, started as { fh: string; name?: string }, asBuffer(body), at);
    if (at - c.lastActive >= ACTIVE_EVERY_MS) {
      c.lastActive = at;
      if (!c.paths) this.emit({ kind: 'nfs', at: Date.now(), ip, what: 'active' });
    }
  }

  /** Learns paths from LOOKUP and READLINK replies; a READ of the init's handle is the init read. */
  private follow(c: Client, ip: string, proc: number, arg: { fh: string; name?: string }, body: Buffer, at: number): void {
    const paths = c.paths!;
    const links = c.links!;
    if (proc === Proc.LOOKUP && arg.name !== undefined) {
      const obj = readFh(body, 4, body.length);
      // A directory handle not seen yet is the export's root: the kernel walks from there.
      const dir = paths.get(arg.fh) ?? '/';
      if (obj && paths.size < MAX_PATHS) paths.set(obj.hex, join(dir, arg.name));
    } else if (proc === Proc.READLINK) {
      const path = paths.get(arg.fh);
      if (path === undefined || body.length < 8) return;
      const attrs = body.readUInt32BE(4) === 1 ? 84 : 0;
      const target = readString(body, 8 + attrs, body.length, MAX_LINK);
      if (target !== undefined && links.size < MAX_PATHS) links.set(path, target);
    } else if (proc === Proc.READ) {
      const path = paths.get(arg.fh);
      if (path === undefined || path !== resolveLinks(c.initPath, links)) return;
      c.paths = undefined;
      c.links = undefined;
      c.lastActive = at;
      this.emit({ kind: 'nfs', at: Date.now(), ip, what: 'init-read', path: c.initPath });
    }
  }
}

function plain(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
