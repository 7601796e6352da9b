import { lstat, readdir } from 'node:fs/promises';
import { lstatSync, type BigIntStats } from 'node:fs';
import { AttributeCache } from './attribute-cache.js';
import { childPath, keyBytes, pathKey, rootPath } from './byte-path.js';
import { NfsError } from './errno-status.js';
import { NfsStat } from './nfs3-constants.js';

/** How long a handle a full walk did not find stays STALE without another walk. */
const GONE_MS = 30_000;
const SCAN_SLICE = 512;

interface Link {
  parent: bigint;
  /** The name's bytes, one character a byte (see byte-path.ts). */
  name: string;
}

/**
 * Finds the path of an object of one export from its inode number, which is
 * what a file handle carries. Every name the server sees (LOOKUP, READDIR,
 * CREATE, RENAME, ...) records `ino -> (parent ino, name)`, so a rename of a
 * directory moves its whole subtree by changing one entry. After a restart
 * the map is empty: a miss walks the export breadth-first (bounded by
 * `maxScan` entries) and records everything it passes. A found path is
 * always checked with lstat against the inode and birth time, so a stale map
 * entry can only cost a rescan, never name another file. Nothing outside the
 * export root can be reached: paths are built from names under the root,
 * symlinks are never followed, and `..` at the root is the root.
 */
export class ExportTree {
  private readonly links = new Map<bigint, Link>();
  private scanning: Promise<void> | undefined;
  /** Objects a full walk did not find, until when: a client retrying a deleted file's handle costs no new walk. */
  private readonly gone = new Map<string, number>();

  /** The root as bytes, what every path of this export starts with. */
  readonly rootBytes: Buffer;
  /** The root's bytes as a string (pathKey), what the keys of every path of this export start with. */
  private readonly rootKey: string;
  private readonly sep: string;

  private constructor(
    readonly root: string,
    readonly id: number,
    readonly rootIno: bigint,
    readonly rootBirth: bigint,
    private readonly maxScan: number,
    private readonly attrs: AttributeCache,
  ) {
    this.rootBytes = rootPath(root);
    this.rootKey = pathKey(this.rootBytes);
    this.sep = this.rootKey.endsWith('/') ? '' : '/';
  }

  /** `attrs` answers the lstat that checks a handle's path (shared with the server, which keeps it right). */
  static async open(root: string, id: number, maxScan = 2_000_000, attrs = new AttributeCache(0)): Promise<ExportTree> {
    const st = await lstat(root, { bigint: true });
    if (!st.isDirectory()) throw new Error(`export ${root} is not a directory`);
    return new ExportTree(root, id, st.ino, st.birthtimeNs, maxScan, attrs);
  }

  /** `name` is the name's bytes as a string (nameKey). */
  record(parent: bigint, name: string, ino: bigint): void {
    if (ino === this.rootIno || name === '.' || name === '..') return;
    this.links.set(ino, { parent, name });
  }

  /** Drops what the map says about `name` in `parent` (after REMOVE/RMDIR/RENAME away). */
  forget(parent: bigint, name: string, ino: bigint): void {
    const l = this.links.get(ino);
    if (l && l.parent === parent && l.name === name) this.links.delete(ino);
  }

  parentOf(ino: bigint): bigint | undefined {
    return ino === this.rootIno ? this.rootIno : this.links.get(ino)?.parent;
  }

  /** The path's bytes as a string (pathKey): the attribute cache's key, a Buffer only when it misses. */
  private pathFromLinks(ino: bigint): string | undefined {
    const names: string[] = [];
    let at = ino;
    for (let depth = 0; at !== this.rootIno; depth++) {
      const l = this.links.get(at);
      if (!l || depth > 4096) return undefined;
      names.push(l.name);
      at = l.parent;
    }
    return names.length ? this.rootKey + this.sep + names.reverse().join('/') : this.rootKey;
  }

  private async check(path: string | undefined, ino: bigint, birth: bigint): Promise<BigIntStats | undefined> {
    if (path === undefined) return undefined;
    try {
      const st = this.attrs.lstatKey(path);
      return st.ino === ino && st.birthtimeNs === birth ? st : undefined;
    } catch {
      return undefined;
    }
  }

  /** The path and attributes of the object, or NFS3ERR_STALE when it no longer exists in this export. */
  async resolve(ino: bigint, birth: bigint): Promise<{ path: Buffer; st: BigIntStats }> {
    let path = this.pathFromLinks(ino);
    let st = await this.check(path, ino, birth);
    const key = `${ino}:${birth}`;
    if (!st && (this.gone.get(key) ?? 0) < Date.now()) {
      await this.scan();
      path = this.pathFromLinks(ino);
      st = await this.check(path, ino, birth);
      if (!st) {
        this.gone.set(key, Date.now() + GONE_MS);
        if (this.gone.size > 10_000) this.gone.delete(this.gone.keys().next().value!);
      }
    }
    if (!st || path === undefined) throw new NfsError(NfsStat.STALE, `inode ${ino} is gone from ${this.root}`);
    this.gone.delete(key);
    return { path: keyBytes(path), st };
  }

  /** One breadth-first walk at a time; concurrent misses wait for it. */
  private scan(): Promise<void> {
    this.scanning ??= this.walk().finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  private async walk(): Promise<void> {
    const queue: [bigint, Buffer][] = [[this.rootIno, this.rootBytes]];
    let seen = 0;
    while (queue.length && seen < this.maxScan) {
      const [dirIno, dir] = queue.shift()!;
      let names: string[];
      try {
        // The names' bytes one character a byte (nameKey's form), without a Buffer per name.
        names = await readdir(dir, { encoding: 'latin1' });
      } catch {
        continue;
      }
      // Synchronous lstat in short slices, yielding between them: several times faster than
      // the promise API for a walk of the whole export, and the server keeps answering meanwhile.
      for (let i = 0; i < names.length && seen < this.maxScan; i++, seen++) {
        if (i % SCAN_SLICE === SCAN_SLICE - 1) await new Promise((r) => setImmediate(r));
        const path = childPath(dir, names[i]!);
        let st: BigIntStats | undefined;
        try {
          st = lstatSync(path, { bigint: true, throwIfNoEntry: false });
        } catch {
          // the directory went away or changed under the walk
        }
        if (!st) continue;
        this.record(dirIno, names[i]!, st.ino);
        if (st.isDirectory()) queue.push([st.ino, path]);
      }
    }
  }
}
