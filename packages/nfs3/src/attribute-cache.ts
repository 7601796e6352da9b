import { BoundedMap } from './bounded-map.js';

/** A class, not a literal: see attributes.ts on allocation sites and pretenuring. */
class Entry<T> {
  constructor(
    readonly st: T,
    readonly until: number,
  ) {}
}

/**
 * Recent attributes by object (the local backend keys them by path from the
 * export root), so that the handle check every call makes and the lookup of
 * a name just looked up cost a map lookup instead of a system call. The
 * backend keeps it right for its own changes: a WRITE stores the attributes
 * it produced, and SETATTR and every change to a directory's entries clear
 * the cache (paths below a renamed directory change). Changes made beside
 * the server, on the master itself, show after at most `ttlMs`, as
 * NFS-Ganesha's attribute expiry (60 s there) and much like a client's own
 * attribute cache. Errors (ENOENT...) are never cached. `ttlMs` 0 turns it off.
 */
export class AttributeCache<T> {
  private readonly entries: BoundedMap<string, Entry<T>>;

  constructor(
    readonly ttlMs = 1000,
    maxEntries = 65536,
  ) {
    this.entries = new BoundedMap(maxEntries);
  }

  /** The attributes stored for `key` while fresh, else `load()`'s (stored); throws as `load` does. */
  get(key: string, load: () => T): T {
    const now = performance.now();
    const e = this.entries.get(key);
    if (e && e.until > now) return e.st;
    const st = load();
    this.store(key, st, now);
    return st;
  }

  /** The attributes stored for `key` while fresh, else undefined. */
  fresh(key: string): T | undefined {
    const e = this.entries.get(key);
    return e && e.until > performance.now() ? e.st : undefined;
  }

  /** Attributes the backend just read or produced for `key`. */
  set(key: string, st: T): void {
    this.store(key, st, performance.now());
  }

  private store(key: string, st: T, now: number): void {
    if (this.ttlMs <= 0) return;
    this.entries.set(key, new Entry(st, now + this.ttlMs));
  }

  forget(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
