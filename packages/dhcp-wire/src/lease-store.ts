import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync, write, fdatasync, close } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { formatLease, parseLeaseFile } from './lease-file.js';
import type { Lease } from './lease.js';

export interface LeaseStoreOptions {
  /** Compact once the file holds this many more records than there are live leases. */
  compactSlack?: number;
  /** The live leases, written out by compaction. */
  snapshot: () => Iterable<Lease>;
}

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}

/**
 * Append-only lease log. `commit` resolves once the record is on disk
 * (written and fdatasync'ed), so a reply sent after it can never name a lease
 * that a crash forgets. Commits that arrive while a sync is running share the
 * next one: one fdatasync covers every pending record.
 */
export class LeaseStore {
  private pending: string[] = [];
  private waiters: Waiter[] = [];
  private flushing = false;
  private records: number;
  private closed = false;

  private constructor(
    readonly path: string,
    private fd: number,
    records: number,
    private readonly opts: LeaseStoreOptions,
  ) {
    this.records = records;
  }

  /** Reads the existing file (if any) and opens it for appending. */
  static open(path: string, opts: LeaseStoreOptions): { store: LeaseStore; leases: Lease[]; bad: number } {
    let text = '';
    try {
      text = readFileSync(path, 'latin1');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const { leases, bad } = parseLeaseFile(text);
    if (text.length > 0 && !text.endsWith('\n')) {
      // Cut the torn record so the next append starts on a line of its own.
      const keep = text.slice(0, text.lastIndexOf('\n') + 1);
      writeAtomically(path, keep);
    }
    const fd = openSync(path, 'a');
    syncDir(path);
    return { store: new LeaseStore(path, fd, leases.length, opts), leases, bad };
  }

  /** Appends `lease`; resolves when it is durable. */
  commit(lease: Lease): Promise<void> {
    if (this.closed) return Promise.reject(new Error('lease store is closed'));
    this.pending.push(formatLease(lease));
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.flushing) this.flush();
    return p;
  }

  private flush(): void {
    this.flushing = true;
    const lines = this.pending;
    const waiters = this.waiters;
    this.pending = [];
    this.waiters = [];
    const data = Buffer.from(lines.join(''), 'latin1');
    const fail = (e: Error) => {
      for (const w of waiters) w.reject(e);
      this.next();
    };
    writeAll(this.fd, data, (err) => {
      if (err) return fail(err);
      fdatasync(this.fd, (err2) => {
        if (err2) return fail(err2);
        this.records += lines.length;
        for (const w of waiters) w.resolve();
        this.next();
      });
    });
  }

  private next(): void {
    this.flushing = false;
    if (this.shouldCompact()) {
      try {
        this.compact();
      } catch {
        // Compaction is an optimisation: the log stays valid if it fails.
      }
    }
    if (this.pending.length > 0 && !this.closed) this.flush();
  }

  private shouldCompact(): boolean {
    const slack = this.opts.compactSlack ?? 10_000;
    return this.records > slack && this.records > 2 * this.liveCount();
  }

  private liveCount(): number {
    let n = 0;
    for (const _ of this.opts.snapshot()) n++;
    return n;
  }

  /** Rewrites the file with only the live leases: temp file, fsync, rename over, fsync the directory. */
  compact(): void {
    let text = '';
    let n = 0;
    for (const l of this.opts.snapshot()) {
      text += formatLease(l);
      n++;
    }
    writeAtomically(this.path, text);
    closeSync(this.fd);
    this.fd = openSync(this.path, 'a');
    this.records = n;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        if (this.closed) return resolve();
        this.closed = true;
        close(this.fd, () => resolve());
      };
      if (!this.flushing && this.pending.length === 0) return done();
      const wait = () => (this.flushing || this.pending.length > 0 ? setTimeout(wait, 5) : done());
      wait();
    });
  }
}

function writeAll(fd: number, data: Buffer, cb: (err: Error | null) => void): void {
  write(fd, data, 0, data.length, null, (err, n) => {
    if (err) return cb(err);
    if (n < data.length) return writeAll(fd, data.subarray(n), cb);
    cb(null);
  });
}

function writeAtomically(path: string, text: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, text, 0, 'latin1');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  syncDir(path);
}

function syncDir(path: string): void {
  const fd = openSync(dirname(path), 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
