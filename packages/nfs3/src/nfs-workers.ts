import { closeSync } from 'node:fs';
import type net from 'node:net';
import { Worker } from 'node:worker_threads';
import type { Export } from '@netboot/mountd';
import type { RpcCall } from '@netboot/oncrpc-xdr';
import { native, socketFd } from '@netboot/platform';
import type { CallFact } from './call-observer.js';
import { NfsCallStats } from './call-stats.js';

/**
 * A second backend for worker threads: the main thread's `backend` function
 * cannot cross to a thread, so each worker imports `module` and awaits
 * `module[name](arg, context)`, which gives its `NfsServerOptions.backend`.
 */
export interface WorkerBackend {
  /** A module specifier the worker can import (best a file URL: `import.meta.resolve`). */
  module: string;
  name: string;
  /** Structured-cloned into the worker. */
  arg: unknown;
}

/** What a worker tells a WorkerBackend's factory. */
export interface WorkerBackendContext {
  log: (line: string) => void;
  /** As NfsServerOptions.directReadMax: a worker's loop serves only NFS (Infinity there). */
  directReadMax?: number;
  /** As NfsServerOptions.directWrites: true on a worker, whose loop serves only NFS. */
  directWrites?: boolean;
}

/** Which exports are served to one client address alone (export path to address): an image-backed node root and its node. */
export type PinnedExports = ReadonlyMap<string, string>;

type CallContext = Pick<RpcCall, 'transport' | 'remote' | 'local'>;

/** What a worker starts from (structured-cloned into it). */
export interface WorkerSetup {
  exports: Export[];
  backend?: WorkerBackend;
  handleKey: Uint8Array;
  writeVerifier: Uint8Array;
  maxRecordSize: number;
  /** Present when the main thread observes calls: the observer's policy and the clients followed now. */
  observe?: { routineStatuses: readonly number[]; intervalMs: number; follow: [string, string][] };
}

export type ToWorker =
  | { kind: 'connection'; fd: number }
  | { kind: 'exports'; seq: number; exports: Export[] }
  | { kind: 'follow'; address: string; path: string }
  | { kind: 'stats'; seq: number }
  | { kind: 'datagram'; id: number; msg: ArrayBuffer; ctx: CallContext }
  | { kind: 'mount'; id: number; path: string; subpath: Uint8Array | string | undefined; client: string }
  /** A MOUNT of a directory below export `path` made on the main thread: the worker looks the path up too (see mounted()). */
  | { kind: 'mounted'; path: string; subpath: Uint8Array | string }
  | { kind: 'stop' };

export type FromWorker =
  | { kind: 'ready' }
  | { kind: 'log'; line: string }
  | { kind: 'facts'; facts: CallFact[] }
  /** The worker's call counts (seq -1: its last, sent as it stops). */
  | { kind: 'stats'; seq: number; counts: Float64Array | undefined }
  | { kind: 'adopted'; fd: number }
  | { kind: 'closed' }
  | { kind: 'exports-done'; seq: number; error?: string }
  /** To a `datagram` (the reply's bytes, none for no reply) or a `mount` (the handle, none for a path not served). */
  | { kind: 'answer'; id: number; bytes?: ArrayBuffer; error?: string }
  | { kind: 'stopped' };

export interface NfsWorkersOptions {
  /** Worker threads (at least 1). */
  count: number;
  exports: Export[];
  handleKey: Buffer;
  writeVerifier: Buffer;
  maxRecordSize: number;
  log: (line: string) => void;
  /** Calls are watched on every worker (see CallWatch); the facts reach `report` on the main thread. */
  observe?: { routineStatuses: readonly number[]; intervalMs: number; report(fact: CallFact): void };
  /** The backend of the exports `backend` serves (see WorkerBackend). */
  backend?: WorkerBackend;
  /** Exports each served on one worker alone, to one address (see NfsWorkers). */
  pinned?: PinnedExports;
  /** The workers kept exiting (see RESTARTS): the pool has stopped and the main thread serves every connection. */
  onFailed: (error: Error) => void;
}

/** Unexpected exits of one worker within RESTART_WINDOW_MS that are restarted; one more gives up. */
const RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;
/** A worker that does not give its counts within this long is counted with the last it gave. */
const STATS_WAIT_MS = 1000;
/** Clients followed (ObservedCalls.follow) remembered for a worker that starts again. */
const MAX_FOLLOWED = 4096;

