import { native } from '@netboot/platform';
import { readAt, type BufferPool, type OpenFile, type OpenFileCache } from './open-file-cache.js';
import type { DataSource } from './transfer-driver.js';

/**
 * Reads ahead at least this much per file read, so a lock-step transfer with
 * small blocks does not read per packet. A lock-step transfer reads less at a
 * time: a boot storm runs a hundred of them at once, each holding its chunk
 * and a script of it (see WindowScript); a windowed one is few and fast.
 */
const READ_AHEAD = 128 * 1024;
const READ_AHEAD_WINDOWED = 256 * 1024;

/**
 * Serves a window of a cached open file from one pooled buffer: a read fills
 * it with the window and what follows, and retransmissions of the same blocks
 * are answered from it without touching the file again. A chunk the page
 * cache holds whole is read on the spot (preadv2 RWF_NOWAIT, where the
 * platform module loaded), so the transfer goes on in the same turn; only a
 * chunk that would wait for the disk goes to libuv's pool.
 */
export class FileSource implements DataSource {
  private buf: Buffer | undefined;
  private bufStart = 0;
  private bufEnd = 0;
  private readonly chunk: number;
  /** Whether a read that never waits is worth trying (not on a file system without them). */
  private nowait = native !== undefined;

  constructor(
    private readonly file: OpenFile,
    private readonly cache: OpenFileCache,
    private readonly pool: BufferPool,
    blksize: number,
    windowsize: number,
  ) {
    this.chunk = blksize * Math.max(windowsize, Math.ceil((windowsize > 1 ? READ_AHEAD_WINDOWED : READ_AHEAD) / blksize));
  }

  view(start: number, end: number): Buffer | Promise<Buffer> {
    if (this.buf && start >= this.bufStart && end <= this.bufEnd) {
      return this.buf.subarray(start - this.bufStart, end - this.bufStart);
    }
    this.buf ??= this.pool.take(this.chunk);
    if (this.nowait && this.fillCached(start)) return this.buf.subarray(0, end - start);
    return this.fill(start, end);
  }

  /** Fills the buffer from the page cache alone; false when part of the chunk is not cached. */
  private fillCached(start: number): boolean {
    const want = Math.min(this.chunk, this.file.size - start);
    this.bufEnd = this.bufStart; // the buffer is rewritten: nothing in it stands until a read completes
    let got: number;
    try {
      got = native!.preadNowait(this.file.fd, this.buf!, 0, want, start);
    } catch {
      this.nowait = false; // EOPNOTSUPP and the like: the pool reads from now on
      return false;
    }
    if (got !== want) return false;
    this.bufStart = start;
    this.bufEnd = start + got;
    return true;
  }

  get fd(): number {
    return this.file.fd;
  }

  loadedEnd(start: number): number {
    return this.buf && start >= this.bufStart && start <= this.bufEnd ? this.bufEnd : start;
  }

  private async fill(start: number, end: number): Promise<Buffer> {
    const buf = this.buf!;
    const want = Math.min(this.chunk, this.file.size - start);
    let got = 0;
    while (got < want) {
      const bytesRead = await readAt(this.file, buf, got, want - got, start + got);
      if (bytesRead === 0) throw new Error(`the file shrank to ${start + got} bytes during the transfer`);
      got += bytesRead;
    }
    this.bufStart = start;
    this.bufEnd = start + got;
    return buf.subarray(0, end - start);
  }

  close(): void {
    if (this.buf) this.pool.give(this.buf);
    this.buf = undefined;
    this.cache.release(this.file);
  }
}

/** Serves bytes already in memory (a netascii conversion, or a client's upload). */
export class MemorySource implements DataSource {
  constructor(private readonly bytes: Buffer) {}

  view(start: number, end: number): Buffer {
    return this.bytes.subarray(start, end);
  }

  loadedEnd(): number {
    return this.bytes.length;
  }

  close(): void {}
}
