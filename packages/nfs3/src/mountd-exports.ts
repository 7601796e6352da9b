import { createHash } from 'node:crypto';
import { type Export, type ExportOptions, matchClient, needsHostnames, resolveClientNames } from '@netboot/mountd';
import { BoundedMap } from './bounded-map.js';
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
/** Client addresses whose answers are kept (host names resolved, or an export's options). */
const ADDRESSES_KEPT = 4096;

/** Adapts mountd's exports to the NFS server, resolving client host names when an export names hosts. */
export function nfsExports(exports: Export[]): NfsExport[] {
  const names = new BoundedMap<string, { at: number; names: Promise<string[]> }>(ADDRESSES_KEPT);
  const namesOf = (address: string) => {
    const hit = names.get(address);
    if (hit && Date.now() - hit.at < NAME_TTL_MS) return hit.names;
    const n = resolveClientNames(address, exports);
    names.set(address, { at: Date.now(), names: n });
    return n;
  };
  return exports.map((exp) => {
    if (needsHostnames(exp)) {
      return { id: exportId(exp, exp.clients[0]?.options), path: exp.path, optionsFor: (address: string) => namesOf(address).then((n) => matchClient(exp, address, n)) };
    }
    // Matching by address alone never changes for this export list (a new one makes new functions): every call
    // asks, so the answer is kept per address instead of walking the client list each time.
    const matched = new BoundedMap<string, { options: ExportOptions | undefined }>(ADDRESSES_KEPT);
    return {
      id: exportId(exp, exp.clients[0]?.options),
      path: exp.path,
      optionsFor: (address: string) => {
        let m = matched.get(address);
        if (!m) matched.set(address, (m = { options: matchClient(exp, address) }));
        return m.options;
      },
    };
  });
}
