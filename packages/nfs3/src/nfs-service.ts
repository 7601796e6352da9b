import { lstat } from 'node:fs/promises';
import { randomFillSync } from 'node:crypto';
import { RpcServer } from '@netboot/oncrpc-xdr';
import { native, platformStatus, platformSummary } from '@netboot/platform';
import {
  type Export,
  type MountdEvent,
  MOUNT_PROGRAM,
  Mountd,
  formatWarning,
  loadExports,
} from '@netboot/mountd';
import { PortmapClient, PortmapServer } from '@netboot/portmap';
import { loadHandleKey, readHandleKeyFile } from './handle-key.js';
import { NFS_PROGRAM, NFS_V3 } from './nfs3-constants.js';
import { NfsServer, type NfsServerOptions } from './nfs-server.js';
import { replySender } from './reply-sender.js';
import { nfsExports } from './mountd-exports.js';
import type { NfsCallObserver } from './call-observer.js';
import { CallWatch } from './call-watch.js';
import { NfsCallStats } from './call-stats.js';
import { NfsWorkers, type PinnedExports, type WorkerBackend } from './nfs-workers.js';

export interface NfsServiceOptions {
  /** An exports(5) file. */
  exportsFile: string;
  /** A second backend for some exports (see NfsServerOptions.backend). */
  backend?: NfsServerOptions['backend'];
  /** Address to serve on (default 0.0.0.0). */
  listen?: string;
  /** NFS port for UDP and TCP (default 2049). */
  nfsPort?: number;
  /** MOUNT port for UDP and TCP (default 20048, as nfs-utils' mountd). */
  mountdPort?: number;
  /** Portmapper port: used when one answers there, else netboot runs its own (default 111; 0 runs one on a free port). */
  portmapPort?: number;
  /** Where the handle key and the mount list live; without it handles do not survive a restart. */
  stateDir?: string;
  /** A 32-byte handle key file shared with other servers of the same tree (instead of the state directory's key). */
  handleKeyFile?: string;
  log?: (line: string) => void;
  /** Watches every NFS call, on every thread serving NFS (boot monitoring); without one the procedures are registered unwrapped. */
  observer?: NfsCallObserver;
  /** Told of each MNT decided and each UMNT. */
  onMount?: (e: MountdEvent) => void;
  /**
   * Threads serving NFS over TCP (default 1: the main thread, as without
   * workers). Above 1, the main thread accepts and hands each connection to
   * the worker serving fewest (nfs-workers.ts); UDP, MOUNT and the
   * portmapper stay on the main thread.
   */
  workers?: number;
  /**
   * The exports of `exports` that `backend` serves to one address alone (an
   * image-backed node root, to its node), by path. Each must have one
   * writer: with worker threads, each is served on one worker alone, which
   * the pool picks from the address (see NfsWorkers), and needs
   * `workerBackend`; without it they keep NFS on the main thread.
   */
  pinnedExports?: (exports: Export[]) => Promise<PinnedExports>;
  /** `backend` as worker threads load it (see WorkerBackend). */
  workerBackend?: WorkerBackend;
  /**
   * The worker threads kept exiting and were stopped; the main thread now
   * serves every connection. Default: log it. `netboot nfs` exits instead.
   */
  onWorkersFailed?: (error: Error) => void;
}

export interface NfsService {
  readonly nfsPort: number;
  readonly mountdPort: number;
  /** The portmapper the service registered with. */
  readonly portmapPort: number;
  /** Whether this service runs the portmapper itself (false: it registered with one already there). */
  readonly ownPortmap: boolean;
  readonly nfs: NfsServer;
  readonly mountd: Mountd;
  /** The worker threads serving NFS over TCP, when there are more than one. */
  readonly workers: NfsWorkers | undefined;
  /** Re-reads the exports file; a file with errors leaves the running exports in place and rejects. */
  reload(): Promise<void>;
  /** Unregisters from the portmapper and closes every socket. */
  close(): Promise<void>;
}

export { exportId } from './mountd-exports.js';

export const MOUNTD_PORT = 20048;
export const NFS_PORT = 2049;

/**
 * The exports whose directory exists. As exportfs, a missing directory is a
 * warning, not a failure: a node's root may be created later (then SIGHUP).
 */
async function servable(exports: Export[], log: (line: string) => void): Promise<Export[]> {
  const out: Export[] = [];
  for (const exp of exports) {
    const st = await lstat(exp.path).catch(() => undefined);
    if (st?.isDirectory()) out.push(exp);
    else {
      log(
        `${exp.source.file}:${exp.source.line}: ${exp.path} ${st ? 'is not a directory' : 'does not exist'}; ` +
          'it is not served until it exists and the exports are reloaded (SIGHUP)',
      );
    }
  }
  return out;
}

