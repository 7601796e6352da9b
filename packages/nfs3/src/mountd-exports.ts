import { createHash } from 'node:crypto';
import { type Export, type ExportOptions, matchClient, needsHostnames, resolveClientNames } from '@netboot/mountd';
import type { NfsExport } from './export-table.js';

/**
 * The export id carried in handles: `fsid=` when it is a number, else a hash
 * of the fsid UUID or of the path, so it stays the same across restarts.
 */
export function exportId(exp: Export, options: ExportOptions | undefined): number {
  const fsid = options?.fsid;
  if (typeof fsid === 'number') return fsid >>> 0;
  return createHash('sha256').update(fsid ?? exp.path).digest().readUInt32BE(0);
}

const NAME_TTL_MS = 60_000;

/** Adapts mountd's exports to the NFS server, resolving client host names when an export names hosts. */
export function nfsExports(exports: Export[]): NfsExport[] {
  const names = new Map<string, { at: number; names: Promise<string[]> }>();
  const namesOf = (address: string) => {
    const hit = names.get(address);
    if (hit && Date.now() - hit.at < NAME_TTL_MS) return hit.names;
    const n = resolveClientNames(address, exports);
    names.set(address, { at: Date.now(), names: n });
    if (names.size > 4096) names.delete(names.keys().next().value!);
    return n;
  };
  return exports.map((exp) => ({
    id: exportId(exp, exp.clients[0]?.options),
    path: exp.path,
    optionsFor: (address: string) =>
      needsHostnames(exp)
        ? namesOf(address).then((n) => matchClient(exp, address, n))
        : matchClient(exp, address),
  }));
}
