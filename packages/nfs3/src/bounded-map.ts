/**
 * A map bounded by its number of entries that forgets its oldest ones at a
 * constant cost. Entries go into a young generation; once it holds half the
 * bound it becomes the old generation and the previous old one is dropped
 * whole. A lookup finds an entry in either, and a hit in the old one moves
 * it to the young one, so what is in use stays.
 *
 * Why not one Map evicting `keys().next()` when full: V8 leaves a deleted
 * entry's slot in place until the table is rebuilt, and the iterator steps
 * over every such slot from the start, so each eviction costs in proportion
 * to the ones before it (measured on Node 20: 4.8 µs an eviction at 4,096
 * entries, 14 µs at 16,384, 39 µs at 65,536). A cold tree walk makes a new
 * handle and new attributes per entry, every one of them an eviction once
 * the map is full.
 *
 * `onDrop`, when given, is told of every value the map forgets by itself or
 * by `clear` (not of those replaced by `set` or removed by `delete`): for
 * values that hold something to give back, such as a descriptor.
 */
export class BoundedMap<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  private readonly half: number;

  constructor(
    max: number,
    private readonly onDrop?: (value: V) => void,
  ) {
    this.half = Math.max(1, Math.floor(max / 2));
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  get(key: K): V | undefined {
    const v = this.young.get(key);
    if (v !== undefined) return v;
    const o = this.old.get(key);
    if (o !== undefined) {
      this.old.delete(key);
      this.insert(key, o);
    }
    return o;
  }

  set(key: K, value: V): void {
    if (this.young.has(key)) {
      this.young.set(key, value);
      return;
    }
    this.old.delete(key);
    this.insert(key, value);
  }

  delete(key: K): void {
    this.young.delete(key);
    this.old.delete(key);
  }

  clear(): void {
    const [young, old] = [this.young, this.old];
    this.young = new Map();
    this.old = new Map();
    this.dropAll(young);
    this.dropAll(old);
  }

  private insert(key: K, value: V): void {
    if (this.young.size >= this.half) {
      const dropped = this.old;
      this.old = this.young;
      this.young = new Map();
      this.dropAll(dropped);
    }
    this.young.set(key, value);
  }

  private dropAll(dropped: Map<K, V>): void {
    if (this.onDrop) for (const v of dropped.values()) this.onDrop(v);
  }
}
