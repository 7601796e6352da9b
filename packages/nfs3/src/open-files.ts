import { close } from 'node:fs';

/** An open descriptor of a regular file, and whether it was opened for writing. */
export interface Opened {
  fd: number;
  writable: boolean;
}

interface Entry {
  fd: Promise<Opened>;
  /** What `fd` resolved to, once it has: a call then takes it without waiting a microtask turn. */
  opened: Opened | undefined;
  ino: bigint;
  refs: number;
  /** Used since eviction last passed it: it is passed over once more (a second chance). */
  used: boolean;
  /** `OpenFiles.tick` when last used: how long it has been idle, in sweeps. */
  usedTick: number;
  doomed: boolean;
}

/**
 * A bounded set of open file descriptors, so READ and WRITE don't open the
 * file per request. The backend opens them (checked against the inode the
 * handle names); entries idle for `idleMs` are closed, and REMOVE or RENAME
 * closes the entry (once no request still uses it).
 *
 * Recency is kept as a CLOCK (second chance), not as Map order: a hit only
 * sets two fields, where deleting and re-inserting the entry to move it to the
 * end of the Map cost about a fifth of a cached READ. Eviction walks the Map
 * from its oldest insertion, moving an entry used since the last pass to the
 * end and closing the first one that was not. Idleness is counted in sweeps of
 * the timer, so a hit does not read the clock either.
 */
export class OpenFiles {
  private readonly entries = new Map<string, Entry>();
  private readonly timer: NodeJS.Timeout;
  /** Sweeps so far; an entry is idle once this is past its `usedTick` by `idleTicks`. */
  private tick = 0;
  private readonly idleTicks: number;

  constructor(
    private readonly max = 256,
    idleMs = 30_000,
  ) {
    // A sweep every half `idleMs` closes what was not used for 2 to 3 of them: idle for `idleMs` to 1.5 `idleMs`.
    const period = Math.max(1000, idleMs / 2);
    this.idleTicks = Math.max(2, Math.ceil(idleMs / period));
    this.timer = setInterval(() => this.sweep(), period);
    this.timer.unref();
  }

  /**
   * Runs `fn` with an open descriptor of inode `ino`, opened by `open` when none is.
   * A descriptor opened read-only (the server could not open it for writing)
   * is reopened when a write needs it.
   */
  async use<T>(key: string, ino: bigint, open: () => Promise<Opened>, fn: (fd: number) => Promise<T>, write = false): Promise<T> {
    let e = this.entries.get(key);
    if (e && write && !e.opened) {
      // Whether it is writable is known once its open ends; the set may change meanwhile, so it is read again.
      await e.fd.then(
        () => {},
        () => {},
      );
      e = this.entries.get(key);
    }
    if (e && ((write && !e.opened?.writable) || e.ino !== ino)) {
      void this.drop(key);
      e = undefined;
    }
    // From here to the reference taken below nothing waits: the entry is the set's, not one dropped meanwhile.
    const created = !e;
    if (!e) {
      const entry: Entry = { fd: open(), opened: undefined, ino, refs: 0, used: false, usedTick: this.tick, doomed: false };
      entry.fd.then(
        (o) => (entry.opened = o),
        () => this.entries.get(key) === entry && this.entries.delete(key),
      );
      e = entry;
      this.entries.set(key, e);
    } else {
      e.used = true;
    }
    e.refs++;
    e.usedTick = this.tick;
    // Only once this call holds it: eviction never closes an entry in use, and a new one is not used since
    // eviction last passed, so before the reference it could close the very descriptor this call waits for.
    if (created) this.evict();
    try {
      const opened = e.opened ?? (await e.fd);
      if (write && !opened.writable) {
        const err = new Error(`inode ${ino} cannot be opened for writing`) as NodeJS.ErrnoException;
        err.code = 'EACCES';
        throw err;
      }
      return await fn(opened.fd);
    } finally {
      this.unref(e);
    }
  }

  /**
   * The descriptor `use` would give for inode `ino` when it is open already (its open has finished; for
   * `write`, opened for writing), marked as used; undefined when `use` must open it. For a caller done with it before it yields: a
   * descriptor is only ever closed after an await, so it needs no reference held.
   */
  openNow(key: string, ino: bigint, write = false): number | undefined {
    const e = this.entries.get(key);
    if (!e?.opened || e.ino !== ino || (write && !e.opened.writable)) return undefined;
    e.used = true;
    e.usedTick = this.tick;
    return e.opened.fd;
  }

  /**
   * openNow for a caller that waits while it uses the descriptor: held as `use` holds it (a REMOVE or
   * RENAME meanwhile closes it only once `release` is called, which must be called once).
   */
  holdNow(key: string, ino: bigint): { fd: number; release: () => void } | undefined {
    const fd = this.openNow(key, ino);
    if (fd === undefined) return undefined;
    const e = this.entries.get(key)!;
    e.refs++;
    return { fd, release: () => this.unref(e) };
  }

  private unref(e: Entry): void {
    e.refs--;
    if (e.doomed && e.refs === 0) void closeQuietly(e);
  }

  /**
   * Closes the descriptor of `key` when nobody uses it any more; resolves once it is closed (at once when
   * a request still uses it: the last one closes it).
   */
  drop(key: string): Promise<void> {
    const e = this.entries.get(key);
    if (!e) return Promise.resolve();
    this.entries.delete(key);
    e.doomed = true;
    return e.refs === 0 ? closeQuietly(e) : Promise.resolve();
  }

  /** Drops (as `drop`) every entry whose key starts with `prefix`; resolves once those are closed. */
  dropPrefix(prefix: string): Promise<void> {
    const keys = [...this.entries.keys()].filter((k) => k.startsWith(prefix));
    return Promise.all(keys.map((k) => this.drop(k))).then(() => {});
  }

  /**
   * Closes the oldest entries not used since the last pass until at most `max` are open (in use ones
   * stay). Bounded: an entry moved to the end has its mark cleared, so the walk meets it at most twice.
   */
  private evict(): void {
    for (const [key, e] of this.entries) {
      if (this.entries.size <= this.max) break;
      if (e.refs > 0) continue;
      if (e.used) {
        e.used = false;
        this.entries.delete(key);
        this.entries.set(key, e);
      } else {
        void this.drop(key);
      }
    }
  }

  private sweep(): void {
    this.tick++;
    for (const [key, e] of this.entries) if (e.refs === 0 && this.tick - e.usedTick > this.idleTicks) void this.drop(key);
  }

  close(): void {
    clearInterval(this.timer);
    for (const key of [...this.entries.keys()]) void this.drop(key);
  }
}

async function closeQuietly(e: Entry): Promise<void> {
  try {
    const { fd } = await e.fd;
    await new Promise<void>((resolve) => close(fd, () => resolve()));
  } catch {
    // it never opened
  }
}
