import { execFile } from 'node:child_process';
import type { HookAction } from './config-resolve.js';

export interface HookRunnerOptions {
  /** A program still running after this is killed (ms). */
  timeoutMs?: number;
  /** Programs running at once. */
  concurrency?: number;
  /** Programs waiting to run; beyond this new ones are dropped and counted. */
  queueLimit?: number;
  /** Bytes of a program's output kept for the log. */
  maxOutput?: number;
  log: (line: string) => void;
}

type Execute = Extract<HookAction, { kind: 'execute' }>;

/**
 * Runs the programs `on commit|release|expiry { execute(...); }` names: as
 * child processes without a shell (execFile), off the event loop, a few at a
 * time, each bounded in time, with its output in the log. A server never
 * waits for a hook: a burst of leases beyond the queue drops hooks, said in
 * the log, rather than letting processes pile up.
 */
export class HookRunner {
  private running = 0;
  private readonly queue: Execute[] = [];
  private dropped = 0;
  private readonly timeoutMs: number;
  private readonly concurrency: number;
  private readonly queueLimit: number;
  private readonly maxOutput: number;
  private idle: (() => void)[] = [];

  constructor(private readonly opts: HookRunnerOptions) {
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.concurrency = opts.concurrency ?? 4;
    this.queueLimit = opts.queueLimit ?? 64;
    this.maxOutput = opts.maxOutput ?? 4096;
  }

  run(actions: readonly HookAction[]): void {
    for (const a of actions) {
      if (a.kind === 'log') {
        this.opts.log(a.line);
        continue;
      }
      if (this.running < this.concurrency) this.start(a);
      else if (this.queue.length < this.queueLimit) this.queue.push(a);
      else {
        this.dropped++;
        if (this.dropped === 1 || this.dropped % 100 === 0) {
          this.opts.log(`${a.where}: execute("${a.program}") not run: ${this.concurrency} hooks running and ${this.queueLimit} waiting (${this.dropped} dropped so far)`);
        }
      }
    }
  }

  /** Resolves once no hook runs or waits (for tests and shutdown). */
  settled(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  private start(a: Execute): void {
    this.running++;
    execFile(
      a.program,
      a.args,
      { timeout: this.timeoutMs, killSignal: 'SIGKILL', maxBuffer: this.maxOutput * 4, encoding: 'latin1', windowsHide: true },
      (err, stdout, stderr) => {
        const out = `${stdout}${stderr}`.trim();
        const shown = out.length > this.maxOutput ? `${out.slice(0, this.maxOutput)}...` : out;
        const e = err as (NodeJS.ErrnoException & { killed?: boolean; code?: number | string }) | null;
        let status = 'exit 0';
        if (e?.killed) status = `killed after ${this.timeoutMs} ms`;
        else if (e && typeof e.code === 'number') status = `exit ${e.code}`;
        else if (e) status = e.message;
        this.opts.log(`${a.where}: execute("${a.program}"${a.args.map((x) => `, "${x}"`).join('')}): ${status}${shown ? `: ${shown}` : ''}`);
        this.running--;
        const next = this.queue.shift();
        if (next) this.start(next);
        else if (this.running === 0) {
          for (const r of this.idle.splice(0)) r();
        }
      },
    );
  }
}
