import { close, read } from 'node:fs';
import type { Stats } from 'node:fs';
import { promisify } from 'node:util';

const readAsync = promisify(read);

/** What tells one version of a file from another (a stat's fields; plain numbers, so it crosses to a worker thread). */
export type FileIdentity = Pick<Stats, 'dev' | 'ino' | 'size' | 'mtimeMs'>;

/** An open file shared by the transfers reading it. */
export interface OpenFile {
  readonly fd: number;
  readonly size: number;
}

/** Reads `length` bytes at `position` of an open file into `buf` at `offset`; resolves with how many arrived. */
export async function readAt(file: OpenFile, buf: Buffer, offset: number, length: number, position: number): Promise<number> {
  return (await readAsync(file.fd, buf, offset, length, position)).bytesRead;
}

interface Entry extends OpenFile {
  key: string;
  refs: number;
  evicted: boolean;
}

/**
 * Keeps recently served files open (bounded, least recently used first out),
 * so the hundred nodes that boot together read the kernel through one fd.
 * The caller opens the file (beneath the root, see ServedRoot) and hands its
 * descriptor over with the descriptor's own fstat; an entry is reused only
 * while that identity (device, inode, size, mtime) is unchanged, so a
 * replaced kernel is seen at once, and a descriptor already cached for the
 * same file is closed at once. Descriptors are raw numbers, closed here
 * explicitly, never left to the garbage collector.
 */
export class OpenFileCache {
  private readonly entries = new Map<string, Entry>();
  private closed = false;

  constructor(private readonly capacity = 64) {}

  /** Takes over `fd`, whose fstat is `st`, or closes it in favour of the cached fd of the same file; pair with `release`. */
  adopt(fd: number, st: FileIdentity): OpenFile {
    const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
    const hit = this.entries.get(key);
    if (hit) {
      close(fd, () => {});
      this.entries.delete(key); // re-insert: most recently used last
      this.entries.set(key, hit);
      hit.refs++;
      return hit;
    }
    const entry: Entry = { key, fd, size: st.size, refs: 1, evicted: false };
    if (this.closed) {
      // Closed meanwhile: the reader still reads it, and its release closes it.
      entry.evicted = true;
      return entry;
    }
    this.entries.set(key, entry);
    for (const [k, e] of this.entries) {
      if (this.entries.size <= this.capacity) break;
      this.entries.delete(k);
      e.evicted = true;
      if (e.refs === 0) close(e.fd, () => {});
    }
    return entry;
  }

  release(file: OpenFile): void {
    const e = file as Entry;
    if (--e.refs === 0 && e.evicted) close(e.fd, () => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.entries.values()];
    this.entries.clear();
    for (const e of all) {
      e.evicted = true;
      if (e.refs === 0) await new Promise<void>((resolve) => close(e.fd, () => resolve()));
    }
  }
}

/** Reusable read buffers by size, so a transfer does not allocate its window buffer anew. */
export class BufferPool {
  private readonly free = new Map<number, Buffer[]>();

  constructor(private readonly perSize = 8) {}

  take(size: number): Buffer {
    return this.free.get(size)?.pop() ?? Buffer.allocUnsafe(size);
  }

  give(buf: Buffer): void {
    const list = this.free.get(buf.length) ?? [];
    if (list.length < this.perSize) list.push(buf);
    this.free.set(buf.length, list);
  }
}
