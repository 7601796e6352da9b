import type { NfsExport, WorkerBackendContext } from '@netboot/nfs3';
import { NodeRoots } from './node-roots.js';
import type { NodeRootFs } from './node-root-fs.js';

/**
 * The NFS backend of image-backed node roots: an export that is a node's
 * root (DISKLESS_ROOT/IP of `add-node --image`) is served as its merged
 * root; others are left to the local backend. `netboot nfs` gives it to its
 * server, and by name (nfs3's WorkerBackend, a function a thread can
 * import) to each NFS worker thread.
 */
export async function nodeRootsBackend(stateDir: string, ctx: WorkerBackendContext): Promise<(def: NfsExport) => Promise<NodeRootFs | undefined>> {
  const { log } = ctx;
  const roots = new NodeRoots(stateDir, { directReadMax: ctx.directReadMax, directWrites: ctx.directWrites });
  return async (def) => {
    const fs = await roots.open(def.path);
    if (fs) log(`nfs: ${def.path} is an image-backed node root (${fs.describe()})`);
    return fs;
  };
}

/**
 * Which of `exports` are image-backed node roots, by path, each with its
 * node's address: the only client it is served to on worker threads
 * (nfs3's NfsServiceOptions.pinnedExports).
 */
export async function pinnedNodeRoots(stateDir: string, exports: readonly { path: string }[]): Promise<Map<string, string>> {
  const nodeOf = new Map((await new NodeRoots(stateDir).list()).map((r) => [r.root, r.ip]));
  const out = new Map<string, string>();
  for (const e of exports) {
    const ip = nodeOf.get(e.path);
    if (ip !== undefined) out.set(e.path, ip);
  }
  return out;
}
