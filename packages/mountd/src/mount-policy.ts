import { posix } from 'node:path';
import type { ExportOptions } from './export-options.js';
import type { Export } from './exports-parser.js';
import { matchClientSpec } from './match-client.js';
import { MountStat } from './mount-wire.js';

/** Who asks to mount what. */
export interface MountRequest {
  path: string;
  address: string;
  port: number;
  /** The client's verified host names, if any export involved needs them. */
  hostnames?: readonly string[];
}

export type MountDecision =
  | { granted: true; export: Export; options: ExportOptions; path: string; /** '' for the export itself, else relative (`a/b`). */ subpath: string }
  | { granted: false; status: Exclude<MountStat, 0>; why: string };

/** A client path made absolute and canonical, or undefined if it can't name a directory. */
export function normalizeMountPath(path: string): string | undefined {
  if (!path.startsWith('/') || path.includes('\0')) return undefined;
  return posix.normalize(path).replace(/(.)\/$/, '$1');
}

/**
 * The components of a directory below `exportPath` in a client's path as
 * bytes, normalized as normalizeMountPath normalizes the text (empty and `.`
 * components dropped, `..` taking the one before): decoding with
 * replacement characters changes no `/` or `.`, so these are the same
 * components, byte for byte, as the decided `subpath`.
 */
export function subpathBytes(raw: Uint8Array, exportPath: string): Buffer {
  const components = (b: Uint8Array): Buffer[] => {
    const out: Buffer[] = [];
    const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    let start = 0;
    for (let i = 0; i <= buf.length; i++) {
      if (i < buf.length && buf[i] !== 0x2f) continue;
      const c = buf.subarray(start, i);
      start = i + 1;
      if (c.length === 0 || (c.length === 1 && c[0] === 0x2e)) continue;
      if (c.length === 2 && c[0] === 0x2e && c[1] === 0x2e) out.pop();
      else out.push(c);
    }
    return out;
  };
  const below = components(raw).slice(components(Buffer.from(exportPath, 'utf8')).length);
  return Buffer.concat(below.flatMap((c, i) => (i ? [SLASH, c] : [c])));
}

const SLASH = Buffer.from('/');

/** The exports that contain `path` (itself or a directory above it), the deepest first. */
export function exportsContaining(exports: readonly Export[], path: string): Export[] {
  return exports
    .filter((e) => path === e.path || path.startsWith(e.path === '/' ? '/' : `${e.path}/`))
    .sort((a, b) => b.path.length - a.path.length);
}

/**
 * The MNT decision of nfs-utils' mountd, without I/O: a path is served by
 * the deepest export that contains it and lists the client; a path no export
 * contains is NOENT; a client no containing export lists is ACCES, and so is
 * a `secure` export asked from a port at or above 1024. Whether the directory
 * exists is for the handle lookup to say.
 */
export function decideMount(exports: readonly Export[], req: MountRequest): MountDecision {
  const path = normalizeMountPath(req.path);
  if (path === undefined) return { granted: false, status: MountStat.NOENT, why: 'not an absolute path' };
  const candidates = exportsContaining(exports, path);
  if (candidates.length === 0) return { granted: false, status: MountStat.NOENT, why: 'not exported' };
  for (const exp of candidates) {
    const spec = matchClientSpec(exp, req.address, req.hostnames);
    if (!spec) continue;
    if (spec.options.secure && req.port >= 1024) {
      return {
        granted: false,
        status: MountStat.ACCES,
        why: `source port ${req.port} is not below 1024 and ${exp.path} is exported secure (add insecure to ${spec.text}'s options to allow it)`,
      };
    }
    const subpath = path === exp.path ? '' : path.slice(exp.path === '/' ? 1 : exp.path.length + 1);
    return { granted: true, export: exp, options: spec.options, path, subpath };
  }
  return { granted: false, status: MountStat.ACCES, why: `client not listed for ${candidates.map((e) => e.path).join(', ')}` };
}
