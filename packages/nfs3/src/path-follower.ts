import type { RpcCall } from '@netboot/oncrpc-xdr';
import { Proc } from './nfs3-constants.js';

/** Handles remembered per client while its path is looked for. */
const MAX_PATHS = 512;
const MAX_FH = 64;
const MAX_NAME = 255;
const MAX_LINK = 1024;
const LINK_HOPS = 8;
/** What `start` returns for a READ of the path's handle. */
const READ_OF_PATH = 1;

/** The handle of an fh3 at `at` (hex), and where it ends; undefined when the bytes are not one. */
function readFh(buf: Uint8Array, at: number, end: number): { hex: string; next: number } | undefined {
  if (at + 4 > end) return undefined;
  const len = u32(buf, at);
  if (len > MAX_FH || at + 4 + len > end) return undefined;
  return { hex: Buffer.from(buf.buffer, buf.byteOffset + at + 4, len).toString('hex'), next: at + 4 + ((len + 3) & ~3) };
}

function readString(buf: Uint8Array, at: number, end: number, max: number): string | undefined {
  if (at + 4 > end) return undefined;
  const len = u32(buf, at);
  if (len > max || at + 4 + len > end) return undefined;
  return Buffer.from(buf.buffer, buf.byteOffset + at + 4, len).toString('latin1');
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
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
 * Finds one client's first READ of a path in its export (a booting node's
 * init) from its calls alone: handles are followed from the export's root
 * through LOOKUP replies, symlinks through READLINK replies, and a READ of a
 * handle whose path, links resolved, is the path's is the one. A READ of any
 * other handle costs a comparison of its handle with the few known to be
 * the path's; LOOKUP and READLINK are decoded.
 */
export class PathFollower {
  /** Handle (hex) → absolute path in the export; symlinks' targets by path. */
  private readonly paths = new Map<string, string>();
  private readonly links = new Map<string, string>();
  /** The path with the links seen so far resolved, and the handles known to name it. */
  private target: string;
  private targetHandles: Buffer[] = [];

  constructor(readonly path: string) {
    this.target = resolveLinks(path, this.links);
  }

  /** Before the procedure runs (its arguments are valid only now): what `done` needs, or undefined when nothing. */
  start(call: RpcCall): unknown {
    const { buf, offset, end } = call.args;
    if (call.proc === Proc.READ) {
      if (this.targetHandles.length === 0 || offset + 4 > end) return undefined;
      const len = u32(buf, offset);
      if (len > MAX_FH || offset + 4 + len > end) return undefined;
      for (const h of this.targetHandles) if (h.length === len && h.compare(buf, offset + 4, offset + 4 + len) === 0) return READ_OF_PATH;
      return undefined;
    }
    if (call.proc !== Proc.LOOKUP && call.proc !== Proc.READLINK) return undefined;
    const fh = readFh(buf, offset, end);
    if (!fh) return undefined;
    if (call.proc === Proc.READLINK) return { fh: fh.hex };
    const name = readString(buf, fh.next, end, MAX_NAME);
    return name === undefined ? undefined : { fh: fh.hex, name };
  }

  /**
   * After a successful reply (`body`: the result, status first) to a call
   * `start` returned `started` for: true when it was the READ of the path.
   */
  done(proc: number, started: unknown, body: Uint8Array | undefined): boolean {
    if (proc === Proc.READ) return started === READ_OF_PATH;
    if (!body) return false;
    const arg = started as { fh: string; name?: string };
    if (proc === Proc.LOOKUP && arg.name !== undefined) {
      const obj = readFh(body, 4, body.length);
      // A directory handle not seen yet is the export's root: the kernel walks from there.
      const path = join(this.paths.get(arg.fh) ?? '/', arg.name);
      if (!obj || this.paths.get(obj.hex) === path || this.paths.size >= MAX_PATHS) return false;
      this.paths.set(obj.hex, path);
      if (path === this.target) this.targetHandles.push(Buffer.from(obj.hex, 'hex'));
    } else if (proc === Proc.READLINK) {
      const path = this.paths.get(arg.fh);
      if (path === undefined || body.length < 8) return false;
      const attrs = u32(body, 4) === 1 ? 84 : 0;
      const link = readString(body, 8 + attrs, body.length, MAX_LINK);
      if (link === undefined || this.links.get(path) === link || this.links.size >= MAX_PATHS) return false;
      this.links.set(path, link);
      this.target = resolveLinks(this.path, this.links);
      this.targetHandles = [];
      for (const [hex, p] of this.paths) if (p === this.target) this.targetHandles.push(Buffer.from(hex, 'hex'));
    }
    return false;
  }
}
