import { createNfsService, MOUNTD_PORT, NFS_PORT, type NfsServiceOptions } from '@netboot/nfs3';
import { startLockDaemon, type LockDaemon } from '@netboot/nlm';
import { nodeRootsBackend, pinnedNodeRoots } from '@netboot/image-store';
import { availableParallelism } from 'node:os';
import { intFlag, portFlag } from '../command.js';
import type { Log, RunningService } from './running-service.js';

export interface NfsSettings {
  exportsFile: string;
  listen?: string;
  nfsPort?: string;
  mountdPort?: string;
  portmapPort?: string;
  /** NLM and NSM port (default: one the kernel picks). */
  nlmPort?: string;
  /** Serve without NLM/NSM: clients must then mount with `nolock`. */
  noLock?: boolean;
  stateDir: string;
  /** --handle-key: a handle key shared with other servers of the same tree. */
  handleKey?: string;
  /** Where images and image-backed nodes live (add-node --image): their exports are served as merged roots. */
  imageStateDir?: string;
  /** --nfs-workers: threads serving NFS over TCP (default: the number of cores, at most 16; 1 serves on the main thread). */
  nfsWorkers?: string;
}

/**
 * The default NFS thread count is one per core up to this many: each thread
 * holds its own heap, caches and read buffers (tens of MB), so a large
 * machine does not take a thread per core unasked.
 */
const DEFAULT_NFS_WORKERS_MAX = 16;

/** Boot monitoring's callbacks (netboot serve --status-port). */
export interface NfsHooks {
  observer: NfsServiceOptions['observer'];
  onMount: NfsServiceOptions['onMount'];
  onPeerRestarted?: (name: string, address: string) => void;
}

/** portmap (unless one already answers), mountd, NFS and, unless turned off, NLM/NSM locking, from an exports file. */
export async function startNfs(s: NfsSettings, log: Log, hooks?: NfsHooks): Promise<RunningService> {
  const nlmPort = portFlag(s.nlmPort, '--nlm-port', 0);
  const imageStateDir = s.imageStateDir;
  const workers = intFlag(s.nfsWorkers, '--nfs-workers', Math.min(DEFAULT_NFS_WORKERS_MAX, availableParallelism()), 1, 64);
  const service = await createNfsService({
    exportsFile: s.exportsFile,
    listen: s.listen,
    nfsPort: portFlag(s.nfsPort, '--nfs-port', NFS_PORT),
    mountdPort: portFlag(s.mountdPort, '--mountd-port', MOUNTD_PORT),
    portmapPort: portFlag(s.portmapPort, '--portmap-port', 111),
    stateDir: s.stateDir,
    handleKeyFile: s.handleKey,
    log,
    observer: hooks?.observer,
    onMount: hooks?.onMount,
    backend: imageStateDir ? await nodeRootsBackend(imageStateDir, { log }) : undefined,
    // Each node's root on the NFS worker of its address, which loads the same backend by name.
    pinnedExports: imageStateDir ? (exports) => pinnedNodeRoots(imageStateDir, exports) : undefined,
    workerBackend: imageStateDir ? { module: import.meta.resolve('@netboot/image-store'), name: 'nodeRootsBackend', arg: imageStateDir } : undefined,
    workers,
    onWorkersFailed: (e) => {
      // Serving on fewer threads than asked, unnoticed, is worse than stopping where a service manager sees it.
      log(`${e.message}; netboot stops (exit 1) rather than serve on fewer threads than --nfs-workers asks`);
      process.exit(1);
    },
  });
  let locks: LockDaemon | undefined;
  if (!s.noLock) {
    try {
      locks = await startLockDaemon({
        listen: s.listen,
        port: nlmPort,
        portmapPort: service.portmapPort,
        stateDir: s.stateDir,
        log,
        onPeerRestarted: hooks?.onPeerRestarted,
        // Each granted lock is also an OFD lock on the file the handle names.
        openForLock: (fh) => service.nfs.openForLock(fh),
      });
      log(`nlm: lock manager (NLM v4) and status monitor (NSM v1) on port ${locks.port}`);
    } catch (e) {
      // NFS without locking still serves every client that mounts with nolock.
      log(`nlm: file locking is not served: ${(e as Error).message}; clients must mount with -o nolock`);
    }
  }
  const address = s.listen ?? '0.0.0.0';
  return {
    name: 'nfs',
    endpoints: [
      ...(service.ownPortmap ? [{ service: 'portmap (100000 v2-4)', proto: 'udp+tcp' as const, address, port: service.portmapPort }] : []),
      { service: 'mountd (100005 v1,v3)', proto: 'udp+tcp', address, port: service.mountdPort },
      { service: 'nfs (100003 v3)', proto: 'udp+tcp', address, port: service.nfsPort },
      ...(locks
        ? [
            { service: 'nlockmgr (100021 v4)', proto: 'udp+tcp' as const, address, port: locks.port },
            { service: 'status (100024 v1)', proto: 'udp+tcp' as const, address, port: locks.port },
          ]
        : []),
    ],
    reload: () => service.reload(),
    counts: () => ({ mounts: service.mountd.mountList().length }),
    close: async () => {
      await locks?.close();
      await service.close();
    },
  };
}
