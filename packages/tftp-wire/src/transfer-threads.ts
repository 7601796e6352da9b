import { close } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { FileIdentity } from './open-file-cache.js';
import type { TransferSettings } from './options.js';
import type { TftpOption } from './packet.js';
import type { LogLevel, RetryPolicy } from './transfer.js';
import type { DoneAction } from './transfer-driver.js';
import type { TransportKind } from './transport.js';

/** What the server sends a transfer thread. */
export type ThreadMessage =
  | {
      type: 'start';
      id: number;
      /**
       * The file, opened beneath the root by the server (descriptors are
       * process-wide), and its fstat the options were negotiated with. The
       * thread owns it from here: its cache keeps or closes it.
       */
      fd: number;
      identity: FileIdentity;
      serve: { settings: TransferSettings; oack: TftpOption[] };
      retry: RetryPolicy;
      family: 'udp4' | 'udp6';
      local: string;
      address: string;
      port: number;
      sendBufferBytes: number;
      transport: TransportKind;
    }
  | { type: 'abort'; id: number; code: number; message: string; tell: boolean }
  /** Abort every transfer with this ERROR, wait for the datagrams to leave, report `closed`. */
  | { type: 'close'; code: number; message: string };

/** What a transfer thread reports: a transfer's log line (no id: its own rate-limited notices) or its end. */
export type ThreadReport =
  | { type: 'log'; id?: number; level: LogLevel; message: string }
  | { type: 'done'; id: number; done: DoneAction }
  | { type: 'closed' };

export type ThreadJob = Omit<Extract<ThreadMessage, { type: 'start' }>, 'type' | 'id'>;

export interface ThreadCallbacks {
  onDone(done: DoneAction): void;
  onLog(level: LogLevel, message: string): void;
}

interface Thread {
  worker: Worker;
  transfers: number;
}

/**
 * Runs read transfers on worker threads. Sending a datagram costs the
 * sender the kernel's whole loopback or driver path, so one JavaScript
 * thread caps a boot storm at what one core can send; tftp-hpa forks a
 * process per transfer for the same reason. Each transfer goes to the
 * thread with the fewest; the server keeps the request socket, the checks
 * and the bookkeeping.
 */
export class TransferThreads {
  private readonly threads: Thread[] = [];
  private readonly running = new Map<number, { thread: Thread; callbacks: ThreadCallbacks }>();
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly count: number,
    private readonly onNotice: (level: LogLevel, message: string) => void,
  ) {}

  /** Starts the threads now, so the first transfer does not wait for one to load (tens of ms). */
  warm(): void {
    while (this.threads.length < this.count) this.spawn();
  }

  /** Starts a transfer; returns how to abort it. After close() the transfer fails at once (a request set up meanwhile) and its fd is closed. */
  start(job: ThreadJob, callbacks: ThreadCallbacks): (code: number, message: string, tell: boolean) => void {
    if (this.closed) {
      close(job.fd, () => {});
      callbacks.onDone({ type: 'done', outcome: 'failed', bytes: 0, reason: 'server shutting down', level: 'warning' });
      return () => {};
    }
    const thread = this.pick();
    const id = this.nextId++;
    thread.transfers++;
    this.running.set(id, { thread, callbacks });
    thread.worker.postMessage({ type: 'start', id, ...job } satisfies ThreadMessage);
    return (code, message, tell) => thread.worker.postMessage({ type: 'abort', id, code, message, tell } satisfies ThreadMessage);
  }

  /** Ends every transfer with an ERROR to its client, then stops the threads. */
  async close(code: number, message: string): Promise<void> {
    this.closed = true;
    const threads = this.threads.splice(0);
    await Promise.all(
      threads.map(async (t) => {
        const closed = new Promise<void>((resolve) => {
          t.worker.on('message', (r: ThreadReport) => r.type === 'closed' && resolve());
          t.worker.once('exit', () => resolve());
        });
        // Held until it has answered: an unreferenced worker would let the process exit first.
        t.worker.ref();
        t.worker.postMessage({ type: 'close', code, message } satisfies ThreadMessage);
        await closed;
        await t.worker.terminate();
      }),
    );
  }

  private pick(): Thread {
    // A thread that died (its transfers failed with it) is replaced here.
    if (this.threads.length < this.count) this.warm();
    return this.threads.reduce((a, b) => (b.transfers < a.transfers ? b : a));
  }

  private spawn(): Thread {
    // Plain compiled JavaScript: the parent's flags (a test runner's module loader, say) would only slow its start.
    // The thread closes descriptors the server opened and handed over: Node's per-thread tracking of
    // fds would warn at each such close (and close them behind the cache's back when the thread ends).
    const worker = new Worker(new URL('./transfer-worker.js', import.meta.url), { execArgv: [], trackUnmanagedFds: false });
    const thread: Thread = { worker, transfers: 0 };
    worker.on('message', (r: ThreadReport) => this.onReport(r));
    worker.on('error', (err) => this.onNotice('warning', `transfer thread failed: ${err.message}`));
    worker.on('exit', () => {
      const i = this.threads.indexOf(thread);
      if (i >= 0) this.threads.splice(i, 1);
      for (const [id, r] of this.running) {
        if (r.thread !== thread) continue;
        this.running.delete(id);
        r.callbacks.onDone({ type: 'done', outcome: 'failed', bytes: 0, reason: 'its transfer thread stopped', level: 'warning' });
      }
    });
    // Idle threads must not keep the process alive.
    worker.unref();
    this.threads.push(thread);
    return thread;
  }

  private onReport(r: ThreadReport): void {
    if (r.type === 'closed') return;
    if (r.type === 'log') {
      const t = r.id === undefined ? undefined : this.running.get(r.id);
      if (t) t.callbacks.onLog(r.level, r.message);
      else if (r.id === undefined) this.onNotice(r.level, r.message);
      return;
    }
    const t = this.running.get(r.id);
    if (!t) return;
    this.running.delete(r.id);
    t.thread.transfers--;
    t.callbacks.onDone(r.done);
  }
}
