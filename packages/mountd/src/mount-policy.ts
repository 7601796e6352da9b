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
