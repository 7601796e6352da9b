import { BoundedMap } from '@netboot/nfs3';

/** A class, not an object literal, as nfs3's cache entries: V8 pretenures a literal whose objects the cache keeps, and throws away the code it was inlined into. */
class Entry<T> {
  constructor(
    readonly value: T,
    /** Until when it is taken as it is (performance.now()). */
    public until: number,
  ) {}
}

/**
 * Where the merged names of a node's root were found lately, by path (see
 * OverlayFs.located). As nfs3's AttributeCache, an entry is taken as it is
 * for `ttlMs`; unlike it, an entry past that is not dropped but offered to
 * a check (`recheck`) that may vouch for it again, for up to another
 * `ttlMs`, at less cost than finding it anew: for a name only the image
 * holds, that the node's layer still has nothing above it (the image never
 * changes). `ttlMs` 0 keeps nothing.
 */
export class LocationCache<T> {
  private readonly entries: BoundedMap<string, Entry<T>>;

  /**
   * `load`: finds the entry of a key anew (may throw: nothing is kept then); `recheck`: until when
   * (performance.now(), at most `now` + `ttlMs`) an entry past its time still holds, 0 or a time not after `now`
   * when it does not. Given once, so a lookup makes no closure.
   */
  constructor(
    readonly ttlMs: number,
    private readonly load: (key: string) => T,
    private readonly recheck: (key: string, stale: T, now: number) => number,
    maxEntries = 65536,
  ) {
    this.entries = new BoundedMap(maxEntries);
  }

  /**
   * The entry for `key` while fresh; past its time, the same entry when `recheck` vouches for it (kept
   * as long as it says); else `load`'s (stored). Throws as `load` does.
   */
  get(key: string): T {
    const now = performance.now();
    const e = this.entries.get(key);
    if (e !== undefined) {
      if (e.until > now) return e.value;
      const until = Math.min(this.recheck(key, e.value, now), now + this.ttlMs);
      if (until > now) {
        e.until = until;
        return e.value;
      }
    }
    const value = this.load(key);
    this.store(key, value, now);
    return value;
  }

  /** The entry for `key` while fresh, else undefined. */
  fresh(key: string): T | undefined {
    const e = this.entries.get(key);
    return e !== undefined && e.until > performance.now() ? e.value : undefined;
  }

  set(key: string, value: T): void {
    this.store(key, value, performance.now());
  }

  private store(key: string, value: T, now: number): void {
    if (this.ttlMs <= 0) return;
    this.entries.set(key, new Entry(value, now + this.ttlMs));
  }

  forget(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
