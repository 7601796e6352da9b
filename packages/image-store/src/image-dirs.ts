import { closeSync } from 'node:fs';
import { BoundedMap, type LocalAttrs } from '@netboot/nfs3';

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
 * descriptors. Bounded by nfs3's BoundedMap, which closes each descriptor it
 * forgets. A descriptor handed out is for use before the caller's next
 * await: a later `get` may close it.
 */
export class ImageDirs {
  private readonly held: BoundedMap<string, HeldDir>;

  constructor(max: number) {
    this.held = new BoundedMap(max, (h) => closeSync(h.fd));
  }

  /** The descriptor held for `rel`, else `open`'s (kept). Throws as `open` does. */
  get(rel: string, open: () => HeldDir): HeldDir {
    let held = this.held.get(rel);
    if (held === undefined) this.held.set(rel, (held = open()));
    return held;
  }

  /** Closes every descriptor held (the generation is no longer served by this thread). */
  clear(): void {
    this.held.clear();
  }

  /** How many are held (for tests). */
  get size(): number {
    return this.held.size;
  }
}