interface Slot {
  readonly index: number;
  worker: Worker | undefined;
  ready: boolean;
  /** Connections handed to it and not yet closed: the pool hands the next one to the slot with fewest. */
  connections: number;
  /** Connections handed to it since the pool started, over its restarts. */
  handed: number;
  /** Fds posted to the worker and not yet taken over (it dups them): still the main thread's to close. */
  readonly owned: Set<number>;
  /** The exports generation the worker was started or last updated with. */
  exportsSeq: number;
  readonly waiting: Map<number, { resolve(): void; reject(e: Error): void }>;
  /** Datagrams and MOUNTs handed to it and not yet answered, by id. */
  readonly asked: Map<number, { resolve(bytes: Buffer | undefined): void; reject(e: Error): void }>;
  /** Times of its unexpected exits, for the restart budget. */
  exits: number[];
  lastError: Error | undefined;
  /** Its call counts when it last gave them, and who waits for the ones asked for. */
  counts: Float64Array | undefined;
  readonly statsWaiting: Map<number, () => void>;
}

/**
 * NFS over TCP spread over worker threads. Node 20 cannot share a listening
 * socket between threads, so the main thread keeps accepting (its RpcServer
 * binds the port as before, and keeps UDP), and hands each connection to
 * the worker serving fewest, as a duplicate of the socket's fd that the
 * worker wraps in its own net.Socket. Each worker runs its own NfsServer
 * over the same exports, handle key and write verifier, so a handle or a
 * verifier from one worker is as good on another; attribute, open-file and
 * inode-map caches are per worker. Calls observed on a worker are counted
 * there and its rare facts batched to the main thread (CallWatch); counts
 * are asked for on `stats()`. A worker that exits unasked is
 * restarted, loudly; one that keeps exiting ends the pool (onFailed).
 *
 * A pinned export (an image-backed node root: its node's layer must have
 * one writer, which copies up one name at a time and keeps the node's
 * records) is opened on one worker alone, its owner, picked from the
 * node's address (ownerOf), and every call on it runs there: the node's
 * TCP connections are handed to that worker, its UDP calls are answered
 * there (relayDatagram) and MOUNTs of the root (the node's boot) are made
 * there (dirHandle). The main thread does not open pinned exports while
 * the pool runs; other workers do not have them, so a client the exports
 * line lists beside the node, whose connection another worker serves,
 * finds the root STALE there.
 */
export class NfsWorkers {
  private readonly slots: Slot[] = [];
  private exports: Export[];
  private pinned: PinnedExports;
  /** The addresses of the pinned exports. */
  private nodes: Set<string>;
  private exportsSeq = 0;
  private next = 0;
  private asks = 0;
  private closing = false;
  private failed = false;
  private statsSeq = 0;
  /** The counts of workers that exited: a restart does not make a counter go back. */
  private readonly retired = new NfsCallStats();
  private readonly followed = new Map<string, string>();

  private constructor(private readonly opts: NfsWorkersOptions) {
    this.exports = opts.exports;
    this.pinned = opts.pinned ?? new Map();
    this.nodes = new Set(this.pinned.values());
  }

