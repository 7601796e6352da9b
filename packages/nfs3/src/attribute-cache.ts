import { lstatSync, type BigIntStats } from 'node:fs';
import { keyBytes, pathKey } from './byte-path.js';

interface Entry {
  st: BigIntStats;
  until: number;
}

/**
 * Recent lstat results by path (keyed by its bytes), so that the handle check every call makes
 * and the lookup of a name just looked up cost a map lookup instead of a
 * system call and a BigIntStats. The server keeps it right for its own
 * changes: a WRITE stores the attributes it produced, and SETATTR and every
 * change to a directory's entries clear the cache (paths below a renamed
 * directory change). Changes made beside the server, on the
 * master itself, show after at most `ttlMs`, as NFS-Ganesha's attribute
 * expiry (60 s there) and much like a client's own attribute cache. Errors
 * (ENOENT...) are never cached. `ttlMs` 0 turns it off.
 */
export class AttributeCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    readonly ttlMs = 1000,
    private readonly maxEntries = 65536,
  ) {}

  /** lstat(path), from the cache while fresh; throws as lstatSync does. */
  lstat(path: Buffer): BigIntStats {
    return this.lstatKey(pathKey(path), path);
  }

  /** lstat of the path whose bytes are `key` (pathKey): a hit builds no Buffer. */
  lstatKey(key: string, path?: Buffer): BigIntStats {
    const now = performance.now();
    const e = this.entries.get(key);
    if (e && e.until > now) return e.st;
    // Synchronous: a cached inode takes microseconds, several times less than the thread-pool round trip.
    const st = lstatSync(path ?? keyBytes(key), { bigint: true });
    this.store(key, st, now);
    return st;
  }

  /** Attributes the server just read or produced for `path`. */
  set(path: Buffer, st: BigIntStats): void {
    this.store(pathKey(path), st, performance.now());
  }

  private store(key: string, st: BigIntStats, now: number): void {
    if (this.ttlMs <= 0) return;
    this.entries.delete(key);
    // Oldest first in insertion order: full, the oldest entry goes.
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { st, until: now + this.ttlMs });
  }

  forget(path: Buffer): void {
    this.entries.delete(pathKey(path));
  }

  clear(): void {
    this.entries.clear();
  }
}
