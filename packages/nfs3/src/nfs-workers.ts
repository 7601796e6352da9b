import { closeSync } from 'node:fs';
import type net from 'node:net';
import { Worker } from 'node:worker_threads';
import type { Export } from '@netboot/mountd';
import { native, socketFd } from '@netboot/platform';
import type { CallFact } from './call-observer.js';
import { NfsCallStats } from './call-stats.js';

/** What a worker starts from (structured-cloned into it). */
export interface WorkerSetup {
  exports: Export[];
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
 */
export class NfsWorkers {
  private readonly slots: Slot[] = [];
  private exports: Export[];
  private exportsSeq = 0;
  private next = 0;
  private closing = false;
  private failed = false;
  private statsSeq = 0;
  /** The counts of workers that exited: a restart does not make a counter go back. */
  private readonly retired = new NfsCallStats();
  private readonly followed = new Map<string, string>();

  private constructor(private readonly opts: NfsWorkersOptions) {
    this.exports = opts.exports;
  }

  /** Starts every worker; rejects (and stops the others) when one cannot start. */
  static async start(opts: NfsWorkersOptions): Promise<NfsWorkers> {
    if (!native) throw new Error('NFS worker threads need the platform module (to hand a connection to a thread): it did not load');
    const pool = new NfsWorkers(opts);
    const count = Math.max(1, Math.floor(opts.count));
    for (let i = 0; i < count; i++) pool.slots.push({ index: i, worker: undefined, ready: false, connections: 0, handed: 0, owned: new Set(), exportsSeq: 0, waiting: new Map(), exits: [], lastError: undefined, counts: undefined, statsWaiting: new Map() });
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

  private setup(): WorkerSetup {
    const o = this.opts;
    return {
      exports: this.exports,
      handleKey: o.handleKey,
      writeVerifier: o.writeVerifier,
      maxRecordSize: o.maxRecordSize,
      observe: o.observe && { routineStatuses: o.observe.routineStatuses, intervalMs: o.observe.intervalMs, follow: [...this.followed] },
    };
  }

  /** Starts the worker of a slot; resolves once it serves. */
  private spawn(slot: Slot): Promise<void> {
    const worker = new Worker(new URL('./nfs-worker.js', import.meta.url), {
      workerData: this.setup(),
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
   */
  take(socket: net.Socket): boolean {
    let best: Slot | undefined;
    for (let i = 0; i < this.slots.length; i++) {
      const s = this.slots[(this.next + i) % this.slots.length];
      if (s.ready && s.worker && (!best || s.connections < best.connections)) best = s;
    }
    if (!best) return false;
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

  private sendExports(slot: Slot): Promise<void> {
    const seq = this.exportsSeq;
    slot.exportsSeq = seq;
    return new Promise((resolve, reject) => {
      slot.waiting.set(seq, { resolve, reject });
      slot.worker!.postMessage({ kind: 'exports', seq, exports: this.exports } satisfies ToWorker);
    });
  }

  /** Gives every worker the new export list; resolves once each serves it (a worker restarting starts from it). */
  async setExports(exports: Export[]): Promise<void> {
    this.exports = exports;
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