  /** The worker (by index) that owns the exports pinned to `address`: FNV-1a of the address, so the same across restarts and reloads. */
  static ownerOf(address: string, count: number): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < address.length; i++) h = Math.imul(h ^ address.charCodeAt(i), 0x01000193) >>> 0;
    return h % count;
  }

  private owner(address: string): Slot {
    return this.slots[NfsWorkers.ownerOf(address, this.slots.length)]!;
  }

  /** The exports worker `index` serves: every export but those pinned to an address another worker owns. */
  private exportsFor(index: number): Export[] {
    return this.exports.filter((e) => {
      const node = this.pinned.get(e.path);
      return node === undefined || NfsWorkers.ownerOf(node, this.slots.length) === index;
    });
  }

  /** Starts every worker; rejects (and stops the others) when one cannot start. */
  static async start(opts: NfsWorkersOptions): Promise<NfsWorkers> {
    if (!native) throw new Error('NFS worker threads need the platform module (to hand a connection to a thread): it did not load');
    const pool = new NfsWorkers(opts);
    const count = Math.max(1, Math.floor(opts.count));
    for (let i = 0; i < count; i++) pool.slots.push({ index: i, worker: undefined, ready: false, connections: 0, handed: 0, owned: new Set(), exportsSeq: 0, waiting: new Map(), asked: new Map(), exits: [], lastError: undefined, counts: undefined, statsWaiting: new Map() });
    try {
      await Promise.all(pool.slots.map((s) => pool.spawn(s)));
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  get count(): number {
    return this.slots.length;
  }

  /** Open connections per worker, by index. */
  connections(): number[] {
    return this.slots.map((s) => s.connections);
  }

  /** Connections handed to each worker since the pool started, by index. */
  handed(): number[] {
    return this.slots.map((s) => s.handed);
  }

  /** The worker threads' ids, by index (undefined while one restarts). */
  threadIds(): (number | undefined)[] {
    return this.slots.map((s) => (s.ready ? s.worker?.threadId : undefined));
  }

  private setup(slot: Slot): WorkerSetup {
    const o = this.opts;
    return {
      exports: this.exportsFor(slot.index),
      backend: o.backend,
      handleKey: o.handleKey,
      writeVerifier: o.writeVerifier,
      maxRecordSize: o.maxRecordSize,
      observe: o.observe && { routineStatuses: o.observe.routineStatuses, intervalMs: o.observe.intervalMs, follow: [...this.followed] },
    };
  }

  /** Starts the worker of a slot; resolves once it serves. */
  private spawn(slot: Slot): Promise<void> {
    const worker = new Worker(new URL('./nfs-worker.js', import.meta.url), {
      workerData: this.setup(slot),
      name: `nfs-worker-${slot.index}`,
      // The worker is plain compiled JavaScript: the parent's loader hooks (a test runner's TypeScript) would only slow its start.
      execArgv: [],
      // The backend opens most fds natively and closes them with fs.close, which tracking would warn about; a worker's
      // exit still closes its sockets (they are libuv handles).
      trackUnmanagedFds: false,
    });
    slot.worker = worker;
    slot.ready = false;
    slot.exportsSeq = this.exportsSeq;
    return new Promise((resolve, reject) => {
      worker.on('message', (m: FromWorker) => {
        if (m.kind === 'ready') {
          slot.ready = true;
          if (slot.exportsSeq !== this.exportsSeq) this.sendExports(slot).catch((e: Error) => this.opts.log(`nfs: worker ${slot.index}: ${e.message}`));
          resolve();
        } else this.onMessage(slot, m);
      });
      worker.on('error', (e) => (slot.lastError = e));
      worker.on('exit', (code) => {
        if (!slot.ready) reject(new Error(`nfs: worker ${slot.index} did not start: ${slot.lastError?.message ?? `exit code ${code}`}`));
        this.onExit(slot, worker, code);
      });
    });
  }

  private onMessage(slot: Slot, m: FromWorker): void {
    switch (m.kind) {
      case 'log':
        this.opts.log(m.line);
        break;
      case 'facts':
        if (this.opts.observe) for (const f of m.facts) this.opts.observe.report(f);
        break;
      case 'stats':
        if (m.counts) slot.counts = m.counts;
        slot.statsWaiting.get(m.seq)?.();
        slot.statsWaiting.delete(m.seq);
        break;
      case 'adopted':
        if (slot.owned.delete(m.fd)) closeSync(m.fd);
        break;
      case 'closed':
        slot.connections = Math.max(0, slot.connections - 1);
        break;
      case 'answer': {
        const a = slot.asked.get(m.id);
        slot.asked.delete(m.id);
        if (m.error !== undefined) a?.reject(new Error(`worker ${slot.index}: ${m.error}`));
        else a?.resolve(m.bytes && Buffer.from(m.bytes));
        break;
      }
      case 'exports-done': {
        const w = slot.waiting.get(m.seq);
        slot.waiting.delete(m.seq);
        if (m.error === undefined) w?.resolve();
        else w?.reject(new Error(`worker ${slot.index}: ${m.error}`));
        break;
      }
    }
  }

  private onExit(slot: Slot, worker: Worker, code: number): void {
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    slot.ready = false;
    const lost = slot.connections;
    slot.connections = 0;
    // Fds it had not taken over yet are still ours; those it had, its exit closed.
    for (const fd of slot.owned) closeSync(fd);
    slot.owned.clear();
    if (slot.counts) this.retired.add(slot.counts);
    slot.counts = undefined;
    for (const done of slot.statsWaiting.values()) done();
    slot.statsWaiting.clear();
    // A restarted worker starts from the current exports.
    for (const w of slot.waiting.values()) w.resolve();
    slot.waiting.clear();
    for (const a of slot.asked.values()) a.reject(new Error(`worker ${slot.index} exited before it answered`));
    slot.asked.clear();
    if (this.closing || this.failed) return;
    const now = Date.now();
    slot.exits = [...slot.exits.filter((t) => now - t < RESTART_WINDOW_MS), now];
    const why = slot.lastError ? `${slot.lastError.message}` : `exit code ${code}`;
    slot.lastError = undefined;
    if (slot.exits.length > RESTARTS) {
      this.failed = true;
      const error = new Error(
        `nfs: worker ${slot.index} exited ${slot.exits.length} times within ${RESTART_WINDOW_MS / 1000} s (last: ${why}); ` +
          'NFS worker threads are stopped and the main thread serves every connection',
      );
      void this.close().then(() => this.opts.onFailed(error));
      return;
    }
    this.opts.log(`nfs: worker ${slot.index} exited unexpectedly (${why}); its ${lost} connections were closed (clients reconnect); starting it again`);
    this.spawn(slot).then(
      () => this.opts.log(`nfs: worker ${slot.index} is serving again`),
      (e: Error) => this.opts.log(e.message),
    );
  }

  /**
   * Hands an accepted connection to the worker with fewest connections (in
   * turn among equals); false when no worker serves (the caller serves it).
   * A connection from a pinned export's address goes to that export's
   * owner, and is closed when the owner is restarting (the client connects
   * again): the main thread does not serve pinned exports.
   */
  take(socket: net.Socket): boolean {
    const address = plainAddress(socket.remoteAddress ?? '');
    if (this.nodes.has(address)) {
      const owner = this.owner(address);
      if (owner.ready && owner.worker && this.hand(owner, socket)) return true;
      this.opts.log(`nfs: closed a connection from ${address}: worker ${owner.index}, which serves its image-backed root, is not running`);
      socket.destroy();
      return true;
    }
    let best: Slot | undefined;
    for (let i = 0; i < this.slots.length; i++) {
      const s = this.slots[(this.next + i) % this.slots.length];
      if (s.ready && s.worker && (!best || s.connections < best.connections)) best = s;
    }
    return best !== undefined && this.hand(best, socket);
  }

  private hand(best: Slot, socket: net.Socket): boolean {
    let fd: number;
    try {
      fd = native!.dupSocket(socketFd(socket));
    } catch (e) {
      this.opts.log(`nfs: could not hand a connection to a worker (${(e as Error).message}); serving it on the main thread`);
      return false;
    }
    this.next = (best.index + 1) % this.slots.length;
    socket.destroy();
    best.owned.add(fd);
    best.connections++;
    best.handed++;
    best.worker!.postMessage({ kind: 'connection', fd } satisfies ToWorker);
    return true;
  }

  /**
   * The reply to a UDP call from a pinned export's address, answered by its
   * owner (undefined in it: no reply; a datagram for a worker restarting is
   * dropped, and the client sends it again); undefined for other addresses,
   * answered by the caller.
   */
  relayDatagram = (msg: Buffer, ctx: CallContext): Promise<Buffer | undefined> | undefined => {
    const address = plainAddress(ctx.remote.address);
    if (!this.nodes.has(address)) return undefined;
    const owner = this.owner(address);
    if (!owner.ready || !owner.worker) return Promise.resolve(undefined);
    const copy = new ArrayBuffer(msg.length);
    msg.copy(new Uint8Array(copy));
    return this.ask(owner, (id) => ({ kind: 'datagram', id, msg: copy, ctx }), [copy]);
  };

  /**
   * Tells every worker of a MOUNT of `subpath` below export `path` that the
   * main thread made (a node's own root under one export of all nodes'
   * roots): each looks the path up as MOUNT did, so the handle the node
   * goes on with names a directory its inode map knows. Without it, a
   * worker given the node's connection finds the handle's inode unknown
   * and walks the whole export to find it (ExportTree), every node's root
   * in a boot storm, once per worker. Posted before the MOUNT reply leaves,
   * so it reaches the worker ahead of the node's connection.
   */
  mounted(path: string, subpath: Uint8Array | string): void {
    if (this.pinned.has(path)) return;
    // A copy of the bytes alone: a view would carry its whole buffer (a pool's slab) to every worker.
    const sub = typeof subpath === 'string' ? subpath : new Uint8Array(subpath);
    for (const s of this.slots) if (s.ready) s.worker?.postMessage({ kind: 'mounted', path, subpath: sub } satisfies ToWorker);
  }

  /** Whether `path` is a pinned export, whose MOUNTs dirHandle makes. */
  isPinned(path: string): boolean {
    return this.pinned.has(path);
  }

  /** The handle MOUNT gives for a pinned export (NfsServer.dirHandle, on its owner: the node's boot switches its root there). */
  async dirHandle(path: string, subpath: Uint8Array | string | undefined, client: string): Promise<Buffer | undefined> {
    const node = this.pinned.get(path);
    if (node === undefined) return undefined;
    const owner = this.owner(node);
    if (!owner.ready || !owner.worker) throw new Error(`worker ${owner.index}, which serves ${path}, is not running`);
    return this.ask(owner, (id) => ({ kind: 'mount', id, path, subpath, client }));
  }

  private ask(slot: Slot, message: (id: number) => ToWorker, transfer?: ArrayBuffer[]): Promise<Buffer | undefined> {
    const id = ++this.asks;
    return new Promise((resolve, reject) => {
      slot.asked.set(id, { resolve, reject });
      slot.worker!.postMessage(message(id), transfer);
    });
  }

  private sendExports(slot: Slot): Promise<void> {
    const seq = this.exportsSeq;
    slot.exportsSeq = seq;
    return new Promise((resolve, reject) => {
      slot.waiting.set(seq, { resolve, reject });
      slot.worker!.postMessage({ kind: 'exports', seq, exports: this.exportsFor(slot.index) } satisfies ToWorker);
    });
  }

  /** Gives every worker the new export list; resolves once each serves it (a worker restarting starts from it). */
  async setExports(exports: Export[], pinned: PinnedExports = this.pinned): Promise<void> {
    this.exports = exports;
    this.pinned = pinned;
    this.nodes = new Set(pinned.values());
    this.exportsSeq++;
    await Promise.all(this.slots.filter((s) => s.ready && s.worker).map((s) => this.sendExports(s)));
  }

  /** Every worker's call counts, asked now, with those of workers that exited. */
  async stats(): Promise<NfsCallStats> {
    const seq = this.statsSeq++;
    await Promise.all(
      this.slots.map((s) => {
        if (!s.ready || !s.worker) return undefined;
        return new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            s.statsWaiting.delete(seq);
            resolve();
          }, STATS_WAIT_MS);
          s.statsWaiting.set(seq, () => {
            clearTimeout(timer);
            resolve();
          });
          s.worker!.postMessage({ kind: 'stats', seq } satisfies ToWorker);
        });
      }),
    );
    const sum = new NfsCallStats();
    sum.add(this.retired.counts);
    for (const s of this.slots) if (s.counts) sum.add(s.counts);
    return sum;
  }

  /** See ObservedCalls.follow: told to every worker, and to one that starts again. */
  follow(address: string, path: string): void {
    this.followed.delete(address);
    this.followed.set(address, path);
    if (this.followed.size > MAX_FOLLOWED) this.followed.delete(this.followed.keys().next().value!);
    // One starting takes it once it listens (a port keeps messages until then).
    for (const s of this.slots) s.worker?.postMessage({ kind: 'follow', address, path } satisfies ToWorker);
  }

  /** Stops one worker as a crash would (for drills and tests): the pool restarts it. */
  async crash(index: number): Promise<void> {
    await this.slots[index]?.worker?.terminate();
  }

  /** Stops every worker: their connections close. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      this.slots.map(async (s) => {
        const w = s.worker;
        if (!w) return;
        if (s.ready) {
          const stopped = new Promise<void>((resolve) => {
            w.on('message', (m: FromWorker) => m.kind === 'stopped' && resolve());
            w.once('exit', () => resolve());
          });
          w.postMessage({ kind: 'stop' } satisfies ToWorker);
          await stopped;
        }
        await w.terminate();
      }),
    );
  }
}

/** An address as a node's export lists it: an IPv4-mapped IPv6 address as the IPv4 one. */
function plainAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
