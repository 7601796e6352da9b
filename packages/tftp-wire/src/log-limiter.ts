import type { LogLevel } from './transfer.js';

export type Logger = (level: LogLevel, message: string) => void;

/**
 * Passes at most `burst` messages of one kind per `periodMs`, then one line
 * saying how many were suppressed, so a peer spraying garbage cannot flood
 * the log.
 */
export class LogLimiter {
  private readonly kinds = new Map<string, { start: number; count: number; suppressed: number }>();

  constructor(
    private readonly log: Logger,
    private readonly burst = 5,
    private readonly periodMs = 10_000,
  ) {}

  write(kind: string, level: LogLevel, message: string, now: number): void {
    let k = this.kinds.get(kind);
    if (!k || now - k.start >= this.periodMs) {
      if (k && k.suppressed > 0) this.log(level, `${k.suppressed} more "${kind}" messages suppressed`);
      k = { start: now, count: 0, suppressed: 0 };
      this.kinds.set(kind, k);
      if (this.kinds.size > 256) this.kinds.delete(this.kinds.keys().next().value!);
    }
    if (++k.count <= this.burst) this.log(level, message);
    else k.suppressed++;
  }
}
