import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { showBytes } from './byte-path.js';
import { NfsError } from './errno-status.js';
import { NfsStat } from './nfs3-constants.js';

interface Opened {
  fh: FileHandle;
  writable: boolean;
}

interface Entry {
  fh: Promise<Opened>;
  ino: bigint;
  refs: number;
  lastUsed: number;
  doomed: boolean;
}

/**
 * A bounded LRU of open file descriptors, so READ and WRITE don't open the
 * file per request. Files are opened with O_NOFOLLOW and checked against the
 * inode the handle names; entries idle for `idleMs` are closed, and REMOVE or
 * RENAME closes the entry (once no request still uses it).
 */
export class OpenFiles {
  private readonly entries = new Map<string, Entry>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly max = 256,
    private readonly idleMs = 30_000,
  ) {
    this.timer = setInterval(() => this.sweep(Date.now()), Math.max(1000, idleMs / 2));
    this.timer.unref();
  }

  /**
   * Runs `fn` with an open descriptor of `path` (which must be inode `ino`).
   * A descriptor opened read-only (the server could not open it for writing)
   * is reopened when a write needs it.
   */
  async use<T>(key: string, path: Buffer, ino: bigint, fn: (fh: FileHandle) => Promise<T>, write = false): Promise<T> {
    let e = this.entries.get(key);
    if (e && write && !(await e.fh.then((o) => o.writable, () => true))) {
      this.drop(key);
      e = undefined;
    }
    if (e && e.ino !== ino) {
      this.drop(key);
      e = undefined;
    }
    if (!e) {
      e = { fh: openChecked(path, ino), ino, refs: 0, lastUsed: Date.now(), doomed: false };
      e.fh.catch(() => this.entries.get(key) === e && this.entries.delete(key));
      this.entries.set(key, e);
      this.evict();
    } else {
      this.entries.delete(key); // re-insert: Map order is the LRU order
      this.entries.set(key, e);
    }
    e.refs++;
    e.lastUsed = Date.now();
    try {
      const opened = await e.fh;
      if (write && !opened.writable) {
        const err = new Error(`${showBytes(path)} cannot be opened for writing`) as NodeJS.ErrnoException;
        err.code = 'EACCES';
        throw err;
      }
      return await fn(opened.fh);
    } finally {
      e.refs--;
      if (e.doomed && e.refs === 0) void closeQuietly(e);
    }
  }

  /** Closes the descriptor of `key` when nobody uses it any more. */
  drop(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    e.doomed = true;
    if (e.refs === 0) void closeQuietly(e);
  }

  private evict(): void {
    for (const [key, e] of this.entries) {
      if (this.entries.size <= this.max) break;
      if (e.refs === 0) this.drop(key);
    }
  }

  private sweep(now: number): void {
    for (const [key, e] of this.entries) if (e.refs === 0 && now - e.lastUsed > this.idleMs) this.drop(key);
  }

  close(): void {
    clearInterval(this.timer);
    for (const key of [...this.entries.keys()]) this.drop(key);
  }
}

async function openChecked(path: Buffer, ino: bigint): Promise<Opened> {
  let fh: FileHandle;
  let writable = true;
  try {
    fh = await open(path, constants.O_RDWR | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EROFS' && code !== 'ETXTBSY' && code !== 'EPERM') throw err;
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    writable = false;
  }
  const st = await fh.stat({ bigint: true });
  if (st.ino !== ino) {
    await fh.close();
    throw new NfsError(NfsStat.STALE, `${showBytes(path)} changed under its handle`);
  }
  return { fh, writable };
}

async function closeQuietly(e: Entry): Promise<void> {
  try {
    await (await e.fh).fh.close();
  } catch {
    // it never opened, or is already closed
  }
}