const NONE_PINNED: PinnedExports = new Map();

/** The exports the main thread serves: with worker threads, all but the pinned ones (their owners serve them). */
const mainExports = (exports: Export[], pinned: PinnedExports | undefined) => nfsExports(pinned ? exports.filter((e) => !pinned.has(e.path)) : exports);

/** Binds a service's UDP and TCP port, saying what to do when it is taken. */
async function listen(rpc: RpcServer, host: string, port: number, what: string, flag: string, culprit: string): Promise<number> {
  try {
    return await rpc.listen({ host, port });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new Error(`the ${what} port ${port} on ${host} is in use, probably by ${culprit}: stop it or choose another port with ${flag}`);
    if (code === 'EACCES') throw new Error(`binding the ${what} port ${port} needs root (or CAP_NET_BIND_SERVICE); choose a port above 1023 with ${flag}`);
    if (code === 'EADDRNOTAVAIL') throw new Error(`${host} is not an address of this machine: fix --listen`);
    throw e;
  }
}

/** Runs MOUNT and NFS (and the portmapper unless one is already there), registered on UDP and TCP. */
export async function createNfsService(opts: NfsServiceOptions): Promise<NfsService> {
  const log = opts.log ?? ((l: string) => console.error(l));
  const host = opts.listen ?? '0.0.0.0';
  const warn = (w: Parameters<typeof formatWarning>[0]) => log(formatWarning(w));
  let exports = await servable(await loadExports(opts.exportsFile, { warn }), log);
  const key = opts.handleKeyFile ? await readHandleKeyFile(opts.handleKeyFile) : await loadHandleKey(opts.stateDir);
  // In shared memory: a verifier changed after a storage failure (data-procs) on any thread is the one every
  // thread's replies carry from then on.
  const writeVerifier = randomFillSync(Buffer.from(new SharedArrayBuffer(8)));
  let pinned = (await opts.pinnedExports?.(exports)) ?? NONE_PINNED;
  let pooled = (opts.workers ?? 1) > 1;
  if (pooled && pinned.size > 0 && !opts.workerBackend) {
    log(`nfs: ${[...pinned.keys()].join(', ')}: image-backed, so NFS is served on the main thread alone (a node's copy-on-write layer has one writer)`);
    pooled = false;
  } else if (pooled && platformStatus().mode !== 'native') {
    log(`nfs: NFS is served on the main thread alone: worker threads need the platform module (${platformSummary()})`);
    pooled = false;
  }
  const nfs = await NfsServer.create({ exports: mainExports(exports, pooled ? pinned : undefined), handleKey: key, log, backend: opts.backend, writeVerifier });
  let workers: NfsWorkers | undefined;
  const mountd = new Mountd({
    exports,
    // A pinned export's MOUNT is its node's boot, which switches the root its owner serves: made there.
    rootHandle: async (exp, subpath, client) => {
      if (workers?.isPinned(exp.path)) return workers.dirHandle(exp.path, subpath, client);
      const fh = await nfs.dirHandle(exp.path, subpath, client);
      // The workers serve the node's connection: they learn the directory before it arrives.
      if (fh && subpath?.length) workers?.mounted(exp.path, subpath);
      return fh;
    },
    subdirectoryMounts: true,
    stateDir: opts.stateDir,
    log,
    onMount: opts.onMount,
  });
  const closers: (() => Promise<unknown> | unknown)[] = [];
  const closeAll = async () => {
    for (const c of closers.reverse()) await Promise.resolve(c()).catch((e: unknown) => log(`nfs: while stopping: ${String(e)}`));
    closers.length = 0;
  };
  try {
    closers.push(() => nfs.close());
    const maxRecordSize = 1024 * 1024 + 64 * 1024;
    const nfsRpc = new RpcServer({ log, maxRecordSize, replySender: replySender(native) });
    const observer = opts.observer;
    const watch = observer && new CallWatch({ routineStatuses: observer.routineStatuses, intervalMs: observer.intervalMs, report: (f) => observer.seen(f) });
    if (watch) nfs.register({ register: (prog, vers, procs, o) => nfsRpc.register(prog, vers, procs, { ...o, watcher: watch }) });
    else nfs.register(nfsRpc);
    if (pooled) {
      const started = await NfsWorkers.start({
        count: opts.workers!,
        exports,
        handleKey: key,
        writeVerifier,
        maxRecordSize,
        log,
        observe: observer && { routineStatuses: observer.routineStatuses, intervalMs: observer.intervalMs, report: (f) => observer.seen(f) },
        backend: opts.workerBackend,
        pinned,
        onFailed: (e) => {
          // The pool has stopped: the main thread serves every connection, and every export again.
          workers = undefined;
          nfsRpc.handTcpTo(undefined);
          nfsRpc.handUdpTo(undefined);
          void nfs
            .setExports(nfsExports(exports))
            .catch((err: Error) => log(`nfs: ${err.message}`))
            .then(() => (opts.onWorkersFailed ?? ((x: Error) => log(x.message)))(e));
        },
      });
      workers = started;
      closers.push(() => started.close());
      nfsRpc.handTcpTo((socket) => started.take(socket));
      nfsRpc.handUdpTo(started.relayDatagram);
      log(
        `nfs: NFS over TCP on ${started.count} worker threads; UDP, MOUNT and the portmapper on the main thread` +
          (pinned.size > 0 ? ` (${pinned.size} image-backed roots each on the worker of its node, UDP and MOUNT included)` : ''),
      );
    }
    if (observer && watch) {
      const pool = workers;
      observer.attach({
        async stats() {
          const sum = new NfsCallStats();
          sum.add(watch.stats.counts);
          if (pool) sum.add((await pool.stats()).counts);
          return sum;
        },
        follow(address, path) {
          watch.follow(address, path);
          pool?.follow(address, path);
        },
      });
    }
    const nfsPort = await listen(nfsRpc, host, opts.nfsPort ?? NFS_PORT, 'NFS', '--nfs-port', 'another NFS server (nfs-kernel-server, NFS-Ganesha)');
    closers.push(() => nfsRpc.close());
    const mountRpc = new RpcServer({ log });
    mountd.register(mountRpc);
    const mountdPort = await listen(mountRpc, host, opts.mountdPort ?? MOUNTD_PORT, 'MOUNT', '--mountd-port', "another mountd (nfs-utils' rpc.mountd)");
    closers.push(() => mountRpc.close());
    closers.push(() => mountd.flush());

    let pmapPort = opts.portmapPort ?? 111;
    let ownPortmap = false;
    let pmap = await (pmapPort === 0 ? Promise.reject(new Error('no port')) : PortmapClient.connect({ port: pmapPort, timeoutMs: 2000 }))
      .then(async (c) => {
        try {
          await c.ping();
          return c;
        } catch (e) {
          c.close();
          throw e;
        }
      })
      .catch(() => undefined);
    if (!pmap) {
      const server = new PortmapServer({ log });
      pmapPort = await server.listen({ host, port: pmapPort });
      closers.push(() => server.close());
      ownPortmap = true;
      pmap = await PortmapClient.connect({ port: pmapPort });
    }
    const client = pmap;
    closers.push(() => client.close());
    await client.registerService(NFS_PROGRAM, [NFS_V3], nfsPort);
    await client.registerService(MOUNT_PROGRAM, [1, 3], mountdPort);
    closers.push(async () => {
      await client.unregisterService(MOUNT_PROGRAM, [1, 3]);
      await client.unregisterService(NFS_PROGRAM, [NFS_V3]);
    });
    log(
      `nfs: serving ${exports.map((e) => e.path).join(', ') || 'no exports'} on ${host}: NFS v3 port ${nfsPort}, ` +
        `MOUNT v1/v3 port ${mountdPort}, portmapper port ${pmapPort}${ownPortmap ? ' (our own)' : ''}`,
    );
    return {
      nfsPort,
      mountdPort,
      portmapPort: pmapPort,
      ownPortmap,
      nfs,
      mountd,
      get workers() {
        return workers;
      },
      async reload() {
        const next = await servable(await loadExports(opts.exportsFile, { warn }), log);
        pinned = (await opts.pinnedExports?.(next)) ?? NONE_PINNED;
        if (workers && pinned.size > 0 && !opts.workerBackend) {
          // An image-backed root's layer has one writer, and the workers cannot open it: from now on the main thread serves every connection.
          const stopping = workers;
          workers = undefined;
          nfsRpc.handTcpTo(undefined);
          nfsRpc.handUdpTo(undefined);
          await stopping.close();
          log(
            `nfs: ${[...pinned.keys()].join(', ')}: image-backed, so NFS is now served on the main thread alone (a node's copy-on-write ` +
              `layer has one writer); the ${stopping.count} worker threads are stopped and their clients reconnect`,
          );
        }
        await nfs.setExports(mainExports(next, workers ? pinned : undefined));
        await workers?.setExports(next, pinned);
        mountd.setExports(next);
        exports = next;
        log(`nfs: reloaded ${opts.exportsFile}: ${exports.length} exports`);
      },
      close: closeAll,
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
