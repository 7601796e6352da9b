import { closeSync } from 'node:fs';
import type { LocalAttrs } from '@netboot/nfs3';

/** A held descriptor and the attributes of what it was opened on. */
export interface HeldDir {
  readonly fd: number;
  readonly st: LocalAttrs;
}

/**
 * O_PATH descriptors of one image generation's objects (directories, for
 * listings and the names looked up in them), by path. A generation never
 * changes, so what a path of it named when opened it names for good: a
 * READDIRPLUS no longer opens its image directory once for the listing and
 * again for the names' attributes, and the nodes on one generation share the
 * descriptors. Bounded as nfs3's BoundedMap (two generations of entries, the
 * older closed whole when the younger is full; a hit in the older moves to
 * the younger), not by one Map evicting its first key, whose cost grows with
 * the deleted slots a Map keeps. A descriptor handed out is for use before
 * the caller's next await: a later `get` may close it.
 */
export class ImageDirs {
  private young = new Map<string, HeldDir>();
  private old = new Map<string, HeldDir>();
  private readonly half: number;

  constructor(max: number) {
    this.half = Math.max(1, Math.floor(max / 2));
  }

  /** The descriptor held for `rel`, else `open`'s (kept). Throws as `open` does. */
  get(rel: string, open: () => HeldDir): HeldDir {
    const held = this.young.get(rel);
    if (held !== undefined) return held;
    const older = this.old.get(rel);
    if (older !== undefined) {
      this.old.delete(rel);
      this.insert(rel, older);
      return older;
    }
    const opened = open();
    this.insert(rel, opened);
    return opened;
  }

  /** Closes every descriptor held (the generation is no longer served by this thread). */
  clear(): void {
    const [young, old] = [this.young, this.old];
    this.young = new Map();
    this.old = new Map();
    closeAll(young);
    closeAll(old);
  }

  /** How many are held (for tests). */
  get size(): number {
    return this.young.size + this.old.size;
  }

  private insert(rel: string, held: HeldDir): void {
    if (this.young.size >= this.half) {
      closeAll(this.old);
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(rel, held);
  }
}

function closeAll(held: Map<string, HeldDir>): void {
  for (const h of held.values()) closeSync(h.fd);
}
