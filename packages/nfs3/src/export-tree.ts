import { NfsError } from './errno-status.js';
import { NfsStat } from './nfs3-constants.js';

/** How long a handle a full walk did not find stays STALE without another walk. */
const GONE_MS = 30_000;
const SCAN_SLICE = 512;
/** Paths pathOf keeps made (about a path per object a busy client touches); past it they are dropped together. */
const MAX_PATHS = 65_536;

/** A class, not a literal: one is kept per object seen (see attributes.ts on allocation sites and pretenuring). */
class Link {
  constructor(
    readonly parent: bigint,
    /** The name's bytes, one character a byte (see byte-path.ts). */
    readonly name: string,
  ) {}
}

/** What the tree needs from the file system, by path from the export root ('' is the root, names joined by '/'). */
export interface TreeIo<S> {
  /** The attributes of the object at `rel` when it is inode `ino` born at `birth`, else undefined. */
  check(rel: string, ino: bigint, birth: bigint): Promise<S | undefined>;
  /** The entries of the directory at `rel`: name (nameKey form), inode, whether a directory. Never follows a symlink. */
  list(rel: string): Promise<[string, bigint, boolean][]>;
}

/**
 * Finds the path of an object of one export from its inode number, which is
 * what a file handle carries. Every name the server sees (LOOKUP, READDIR,
 * CREATE, RENAME, ...) records `ino -> (parent ino, name)`, so a rename of a
 * directory moves its whole subtree by changing one entry. After a restart
 * the map is empty: a miss walks the export breadth-first (bounded by
 * `maxScan` entries) and records everything it passes. A found path is
 * always checked against the inode and birth time, so a stale map entry can
 * only cost a rescan, never name another file. Paths are relative to the
 * export root, made of names only: the backend resolves them beneath the
 * root without following symlinks.
 */
export class ExportTree<S> {
  private readonly links = new Map<bigint, Link>();
  private scanning: Promise<void> | undefined;
  /** Objects a full walk did not find, until when: a client retrying a deleted file's handle costs no new walk. */
  private readonly gone = new Map<string, number>();
  /**
   * Paths pathOf made, by inode: every call on a handle asks for one, and the same string each time also
   * keeps its hash for the attribute cache's lookup. A new inode changes no path made before; an inode
   * recorded under another name or forgotten may be on any of them, so then they are all dropped.
   */
  private readonly paths = new Map<bigint, string>();

  constructor(
    readonly rootIno: bigint,
    private readonly io: TreeIo<S>,
    private readonly what: string,
    private readonly maxScan = 2_000_000,
  ) {}

  /** `name` is the name's bytes as a string (nameKey). */
  record(parent: bigint, name: string, ino: bigint): void {
    if (ino === this.rootIno || name === '.' || name === '..') return;
    const l = this.links.get(ino);
    // Every LOOKUP and READDIRPLUS entry records what it saw, nearly always what the map already says.
    if (l !== undefined && l.parent === parent && l.name === name) return;
    if (l !== undefined) this.paths.clear();
    this.links.set(ino, new Link(parent, name));
  }

  /** Drops what the map says about `name` in `parent` (after REMOVE/RMDIR/RENAME away). */
  forget(parent: bigint, name: string, ino: bigint): void {
    const l = this.links.get(ino);
    if (l && l.parent === parent && l.name === name) {
      this.links.delete(ino);
      this.paths.clear();
    }
  }

  parentOf(ino: bigint): bigint | undefined {
    return ino === this.rootIno ? this.rootIno : this.links.get(ino)?.parent;
  }

  /** The path from the root as the map knows it (the attribute cache's key too). */
  pathOf(ino: bigint): string | undefined {
    if (ino === this.rootIno) return '';
    const made = this.paths.get(ino);
    if (made !== undefined) return made;
    const names: string[] = [];
    let at = ino;
    for (let depth = 0; at !== this.rootIno; depth++) {
      const l = this.links.get(at);
      if (!l || depth > 65536) return undefined;
      names.push(l.name);
      at = l.parent;
    }
    const rel = names.reverse().join('/');
    if (this.paths.size >= MAX_PATHS) this.paths.clear();
    this.paths.set(ino, rel);
    return rel;
  }

  private async check(rel: string | undefined, ino: bigint, birth: bigint): Promise<S | undefined> {
    if (rel === undefined) return undefined;
    try {
      return await this.io.check(rel, ino, birth);
    } catch {
      return undefined;
    }
  }

  /**
   * The path the map knows for the object, when resolve() would start from it with nothing to settle:
   * undefined for an inode it does not know or one it has found gone (resolve() decides those).
   */
  knownPath(ino: bigint, birth: bigint): string | undefined {
    if (this.gone.size > 0 && this.gone.has(`${ino}:${birth}`)) return undefined;
    return this.pathOf(ino);
  }

  /** The path and attributes of the object, or NFS3ERR_STALE when it no longer exists in this export. */
  async resolve(ino: bigint, birth: bigint): Promise<{ rel: string; st: S }> {
    let rel = this.pathOf(ino);
    let st = await this.check(rel, ino, birth);
    // The common answer: found where the map says, nothing gone to settle (no key string made).
    if (st !== undefined && rel !== undefined && this.gone.size === 0) return { rel, st };
    const key = `${ino}:${birth}`;
    if (!st && (this.gone.get(key) ?? 0) < Date.now()) {
      await this.scan();
      rel = this.pathOf(ino);
      st = await this.check(rel, ino, birth);
      if (!st) {
        this.gone.set(key, Date.now() + GONE_MS);
        if (this.gone.size > 10_000) this.gone.delete(this.gone.keys().next().value!);
      }
    }
    if (!st || rel === undefined) throw new NfsError(NfsStat.STALE, `inode ${ino} is gone from ${this.what}`);
    this.gone.delete(key);
    return { rel, st };
  }

  /** One breadth-first walk at a time; concurrent misses wait for it. */
  private scan(): Promise<void> {
    this.scanning ??= this.walk().finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  private async walk(): Promise<void> {
    const queue: [bigint, string][] = [[this.rootIno, '']];
    let seen = 0;
    while (queue.length && seen < this.maxScan) {
      const [dirIno, dir] = queue.shift()!;
      let entries: [string, bigint, boolean][];
      try {
        entries = await this.io.list(dir);
      } catch {
        continue; // the directory went away or changed under the walk
      }
      for (let i = 0; i < entries.length && seen < this.maxScan; i++, seen++) {
        // Yield between slices so the server keeps answering meanwhile.
        if (i % SCAN_SLICE === SCAN_SLICE - 1) await new Promise((r) => setImmediate(r));
        const [name, ino, directory] = entries[i]!;
        this.record(dirIno, name, ino);
        if (directory) queue.push([ino, dir === '' ? name : `${dir}/${name}`]);
      }
    }
  }
}
