/**
 * Large buffers lent for the length of one call and given back, so a stream
 * of large calls does not allocate a fresh megabyte each (a fresh buffer
 * costs more than the copy into it: page faults and garbage collection).
 * The NFS server lends READ data buffers until the reply is written; the RPC
 * server lends the buffers large TCP records are joined in. Bounded: a pool
 * never keeps more than `keep` free buffers. Only buffers lent and not yet
 * given back are taken back, so a second give() of one is harmless.
 */
export class BufferPool {
  private readonly free: Buffer[] = [];
  // Weak: a buffer never given back (its connection reset mid-reply) is simply collected.
  private readonly lent = new WeakSet<ArrayBufferLike>();
  private lentNow = 0;

  constructor(
    readonly size: number,
    private readonly keep = 32,
  ) {}

  /** A buffer of `size` bytes, or a view of its first `length`. */
  take(length = this.size): Buffer {
    const b = this.free.pop() ?? Buffer.allocUnsafeSlow(this.size);
    this.lent.add(b.buffer);
    this.lentNow++;
    return length === this.size ? b : b.subarray(0, length);
  }

  /** Buffers lent and not given back (one never given back stays counted). */
  get lentCount(): number {
    return this.lentNow;
  }

  /** Whether `b` is (a view of) a buffer this pool lent and has not got back. */
  isLent(b: Buffer): boolean {
    return this.lent.has(b.buffer);
  }

  /** Gives back what take() returned (or any view of it). */
  give(b: Buffer): void {
    if (!this.lent.delete(b.buffer)) return;
    this.lentNow--;
    if (this.free.length < this.keep) this.free.push(Buffer.from(b.buffer, 0, this.size));
  }
}
