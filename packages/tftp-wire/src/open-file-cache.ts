import { open, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';

/** What tells one version of a file from another (a stat's fields; plain numbers, so it crosses to a worker thread). */
export type FileIdentity = Pick<Stats, 'dev' | 'ino' | 'size' | 'mtimeMs'>;

/** An open file shared by the transfers reading it. */
export interface OpenFile {
  readonly handle: FileHandle;
  readonly size: number;
}

interface Entry extends OpenFile {
  key: string;
  refs: number;
  evicted: boolean;
}

/** An open() under way, shared by every transfer that asks for the same file meanwhile. */
interface Opening {
  done: Promise<Entry>;
  waiters: number;
}

/**
 * Keeps recently served files open (bounded, least recently used first out),
 * so the hundred nodes that boot together fetch the kernel through one open
 * fd instead of an open() each. An entry is reused only while the file's
 * identity (device, inode, size, mtime) is unchanged, so a replaced kernel is
 * seen at once. Requests that arrive while a file is being opened wait for
 * that one open: two opens of one key would leave the first handle out of the
 * cache, closed by nobody but the garbage collector.
 */
export class OpenFileCache {
  private readonly entries = new Map<string, Entry>();
  private readonly opening = new Map<string, Opening>();
  private closed = false;

  constructor(private readonly capacity = 64) {}

  /** Opens (or reuses) `path` whose current stat is `st`; pair with `release`. */
  async acquire(path: string, st: FileIdentity): Promise<OpenFile> {
    const key = `${path}\0${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key); // re-insert: most recently used last
      this.entries.set(key, hit);
      hit.refs++;
      return hit;
    }
    const pending = this.opening.get(key) ?? this.startOpening(key, path, st.size);
    pending.waiters++;
    return pending.done;
  }

  private startOpening(key: string, path: string, size: number): Opening {
    const opening = { waiters: 0 } as Opening;
    opening.done = this.open(key, path, size, opening);
    this.opening.set(key, opening);
    return opening;
  }

  /** Opens one file for all its waiters: their references are counted when the handle exists, before any of them resumes. */
  private async open(key: string, path: string, size: number, opening: Opening): Promise<Entry> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } finally {
      this.opening.delete(key);
    }
    const entry: Entry = { key, handle, size, refs: opening.waiters, evicted: false };
    if (this.closed) {
      // Closed while opening: the waiters still read it, and the last release closes it.
      entry.evicted = true;
      return entry;
    }
    this.entries.set(key, entry);
    for (const [k, e] of this.entries) {
      if (this.entries.size <= this.capacity) break;
      this.entries.delete(k);
      e.evicted = true;
      if (e.refs === 0) void e.handle.close().catch(() => {});
    }
    return entry;
  }

  release(file: OpenFile): void {
    const e = file as Entry;
    if (--e.refs === 0 && e.evicted) void e.handle.close().catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.entries.values()];
    this.entries.clear();
    for (const e of all) {
      e.evicted = true;
      if (e.refs === 0) await e.handle.close().catch(() => {});
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
