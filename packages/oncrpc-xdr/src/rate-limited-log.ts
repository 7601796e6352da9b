/**
 * Keeps a flood of bad packets from becoming a flood of log lines: at most
 * `burst` lines per `windowMs` for each key; when a window ends, one line
 * says how many were suppressed.
 */
export class RateLimitedLog {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly sink: (line: string) => void,
    private readonly windowMs = 10_000,
    private readonly burst = 5,
    private readonly now: () => number = Date.now,
  ) {}

  log(key: string, line: string): void {
    const t = this.now();
    let w = this.windows.get(key);
    if (w && t - w.start >= this.windowMs) {
      if (w.count > this.burst) this.sink(`${key}: ${w.count - this.burst} similar messages suppressed`);
      w = undefined;
    }
    if (!w) {
      if (this.windows.size >= 1000) this.windows.clear();
      w = { start: t, count: 0 };
      this.windows.set(key, w);
    }
    if (++w.count <= this.burst) this.sink(line);
  }
}
