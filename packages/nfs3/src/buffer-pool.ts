/**
 * Buffers for READ data, lent to a reply and returned once the RPC server
 * has written it (`onSent`), so a stream of large reads does not allocate a
 * fresh megabyte per call. Bounded: a pool never holds more than `keep`.
 */
export class BufferPool {
  private readonly free: Buffer[] = [];

  constructor(
    readonly size: number,
    private readonly keep = 32,
  ) {}

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafe(this.size);
  }

  give(b: Buffer): void {
    if (b.length === this.size && this.free.length < this.keep) this.free.push(b);
  }
}
