export interface RateLimitOptions {
  /** Lines of one key written per window (5). */
  burst?: number;
  /** The window, in the clock's milliseconds (10 s). */
  windowMs?: number;
  /** Keys remembered; past it the key whose window opened first is forgotten (1000). */
  maxKeys?: number;
  /** The clock (Date.now); any monotonic millisecond clock works. */
  now?: () => number;
}

/**
 * Keeps a flood of bad packets from becoming a flood of log lines: at most
 * `burst` lines per window for each key (a kind of message: "malformed",
 * "busy"); the first line of a key after its window ends is preceded by one
 * line saying how many were suppressed, so nothing is dropped silently.
 *
 * `Level` travels with each line to the sink unchanged (TFTP's log levels);
 * a sink without levels leaves it out: `new RateLimitedLog((line) => ...)`
 * and `log.log(key, line)`.
 */
export class RateLimitedLog<Level = void> {
  private readonly windows = new Map<string, { start: number; count: number }>();
  private readonly burst: number;
  private readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(
    private readonly sink: (line: string, level: Level) => void,
    options: RateLimitOptions = {},
  ) {
    this.burst = options.burst ?? 5;
    this.windowMs = options.windowMs ?? 10_000;
    this.maxKeys = Math.max(1, options.maxKeys ?? 1000);
    this.now = options.now ?? Date.now;
  }

  log(key: string, line: string, level: Level): void {
    const t = this.now();
    let w = this.windows.get(key);
    if (w && t - w.start >= this.windowMs) {
      if (w.count > this.burst) this.sink(`${key}: ${w.count - this.burst} similar messages suppressed`, level);
      this.windows.delete(key);
      w = undefined;
    }
    if (!w) {
      if (this.windows.size >= this.maxKeys) this.windows.delete(this.windows.keys().next().value!);
      w = { start: t, count: 0 };
      this.windows.set(key, w);
    }
    if (++w.count <= this.burst) this.sink(line, level);
  }
}
