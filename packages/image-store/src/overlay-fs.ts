import { close, constants, fsync, read } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { native, platformStatus, type NativeCalls } from '@netboot/platform';
import {
  BoundedMap,
  DIRECT_READ_MAX,
  NativeIo,
  NfsError,
  NfsStat,
  OpenFiles,
  PortableIo,
  rangeCached,
  type AttrChange,
  type ExportFs,
  type FsAttrs,
  type FsObject,
  type FsStat,
  type LocalAttrs,
  type LocalIo,
  type NewOwner,
  type NodeKind,
  type Stability,
  type TimeChange,
  writeDirect,
} from '@netboot/nfs3';
import { ImageDirs } from './image-dirs.js';
import { LocationCache } from './location-cache.js';
import { OriginLog } from './origin-log.js';

const readFd = promisify(read);
const closeFd = promisify(close);
const fsyncFd = promisify(fsync);

/** Marks an upper directory whose lower namesake is hidden (after rmdir + mkdir, or a rename over it). */
export const OPAQUE = '.wh..wh..opq';
const OPAQUE_NAME = Buffer.from(OPAQUE);
/** Upper-only objects get their own fileid space, apart from the image's inode numbers. */
const UPPER_TAG = 1n << 63n;
/** Upper-only fileids made of an inode number and birth time (fileidOf). */
const BORN_TAG = 1n << 62n;
const MAX_SCAN = 500_000;
/**
 * How old a directory's change time must be for an unchanged one to mean unchanged entries: file system times
 * are coarse (a clock tick, a second on some), so two changes within one can leave the same time.
 */
const SETTLE_NS = 2_000_000_000n;
const S_IFMT = 0o170000n;
const KEEP: TimeChange = { keep: true };

/** A reference to one object of a layer: an O_PATH descriptor natively, a path in portable mode. */
type Ref = number | Buffer;
type Layer = 'upper' | 'lower';

function fsError(code: string, what: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${what}`), { code });
}

/**
 * Where a merged name is: its layer's attributes, and whether the image also has it (so a delete must leave a
 * whiteout). A class, not an object literal: the cache keeps what it makes, and V8 pretenures a literal's
 * allocation site once what it made lives long, throwing away the optimised code it was inlined into.
 */
class Located {
  /** The attributes handed out for this location (attrsAt), made once: the procedures convert them to fattr3 once, by the object. */
  attrs: FsAttrs | undefined = undefined;
  constructor(
    readonly layer: Layer,
    readonly st: LocalAttrs,
    readonly lowerToo: boolean,
    /**
     * For a name of the image alone (layer 'lower'): how many leading components of its path the node's layer
     * has, as directories none of which is opaque (0: only the layer root). The node's layer has nothing at the
     * next component, and the rest of the path is the image's, which never changes: while the node's layer
     * still holds those directories (not opaque) and nothing at that next name, the location holds
     * (stillImage). Undefined when not known.
     */
    readonly upperEnd: number | undefined,
    /**
     * A time (performance.now()) at which what this location says held: taken before the layers were looked at
     * to find it, or to check it again (stillImage). A directory of the node's layer seen unchanged since before
     * then vouches for it (layerDir).
     */
    public foundAt: number,
  ) {}
}

/** A directory of the node's layer as last seen (OverlayFs.layerDir). */
class LayerDir {
  constructor(
    readonly ino: bigint,
    readonly mtimeNs: bigint,
    readonly ctimeNs: bigint,
    /** From when (performance.now()) it is known to have been so: just after the look that first saw it so. */
    readonly since: number,
    /** Until when it is known to have been so: just before the last look, which saw it so. */
    public seenAt: number,
    /** Until when it is taken as so without another look. */
    public until: number,
  ) {}
}

/** The attributes of a location as handed out (see Located.attrs). */
function attrsAt(loc: Located, fileid: bigint): FsAttrs {
  const a = loc.attrs;
  if (a !== undefined && a.ino === fileid) return a;
  // The layer's attributes themselves where their inode number is the fileid (every name of the image): no copy per entry.
  return (loc.attrs = loc.st.ino === fileid ? loc.st : { ...attrsOf(loc.st), ino: fileid });
}

class OverlayObject implements FsObject {
  readonly generation = 0n;
  constructor(
    readonly rel: string,
    readonly fileid: bigint,
    readonly attrs: FsAttrs,
  ) {}
}

const typeOf = (st: LocalAttrs) => st.mode & S_IFMT;
const isDirSt = (st: LocalAttrs) => typeOf(st) === 0o040000n;
const isFileSt = (st: LocalAttrs) => typeOf(st) === 0o100000n;
const isLinkSt = (st: LocalAttrs) => typeOf(st) === 0o120000n;
const isWhiteout = (st: LocalAttrs) => typeOf(st) === 0o020000n && st.rdev === 0n;
const child = (dir: string, name: Buffer | string) => (dir === '' ? '' : `${dir}/`) + (typeof name === 'string' ? name : name.toString('latin1'));
const parentOf = (rel: string) => rel.slice(0, Math.max(0, rel.lastIndexOf('/')));
const baseOf = (rel: string) => Buffer.from(rel.slice(rel.lastIndexOf('/') + 1), 'latin1');
const timeAt = (ns: bigint): TimeChange => ({ at: { seconds: Number(ns / 1_000_000_000n), nseconds: Number(ns % 1_000_000_000n) } });
/** A name statChild may take: one component that stays in its directory (the caller never splits on anything but '/'). */
const plainName = (name: Buffer) => name.length > 0 && !(name[0] === 0x2e && (name.length === 1 || (name.length === 2 && name[1] === 0x2e))) && !name.includes(0x2f) && !name.includes(0);
const gone = (e: unknown) => {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
};

let portableSaid = false;

/**
 * Open descriptors of image files, by generation directory and inode, for every root of this thread:
 * a generation never changes, so a descriptor one node's root opened (beneath the generation, checked
 * to be the inode its merge found) is right for every node on that generation. Held per root, a storm
 * of nodes reading the same boot files held one descriptor per file per node: about 60 a node, past
 * the process's limit at a few hundred nodes. Once a name is copied up or whited out in a root, its
 * locate no longer leads here, and an entry no root uses ages out.
 */
const imageFiles = new OpenFiles(1024);
/**
 * O_PATH descriptors of image directories by generation directory, each shared by every root of this thread on
 * that generation (see ImageDirs): a READDIRPLUS of an image directory lists it and looks its names up from one
 * descriptor instead of opening it twice (and checking its inode once more) from the generation's root.
 */
const imageDirs = new Map<string, ImageDirs>();
/**
 * A short key per generation directory (`imageFiles`' keys are it and an inode number): a READ hashes and compares its
 * file's key, and a generation's path is long. Never reused for another generation on this thread.
 */
const generationKeys = new Map<string, string>();
/** The first half of every cookie verifier this thread's roots hand out (see OverlayFs.readdir), and the serial of the last. */
const VERF_PREFIX = randomBytes(4);
let listingSerial = 0;
/** READs begun and not finished over the roots of this thread. */
let readsRunning = 0;
/** Open roots of this thread by generation directory: the last one to close closes that generation's `imageFiles`. */
const rootsOn = new Map<string, number>();

/**
 * A node's root as the merge of an image generation (lower, never written)
 * and the node's own layer (upper). Reads fall through to the image; the
 * first change of an object copies it up; a delete of an image name leaves
 * a whiteout (a 0/0 character device, as overlayfs); an upper directory
 * holding `.wh..wh..opq` hides the image's directory of that name. The
 * fileid of an object is the image's inode number, kept across copy-up (an
 * origin map, upper inode to image inode, in the node's directory), or the
 * upper inode with the top bit set for objects the node made.
 *
 * Both layers are reached as the local backend reaches an export (nfs3's
 * `LocalIo`): natively each layer root is an O_PATH descriptor and every
 * lookup, open, copy-up, whiteout, rename, link and setattr is a call
 * relative to a descriptor opened beneath it (openat2 RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS, O_NOFOLLOW), on an inode checked against the one the
 * merge found: a directory of the node's layer renamed or swapped for a
 * symlink meanwhile (by the client or by a local user) cannot redirect a
 * call out of the layer or into the image. The image is opened read-only,
 * always. Names are handled as Latin-1 strings of their bytes.
 */
export class OverlayFs implements ExportFs {
  private readonly index = new Map<bigint, string>();
  /** Listings of this root by their verifier's serial (see `readdir`), the oldest dropped past 64. */
  private readonly listings = new Map<number, string[]>();
  private closed = false;
  /** Bumped when a change of this root starts and when it ends: a location found before is stale once it moved. */
  private changes = 0;
  /** Changes of this root in flight. */
  private changing = 0;
  /** Changes in flight that may move any name (remove, rename, link, setattr): while one runs, no location is used or kept. */
  private changingAll = 0;
  /**
   * The names the changes in flight that only add or copy up names move (theirs and their directories up to the root),
   * each with the number of such changes: while one runs, a location of these names is neither used nor kept. Every
   * other location stays right across such a change (see `change`), so a node's other calls keep the cache meanwhile:
   * a copy-up of a file a node writes, or the sync of its origin, no longer sends each of its calls down both layers.
   */
  private readonly moving = new Map<string, number>();
  private readonly copying = new Map<string, Promise<LocalAttrs>>();
  /**
   * Open descriptors of the node layer's files, by inode, so READ and WRITE do not open and close the
   * file each call. Each is opened beneath the layer root and checked to be the inode the merge found,
   * and dropped when this root removes or renames over its last name. Few per root: a server holds one
   * root per node, and a node writes only a handful of files at once. The image's files are held in
   * `imageFiles`, shared by every root on the same generation.
   */
  private readonly files = new OpenFiles(64);
  /**
   * Where merged names were found lately (the layer that holds each, its inode and attributes), by path:
   * the handle check every call makes, and a LOOKUP of a name looked up lately, cost a map lookup instead
   * of a walk down both layers (an lstat or two per layer per component), as the local backend's
   * attribute cache makes them cost one.
   *
   * Why a stale entry can do no harm beyond staleness: an entry is a location, never a descriptor of a
   * directory. Every call that acts on an object still reaches it from its layer root's descriptor
   * (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) and checks it is the inode the location names,
   * answering STALE otherwise; the image is opened read-only. So an entry that no longer holds leads
   * either to the very inode it named, if that inode still has the name, or to STALE; never to another
   * object, and never outside the layers. This root's own changes (copy-up, whiteout, create, rename,
   * remove, setattr) drop what they may move when they start and when they end (every location, or for one
   * that only adds or copies up a name, that name's and its directories': change()), and while one runs no
   * location it may move is used or kept (`settled`); a WRITE to a file already in the layer moves no name
   * and updates the written file's entry only. A change made on disk beside the server (a local user in the
   * node's layer) shows after at most the cache's lifetime, as on a plain export: until then a call may get
   * the attributes seen before, or read the image's file where a local user has just put a layer file of
   * that name: bytes the name held a moment ago, of the inode that was checked. Past its lifetime, a
   * location of a name only the image holds is checked against the node's layer alone (stillImage: an lstat
   * or two where the layer has none of its path) instead of found anew down both layers: the image never
   * changes, so only the layer can have put something over it.
   */
  private readonly located: LocationCache<Located>;
  /** Directories of the node's layer as last seen, by path: what vouches for locations of the image's names beneath them (layerDir). */
  private readonly layerDirs = new BoundedMap<string, LayerDir>(4096);
  /**
   * The layer roots' attributes as opened: a walk below a root reads only their type (a directory, which
   * an opened directory stays), so it need not stat them again each call.
   */
  private rootSt: { upper: LocalAttrs; lower: LocalAttrs } | undefined;
  /** This root's generation's held directories (`imageDirs`). */
  private readonly dirs: ImageDirs;
  /** The start of the `imageFiles` keys of this root's generation (`generationKeys`). */
  private readonly imageKey: string;

  private constructor(
    private readonly lowerPath: string,
    private readonly upperPath: string,
    private readonly lower: LocalIo<Ref>,
    private readonly upper: LocalIo<Ref>,
    private readonly calls: NativeCalls | undefined,
    private readonly origins: OriginLog,
    attributeCacheMs: number,
    private readonly directReadMax: number,
    private readonly directWrites: boolean,
  ) {
    let dirs = imageDirs.get(lowerPath);
    if (dirs === undefined) imageDirs.set(lowerPath, (dirs = new ImageDirs(128)));
    this.dirs = dirs;
    let key = generationKeys.get(lowerPath);
    if (key === undefined) generationKeys.set(lowerPath, (key = `g${generationKeys.size}:`));
    this.imageKey = key;
    this.located = new LocationCache(
      attributeCacheMs,
      (rel) => this.locateFromDir(rel),
      (rel, stale, now) => this.stillImage(rel, stale, now),
    );
  }

  /**
   * `lower`: the generation's directory; `upper`: the node's layer (made if missing); `originsFile`: where
   * copy-up identities are kept. `calls`: the platform module (undefined: portable mode, by path; default
   * the loaded one). `attributeCacheMs`: how long a location is reused (see `located`; 0 walks the layers
   * every call). `directReadMax`: the largest READ whose cached data is copied on the serving thread (as
   * nfs3's NfsServerOptions.directReadMax: Infinity on an NFS worker thread). `directWrites`: WRITE data is
   * copied into the node's layer on the serving thread (as nfs3's NfsServerOptions.directWrites).
   */
  static async open(
    lower: string,
    upper: string,
    originsFile: string,
    opts: { calls?: NativeCalls | undefined; attributeCacheMs?: number; directReadMax?: number; directWrites?: boolean } = {},
  ): Promise<OverlayFs> {
    const calls = 'calls' in opts ? opts.calls : native;
    await mkdir(upper, { recursive: true, mode: 0o755 });
    const origins = await OriginLog.load(originsFile);
    let lowerIo: LocalIo<Ref>;
    let upperIo: LocalIo<Ref>;
    if (calls) {
      lowerIo = new NativeIo(calls, lower, true);
      try {
        upperIo = new NativeIo(calls, upper);
      } catch (e) {
        lowerIo.close();
        throw e;
      }
    } else {
      if (!portableSaid) {
        portableSaid = true;
        const status = platformStatus();
        console.error(
          `image-backed roots: portable mode (${status.mode === 'portable' ? status.why : 'asked for'}): the image and node layers are reached by path, ` +
            'not from descriptors beneath each layer root, so a client or local user who can rename in a node layer can swap a directory for a ' +
            'symlink between a check and the call and redirect a change outside the layer; whiteouts and device nodes are made by coreutils mknod',
        );
      }
      lowerIo = new PortableIo(lower, true);
      upperIo = new PortableLayerIo(upper);
    }
    const fs = new OverlayFs(lower, upper, lowerIo, upperIo, calls, origins, opts.attributeCacheMs ?? 1000, opts.directReadMax ?? DIRECT_READ_MAX, opts.directWrites ?? false);
    const [u, l] = [fs.statAt('upper', ''), fs.statAt('lower', '')];
    fs.rootSt = { upper: u, lower: l };
    if (!origins.has(u.ino)) await origins.set(u.ino, l.ino);
    rootsOn.set(lower, (rootsOn.get(lower) ?? 0) + 1);
    return fs;
  }

  private io(layer: Layer): LocalIo<Ref> {
    return layer === 'upper' ? this.upper : this.lower;
  }

  /**
   * The image's object `rel` (inode `ino` when given, else STALE) and its attributes, for use before the caller's
   * next await and never released by it: natively a descriptor held in `dirs` (opened as `at` opens, beneath
   * the generation's root), in portable mode its path.
   */
  private imageDir(rel: string, ino?: bigint): { r: Ref; st: LocalAttrs } {
    if (!this.calls || rel === '') {
      const r = this.lower.at(rel, ino);
      return { r, st: rel === '' ? this.rootSt!.lower : this.lower.stat(r) };
    }
    const held = this.dirs.get(rel, () => {
      const fd = this.lower.at(rel) as number;
      try {
        return { fd, st: this.lower.stat(fd) };
      } catch (e) {
        this.lower.release(fd);
        throw e;
      }
    });
    if (ino !== undefined && held.st.ino !== ino) throw new NfsError(NfsStat.STALE, `inode ${ino} was replaced under its handle`);
    return { r: held.fd, st: held.st };
  }

  private statAt(layer: Layer, rel: string): LocalAttrs {
    return this.withRef(layer, rel, undefined, (r) => this.io(layer).stat(r));
  }

  /** `fn` on the object at `rel` of a layer; with `ino`, STALE unless it is still that inode. */
  private withRef<T>(layer: Layer, rel: string, ino: bigint | undefined, fn: (r: Ref) => T): T {
    const io = this.io(layer);
    const r = io.at(rel, ino);
    let result: T;
    try {
      result = fn(r);
    } catch (e) {
      io.release(r);
      throw e;
    }
    if (result instanceof Promise) return result.finally(() => io.release(r)) as T;
    io.release(r);
    return result;
  }

  /**
   * The attributes of `name` in the directory `dir` of a layer, or undefined when there is none: one lstat
   * of that single name from the directory's reference, no descriptor opened, and a missing name (most
   * probes of the node's layer) is an undefined, not an exception.
   */
  private peek(io: LocalIo<Ref>, dir: Ref, name: Buffer): LocalAttrs | undefined {
    if (!plainName(name)) {
      const p = this.probe(io, dir, name);
      if (p) io.release(p.r);
      return p?.st;
    }
    try {
      return io.statChild(dir, name);
    } catch (e) {
      if (gone(e)) return undefined;
      throw e;
    }
  }

  /**
   * The directory `name` in the directory `dir` of a layer, opened, with its attributes, or undefined when
   * there is no such name; a name that is there but not a directory comes with no reference.
   */
  private probeDir(io: LocalIo<Ref>, dir: Ref, name: Buffer): { r: Ref | undefined; st: LocalAttrs } | undefined {
    const seen = this.peek(io, dir, name);
    if (!seen || !isDirSt(seen)) return seen && { r: undefined, st: seen };
    // Opened and checked anew: the name may have been swapped since the lstat; what the walk goes on from is what was opened.
    return this.probe(io, dir, name);
  }

  /** The object `name` in the directory `dir` of a layer with its attributes, or undefined when there is none. */
  private probe(io: LocalIo<Ref>, dir: Ref, name: Buffer): { r: Ref; st: LocalAttrs } | undefined {
    let r: Ref;
    try {
      r = io.child(dir, name);
    } catch (e) {
      if (gone(e)) return undefined;
      throw e;
    }
    try {
      return { r, st: io.stat(r) };
    } catch (e) {
      io.release(r);
      if (gone(e)) return undefined;
      throw e;
    }
  }

  /** The upper layer's attributes of `name` in the upper directory `dir`, or undefined. */
  private upperChild(dir: Ref, name: Buffer): LocalAttrs | undefined {
    return this.peek(this.upper, dir, name);
  }

  /**
   * Finds a merged name, walking both layers down from their roots one
   * component at a time, each step from the directory reference of the
   * step before (never a path resolved again). Only directories to walk on
   * are opened; the last name and the opaque markers are looked at with one
   * lstat from their directory's reference.
   */
  private locate(rel: string): Located {
    const foundAt = performance.now();
    const comps = rel === '' ? [] : rel.split('/');
    let u: Ref | undefined = this.upper.at('');
    let l: Ref | undefined = this.lower.at('');
    // How many leading components the node's layer has as directories (see Located.upperEnd).
    let upperEnd = 0;
    try {
      const roots = comps.length > 0 ? this.rootSt : undefined;
      let uSt: LocalAttrs | undefined = roots?.upper ?? this.upper.stat(u);
      let lSt: LocalAttrs | undefined = roots?.lower ?? this.lower.stat(l);
      for (let i = 0; ; i++) {
        if (u !== undefined) upperEnd = i;
        if (uSt && isWhiteout(uSt)) throw fsError('ENOENT', rel);
        // Below where the node's layer ends, the rest of the path is the image's alone: one open beneath this image
        // directory (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, as every step) instead of a probe and an open per component.
        if (u === undefined && uSt === undefined && l !== undefined && i < comps.length - 1) {
          const found = this.lowerRest(l, comps.slice(i).join('/'));
          if (found) return new Located('lower', found, true, upperEnd, foundAt);
        }
        if (i === comps.length) {
          if (uSt) return new Located('upper', uSt, lSt !== undefined, undefined, foundAt);
          if (lSt) return new Located('lower', lSt, true, upperEnd, foundAt);
          throw fsError('ENOENT', rel);
        }
        if (uSt && !isDirSt(uSt)) throw fsError('ENOTDIR', rel);
        const lowerOn: boolean = lSt !== undefined && isDirSt(lSt) && !(u !== undefined && this.upperChild(u, OPAQUE_NAME));
        if (!uSt && !lowerOn) throw fsError(lSt ? 'ENOTDIR' : 'ENOENT', rel);
        const name = Buffer.from(comps[i]!, 'latin1');
        const last = i === comps.length - 1;
        const step = (io: LocalIo<Ref>, dir: Ref): { r: Ref | undefined; st: LocalAttrs } | undefined => {
          if (!last) return this.probeDir(io, dir, name);
          const st = this.peek(io, dir, name);
          return st && { r: undefined, st };
        };
        const nu: { r: Ref | undefined; st: LocalAttrs } | undefined = u !== undefined ? step(this.upper, u) : undefined;
        let nl: { r: Ref | undefined; st: LocalAttrs } | undefined;
        try {
          nl = lowerOn && l !== undefined ? step(this.lower, l) : undefined;
        } catch (e) {
          if (nu?.r !== undefined) this.upper.release(nu.r);
          throw e;
        }
        if (u !== undefined) this.upper.release(u);
        if (l !== undefined) this.lower.release(l);
        [u, uSt, l, lSt] = [nu?.r, nu?.st, nl?.r, nl?.st];
      }
    } finally {
      if (u !== undefined) this.upper.release(u);
      if (l !== undefined) this.lower.release(l);
    }
  }

  /**
   * The attributes of `rest` (several components, Latin-1) beneath the image directory `dir`, opened at once;
   * undefined when that open fails for any reason (a missing name, a non-directory or symlink on the way, a path
   * too long), for the walk to go on a component at a time and give the exact error.
   */
  private lowerRest(dir: Ref, rest: string): LocalAttrs | undefined {
    let r: Ref;
    try {
      r = this.lower.child(dir, Buffer.from(rest, 'latin1'));
    } catch {
      return undefined;
    }
    try {
      return this.lower.stat(r);
    } catch {
      return undefined;
    } finally {
      this.lower.release(r);
    }
  }

  /** `locate` through the cache of locations (see `located`): while a change that may move `rel` runs, the layers are walked and nothing is kept. */
  private locateCached(rel: string): Located {
    return this.settled(rel) ? this.located.get(rel) : this.locate(rel);
  }

  /** Whether no change in flight may move the merged name `rel` (see `moving`). */
  private settled(rel: string): boolean {
    return this.changingAll === 0 && (this.moving.size === 0 || !this.moving.has(rel));
  }

  /**
   * Until when (performance.now()) `loc`, a location of `rel` past its time, holds without walking both layers;
   * 0 when that is not known so (it is found anew). Only for a name the image alone holds: the image never
   * changes, so only the node's layer can have put something over it, and the location holds while the layer
   * still has the directories of its path it had (`upperEnd`), none opaque, and nothing at the next name.
   * Those directories of the layer, each seen unchanged since before the location was found, vouch for that
   * (layerDir): a look at each directory once per attributeCacheMs for every name beneath it. Where one
   * does not (it changed lately, or was first seen after the location was found), the names are looked at:
   * an lstat or two per name, each step from the reference of the step before, as `locate`.
   */
  private stillImage(rel: string, loc: Located, now: number): number {
    const end = loc.upperEnd;
    if (loc.layer !== 'lower' || end === undefined || rel === '') return 0;
    const comps = rel.split('/');
    if (end >= comps.length) return 0;
    // Every directory is looked at, a failing one too: those below it are then known for the next check.
    let until = Infinity;
    let seen = Infinity;
    for (let i = 0, dir = ''; ; dir = child(dir, comps[i++]!)) {
      const d = this.layerDir(dir, loc.foundAt, now);
      until = d ? Math.min(until, d.until) : 0;
      if (d) seen = Math.min(seen, d.seenAt);
      if (i === end) break;
    }
    if (until > now) {
      // Unchanged from before the location was found until each was last seen: what it says held then too, so the
      // names found from it since (locateIn) are vouched for as well.
      if (seen > loc.foundAt) loc.foundAt = seen;
      return until;
    }
    const checkedAt = performance.now();
    if (!this.stillImageByNames(comps, end)) return 0;
    loc.foundAt = checkedAt;
    return now + this.located.ttlMs;
  }

  /** Whether the node's layer has the directories `comps[0..end)`, none opaque, and nothing at `comps[end]`. */
  private stillImageByNames(comps: readonly string[], end: number): boolean {
    let u: Ref | undefined = this.upper.at('');
    try {
      for (let i = 0; ; i++) {
        if (this.upperChild(u, OPAQUE_NAME)) return false;
        const name = Buffer.from(comps[i]!, 'latin1');
        if (i === end) return this.peek(this.upper, u, name) === undefined;
        const next = this.probeDir(this.upper, u, name);
        if (next?.r === undefined) return false;
        this.upper.release(u);
        u = next.r;
      }
    } catch {
      return false;
    } finally {
      if (u !== undefined) this.upper.release(u);
    }
  }

  /**
   * The node layer's directory `rel` as last seen when it vouches for a location found at `foundAt` (until its
   * `until`), else undefined: it was seen with the same inode, mtime and ctime before then and again within
   * attributeCacheMs. Any change of
   * its entries (a name made, removed or renamed, an opaque marker or whiteout made) moves its mtime and ctime,
   * and a change made after these were first seen moves them to another value: they were then already
   * SETTLE_NS old, older than a time stamp's coarseness. Looked at again (one statx; an open beneath the layer
   * root for a directory below it) once its attributeCacheMs is over, so a change made in the layer beside
   * the server shows within that time, as a location's own. This root's changes drop every such record.
   */
  private layerDir(rel: string, foundAt: number, now: number): LayerDir | undefined {
    let d = this.layerDirs.get(rel);
    if (d === undefined || d.until <= now) {
      const seenAt = performance.now();
      let st: LocalAttrs | undefined;
      try {
        st = this.statAt('upper', rel);
      } catch {
        st = undefined;
      }
      const changed = st === undefined || d === undefined || st.ino !== d.ino || st.mtimeNs !== d.mtimeNs || st.ctimeNs !== d.ctimeNs;
      if (st === undefined || !isDirSt(st) || (changed && BigInt(Date.now()) * 1_000_000n - (st.ctimeNs > st.mtimeNs ? st.ctimeNs : st.mtimeNs) <= SETTLE_NS)) {
        this.layerDirs.delete(rel);
        return undefined;
      }
      if (changed) this.layerDirs.set(rel, (d = new LayerDir(st.ino, st.mtimeNs, st.ctimeNs, performance.now(), seenAt, now + this.located.ttlMs)));
      else {
        d!.seenAt = seenAt;
        d!.until = now + this.located.ttlMs;
      }
    }
    return d!.since <= foundAt ? d : undefined;
  }

  /**
   * A location not cached: when its directory's location is (the directories of a name a node uses are
   * used more often than the name), found from it as a LOOKUP finds a name (locateIn: the directory opened
   * once in each layer, one lstat there), not by a walk of both layers from their roots (a probe, an open
   * and a stat per component and layer); else, or when not found so, by the walk, which gives the error.
   */
  private locateFromDir(rel: string): Located {
    if (rel === '' || !this.located.fresh(parentOf(rel))) return this.locate(rel);
    return this.locateIn(parentOf(rel), [rel.slice(rel.lastIndexOf('/') + 1)])[0] ?? this.locate(rel);
  }

  /**
   * Locates what a handle's object names now, after a copy-up of it in flight is done: STALE when the
   * name no longer holds that object.
   */
  private async locateObj(o: OverlayObject): Promise<Located> {
    await this.copying.get(o.rel)?.catch(() => undefined);
    const loc = this.locateCached(o.rel);
    if (this.fileidOf(loc) !== o.fileid) throw new NfsError(NfsStat.STALE, `object ${o.fileid} was replaced under its handle`);
    return loc;
  }

  /**
   * An object only the node's layer has: its inode number with the low 30 bits of its birth time. The file
   * system gives a deleted inode's number to the next new file; by number alone, the handle of a directory
   * removed or renamed over would name the next directory made, and a client that knew the old one takes the
   * new one for it (dead: a mkdir in it fails with ENOENT). Numbers of 32 bits or more keep the number alone.
   */
  private fileidOf(loc: Located): bigint {
    if (loc.layer === 'lower') return loc.st.ino;
    const ino = loc.st.ino;
    return this.origins.get(ino) ?? (ino < 1n << 32n ? UPPER_TAG | BORN_TAG | (ino << 30n) | (loc.st.birthtimeNs & 0x3fffffffn) : ino | UPPER_TAG);
  }

  private object(rel: string, loc: Located): OverlayObject {
    const fileid = this.fileidOf(loc);
    this.index.set(fileid, rel);
    return new OverlayObject(rel, fileid, attrsAt(loc, fileid));
  }

  /**
   * Runs a change of this root, so that no location found before it or during it is taken as current after.
   * `names`: the only merged names it changes, when the change only adds a name that holds nothing below it or
   * copies one up (create, symlink, mknod, a WRITE's copy-up): the locations dropped are those of these names
   * and of their directories up to the root (copied up, or their times changed), and while it runs these alone
   * are walked for and not kept (`moving`). Every other location, found before, during or after, stays right:
   * a copy-up puts a directory in the node's layer without an opaque marker, so the names below it are found
   * where they were, and a new name was not there to be found. Without `names` (remove, rename, link,
   * setattr: names go, move, or change another name's inode; mkdir, which may make its directory opaque over
   * the image's names below it) every location is dropped, and none is used or kept while it runs.
   */
  private async change<T>(fn: () => Promise<T>, names?: readonly string[]): Promise<T> {
    this.changes++;
    this.changing++;
    if (names) this.hold(names, 1);
    else this.changingAll++;
    this.forgetLocations(names);
    try {
      return await fn();
    } finally {
      this.changing--;
      if (names) this.hold(names, -1);
      else this.changingAll--;
      this.changes++;
      this.forgetLocations(names);
    }
  }

  /** Counts a change's names, and their directories up to the root, into `moving` (`by` 1) or out of it (-1). */
  private hold(names: readonly string[], by: 1 | -1): void {
    for (const name of names) {
      for (let rel = name; ; rel = parentOf(rel)) {
        const n = (this.moving.get(rel) ?? 0) + by;
        if (n > 0) this.moving.set(rel, n);
        else this.moving.delete(rel);
        if (rel === '') break;
      }
    }
  }

  private forgetLocations(names: readonly string[] | undefined): void {
    // The layer's directories this change makes or changes are seen anew, not taken as before.
    this.layerDirs.clear();
    if (!names) return this.located.clear();
    for (const name of names) {
      for (let rel = name; ; rel = parentOf(rel)) {
        this.located.forget(rel);
        if (rel === '') break;
      }
    }
  }

  /**
   * Brings `rel` (and its directories) into the upper layer, keeping its identity; returns its upper
   * attributes. One copy of a name at a time: calls in flight together (a client's pipelined WRITEs to
   * an image file) wait for the copy the first one started instead of racing it.
   */
  private copyUp(rel: string): Promise<LocalAttrs> {
    const pending = this.copying.get(rel);
    if (pending) return pending;
    let loc: Located;
    try {
      loc = this.locate(rel);
    } catch (e) {
      return Promise.reject(e);
    }
    if (loc.layer === 'upper') return Promise.resolve(loc.st);
    const copy = this.copyUpNow(rel, loc).finally(() => this.copying.delete(rel));
    this.copying.set(rel, copy);
    return copy;
  }

  private async copyUpNow(rel: string, loc: Located): Promise<LocalAttrs> {
    await this.copyUp(parentOf(rel));
    const st = loc.st;
    const name = baseOf(rel);
    const up = this.upper;
    await this.withRef('upper', parentOf(rel), undefined, (pd) =>
      this.withRef('lower', rel, st.ino, async (src) => {
        if (isDirSt(st)) await up.mkdir(pd, name);
        else if (isFileSt(st)) await up.createFile(pd, name);
        else if (isLinkSt(st)) await up.symlink(pd, name, await this.lower.readlink(src));
        else await up.mknod(pd, name, typeOf(st) === 0o010000n ? 'fifo' : typeOf(st) === 0o060000n ? 'blk' : typeOf(st) === 0o140000n ? 'sock' : 'chr', major(st.rdev), minor(st.rdev));
        const dst = up.child(pd, name);
        try {
          if (isFileSt(st)) await this.copyFile(src, dst);
          await up.chown(dst, Number(st.uid), Number(st.gid));
          if (!isLinkSt(st)) await up.chmod(dst, Number(st.mode & 0o7777n), up.stat(dst));
          if (isFileSt(st)) await this.copyXattrs(src, st.ino, dst);
          else this.copyXattrsByName(rel, st.ino, pd, up.stat(dst).ino);
          await up.utimes(dst, timeAt(st.atimeNs), timeAt(st.mtimeNs));
          await this.origins.set(up.stat(dst).ino, st.ino);
        } finally {
          up.release(dst);
        }
      }),
    );
    return this.statAt('upper', rel);
  }

  /**
   * The bytes of the image's file `src` into the new upper file `dst`: a reflink where the file system has
   * them, else copy_file_range. Natively both are named by their descriptors' magic links, so the copy
   * reads and writes the very inodes checked, whatever their names are now.
   */
  private async copyFile(src: Ref, dst: Ref): Promise<void> {
    const path = (r: Ref) => (typeof r === 'number' ? `/proc/self/fd/${r}` : r);
    await copyFile(path(src), path(dst), constants.COPYFILE_FICLONE);
  }

  /**
   * The extended attributes of the image's file `src` onto the upper file `dst`, natively (portable mode
   * has no xattr calls). After chown, which drops a security.capability attribute.
   */
  private async copyXattrs(src: Ref, ino: bigint, dst: Ref): Promise<void> {
    const calls = this.calls;
    if (!calls) return;
    await this.withFiles(src, ino, dst, async (from, to) => {
      for (const n of calls.flistxattr(from)) calls.fsetxattr(to, n, calls.fgetxattr(from, n), 0);
    });
  }

  /**
   * The extended attributes of the image's directory, symlink, device, FIFO or socket `rel` onto its new
   * upper namesake in the upper directory `upperDir`, natively. These are not opened (opening a device
   * is not harmless; a symlink or socket cannot be): each is named as its directory's descriptor's magic
   * link plus its own name, which the l* calls do not follow, and checked to be the inode meant.
   */
  private copyXattrsByName(rel: string, ino: bigint, upperDir: Ref, upperIno: bigint): void {
    const calls = this.calls;
    if (!calls) return;
    const name = baseOf(rel);
    this.withRef('lower', parentOf(rel), undefined, (lowerDir) => {
      if (this.lower.statChild(lowerDir, name)?.ino !== ino) throw new NfsError(NfsStat.STALE, `${rel} is not the image object copied up`);
      if (this.upper.statChild(upperDir, name)?.ino !== upperIno) throw new NfsError(NfsStat.STALE, `${rel} was replaced during its copy-up`);
      const from = byName(lowerDir, name);
      const to = byName(upperDir, name);
      for (const n of calls.llistxattr(from)) calls.lsetxattr(to, n, calls.lgetxattr(from, n), 0);
    });
  }

  private async withFiles(src: Ref, ino: bigint, dst: Ref, fn: (from: number, to: number) => Promise<void>): Promise<void> {
    const from = await this.lower.openFile(src, ino);
    try {
      const to = await this.upper.openFile(dst, this.upper.stat(dst).ino);
      try {
        await fn(from.fd, to.fd);
      } finally {
        await closeFd(to.fd);
      }
    } finally {
      await closeFd(from.fd);
    }
  }

  /** Copies up a directory and everything below it, then hides the image's namesake (for a rename). */
  private async copyUpTree(rel: string): Promise<void> {
    const st = await this.copyUp(rel);
    if (!isDirSt(st)) return;
    for (const n of await this.names(rel)) await this.copyUpTree(child(rel, n));
    await this.makeOpaque(rel);
  }

  private async makeOpaque(rel: string): Promise<void> {
    await this.withRef('upper', rel, undefined, (d) =>
      this.upper.createFile(d, OPAQUE_NAME).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      }),
    );
  }

  /** The merged names of a directory (no whiteouts, no opaque marker). */
  private async names(rel: string): Promise<string[]> {
    const loc = this.locateCached(rel);
    if (!isDirSt(loc.st)) throw fsError('ENOTDIR', rel);
    const out: string[] = [];
    const hidden = new Set<string>();
    let lowerOn = loc.lowerToo;
    if (loc.layer === 'upper') {
      await this.withRef('upper', rel, loc.st.ino, async (d) => {
        for (const s of await this.upper.names(d)) {
          if (s === OPAQUE) {
            lowerOn = false;
            continue;
          }
          const st = this.upperChild(d, Buffer.from(s, 'latin1'));
          if (!st) continue;
          if (isWhiteout(st)) hidden.add(s);
          else out.push(s);
        }
      });
    }
    if (lowerOn) {
      // A directory the image alone has: its location's attributes are the image's, and its names are the merged ones.
      // (names() opens the directory for reading from the held descriptor before it awaits anything.)
      if (loc.layer === 'lower') return this.lower.names(this.imageDir(rel, loc.st.ino).r);
      const seen = new Set(out);
      const lower = (() => {
        try {
          return this.imageDir(rel);
        } catch {
          return undefined;
        }
      })();
      if (lower && isDirSt(lower.st)) {
        for (const s of await this.lower.names(lower.r)) if (!seen.has(s) && !hidden.has(s)) out.push(s);
      }
    }
    return out;
  }

  /** Clears a name in the upper layer before something new takes it: a whiteout there is removed. Returns whether there was one. */
  private async clearWhiteout(rel: string): Promise<boolean> {
    const name = baseOf(rel);
    return this.withRef('upper', parentOf(rel), undefined, async (d) => {
      const st = this.upperChild(d, name);
      if (!st || !isWhiteout(st)) return false;
      await this.upper.unlink(d, name, false);
      return true;
    });
  }

  private mustNotExist(rel: string): void {
    try {
      this.locate(rel);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    throw fsError('EEXIST', rel);
  }

  /** After making a new name over an image name hidden by a whiteout: a directory hides the image's directory. */
  private async made(rel: string, owner: NewOwner | undefined, isDir: boolean, hadWhiteout: boolean): Promise<OverlayObject> {
    // An unprivileged server (the embedded demo) cannot give files away; they stay its own.
    if (owner && process.getuid?.() === 0) await this.withRef('upper', rel, undefined, (r) => this.upper.chown(r, owner.uid, owner.gid));
    if (isDir && hadWhiteout) await this.makeOpaque(rel);
    return this.object(rel, this.locate(rel));
  }

  /** Checks `name` is free in the merged `dir`, brings `dir` up and clears a whiteout of that name. */
  private async prepareNew(dir: FsObject, name: Buffer): Promise<{ rel: string; hadWhiteout: boolean }> {
    const d = dir as OverlayObject;
    await this.locateObj(d);
    const rel = child(d.rel, name);
    this.mustNotExist(rel);
    await this.copyUp(d.rel);
    return { rel, hadWhiteout: await this.clearWhiteout(rel) };
  }

  /** `fn` on the upper directory a new name `rel` goes in. */
  private inParent<T>(rel: string, fn: (d: Ref, name: Buffer) => Promise<T>): Promise<T> {
    return this.withRef('upper', parentOf(rel), undefined, (d) => fn(d, baseOf(rel)));
  }

  /** For logs: which image generation and layer this root merges. */
  describe(): string {
    return `image ${this.lowerPath}, node layer ${this.upperPath}`;
  }

  /** Replaces the contents of a file of the merged root (made with `mode` if missing), for per-node files such as etc/hostname. */
  async writeFile(rel: string, data: Buffer, mode = 0o644): Promise<void> {
    const dir = this.object(parentOf(rel), this.locate(parentOf(rel)));
    const name = baseOf(rel);
    let exists = true;
    try {
      this.locate(rel);
    } catch {
      exists = false;
    }
    const obj = exists ? await this.lookup(dir, name) : await this.create(dir, name, { uid: 0, gid: 0 });
    await this.setattr(obj, exists ? { size: 0n } : { mode, size: 0n });
    await this.write(obj, data, 0, 'file');
  }

  async root(): Promise<FsObject> {
    return this.object('', this.locate(''));
  }

  async resolve(fileid: bigint, _generation: bigint): Promise<FsObject> {
    const rel = this.index.get(fileid);
    if (rel !== undefined) {
      const loc = this.tryLocate(rel, true);
      if (loc && this.fileidOf(loc) === fileid) return this.object(rel, loc);
    }
    // After a restart or a rename of a parent: search the merged tree, bounded.
    const queue = [''];
    let visited = 0;
    while (queue.length > 0 && visited < MAX_SCAN) {
      const d = queue.shift()!;
      const loc = this.tryLocate(d);
      if (!loc) continue;
      visited++;
      if (this.fileidOf(loc) === fileid) return this.object(d, loc);
      if (isDirSt(loc.st)) for (const n of await this.names(d)) queue.push(child(d, n));
    }
    throw new NfsError(NfsStat.STALE, 'no such object in this node root');
  }

  /**
   * resolve() from what this root holds, without a system call: the handle's path known (`index`) and its
   * location still fresh in the cache and still that object; undefined otherwise (resolve() then looks),
   * and while a change of this root runs or the object's copy-up is in flight.
   */
  resolveNow(fileid: bigint, _generation: bigint): FsObject | undefined {
    const rel = this.index.get(fileid);
    const loc = rel === undefined ? undefined : this.locationNow(rel);
    // Not object(): the index maps this fileid to this path already, and the fileid is known.
    return loc && this.fileidOf(loc) === fileid ? new OverlayObject(rel!, fileid, attrsAt(loc, fileid)) : undefined;
  }

  /** A location the cache vouches for, when nothing of this root (a change, the name's copy-up) may be moving it. */
  private locationNow(rel: string): Located | undefined {
    return this.settled(rel) && !this.copying.has(rel) ? this.located.fresh(rel) : undefined;
  }

  /**
   * read()'s direct copy without a promise (ExportFs.readNow), of a file open already whose location is
   * cached: for a READ the serving thread copies whatever else runs (DIRECT_READ_MAX), and for one up to
   * directReadMax that its client waits on `alone` while no other READ runs on this thread (read() copies
   * it here too); -1 otherwise.
   */
  readNow(obj: FsObject, buf: Buffer, at: number, count: number, position: number, alone = false): number {
    const o = obj as OverlayObject;
    if (count > (alone && readsRunning === 0 ? this.directReadMax : Math.min(DIRECT_READ_MAX, this.directReadMax))) return -1;
    const loc = this.locationNow(o.rel);
    if (!loc || this.fileidOf(loc) !== o.fileid) return -1;
    const ino = loc.st.ino;
    const fd = loc.layer === 'upper' ? this.files.openNow(`u${ino}`, ino) : imageFiles.openNow(this.imageKey + ino, ino);
    return fd === undefined ? -1 : this.io(loc.layer).readCached(fd, buf, at, count, position);
  }

  /** ExportFs.fileNow: readNow's file, when the range is cached (rangeCached), for a reply that sends it from the page cache. */
  fileNow(obj: FsObject, position: number, count: number): number | undefined {
    // Not past directReadMax: where the socket takes only part, the rest is copied on this thread.
    if (count > this.directReadMax) return undefined;
    const o = obj as OverlayObject;
    const loc = this.locationNow(o.rel);
    if (!loc || this.fileidOf(loc) !== o.fileid) return undefined;
    const ino = loc.st.ino;
    const fd = loc.layer === 'upper' ? this.files.openNow(`u${ino}`, ino) : imageFiles.openNow(this.imageKey + ino, ino);
    return fd !== undefined && rangeCached(this.io(loc.layer), fd, position, count) ? fd : undefined;
  }

  private tryLocate(rel: string, cached = false): Located | undefined {
    try {
      return cached ? this.locateCached(rel) : this.locate(rel);
    } catch {
      return undefined;
    }
  }

  async lookup(dir: FsObject, name: Buffer): Promise<FsObject> {
    const d = dir as OverlayObject;
    const s = name.toString('latin1');
    if (s === '.' || s === '..') {
      const rel = s === '.' ? d.rel : parentOf(d.rel);
      return this.object(rel, this.locateCached(rel));
    }
    const [loc] = this.locateIn(d.rel, [s]);
    if (!loc) throw fsError('ENOENT', child(d.rel, s));
    return this.object(child(d.rel, s), loc);
  }

  /**
   * lookup()'s answer without a promise (ExportFs.lookupNow) when the cache vouches for the name's location and no
   * change of this root or copy-up may be moving it (a walk's LOOKUPs after the READDIRPLUS that located the names);
   * undefined otherwise, for lookup() to answer, errors included. A cached location is never a whiteout.
   */
  lookupNow(dir: FsObject, name: Buffer): FsObject | undefined {
    const rel = child((dir as OverlayObject).rel, name.toString('latin1'));
    const loc = this.locationNow(rel);
    return loc && this.object(rel, loc);
  }

  async lookupNames(dir: FsObject, names: readonly string[]): Promise<(FsObject | undefined)[]> {
    const d = dir as OverlayObject;
    return this.locateIn(d.rel, names).map((loc, i) => loc && this.object(child(d.rel, names[i]!), loc));
  }

  /**
   * The locations of names (one component each, Latin-1) of the merged directory `dirRel`, undefined for a
   * name that is not there: from the cache when found lately, else with one lstat per layer of each name
   * from the directory opened once in each layer, not a walk of both layers from their roots per name
   * (a LOOKUP of a name not looked up lately, READDIRPLUS's entries). Which layers to look in comes from
   * the directory's location (see `located`: a location, never a descriptor); the directory is opened
   * from its layer root (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) and, in the node's layer, checked to be
   * the inode the location names. Where it no longer is (a local user moved it), or while a change of
   * this root that may move any name runs, each name is located by the walk from the roots; a name a change
   * in flight adds or copies up (`moving`) is looked at, not taken from the cache nor kept.
   */
  private locateIn(dirRel: string, names: readonly string[]): (Located | undefined)[] {
    // Not through the cache: a miss there comes here (locateFromDir).
    const walk = () => names.map((n) => this.tryLocate(child(dirRel, n)));
    if (this.changingAll > 0) return walk();
    const dir = this.tryLocate(dirRel, true);
    if (!dir || !isDirSt(dir.st)) return names.map(() => undefined);
    const out: (Located | undefined)[] = names.map((n) => {
      const rel = child(dirRel, n);
      return this.settled(rel) ? this.located.fresh(rel) : undefined;
    });
    if (!out.includes(undefined)) return out;
    let u: Ref | undefined;
    let l: Ref | undefined;
    try {
      try {
        u = dir.layer === 'upper' ? this.upper.at(dirRel, dir.st.ino) : undefined;
        // The image's directory shows unless the node's is opaque; the image never changes, so its path leads where it did.
        l = dir.lowerToo && !(u !== undefined && this.upperChild(u, OPAQUE_NAME)) ? this.imageDir(dirRel).r : undefined;
      } catch {
        return walk();
      }
      // Names only the image's directory can hold (the node has none of that name): a READDIRPLUS slice of an image directory
      // costs one batched call there (statChildren) instead of a call per name. The node's layer is asked name by name, so an
      // error there (not a missing name) is not taken for "look in the image".
      const batch = u === undefined && l !== undefined && this.lower.statChildren ? this.lowerBatch(l, names, out) : undefined;
      // A name the image alone holds here: the node's layer has this directory's path (not opaque: l is open) and nothing
      // at the name, or ends where it ended above this image directory.
      const upperEnd = u !== undefined ? (dirRel === '' ? 0 : dirRel.split('/').length) : dir.upperEnd;
      // What the directory's location says of the layers above these names (its path there, none of it opaque) held then.
      const foundAt = dir.foundAt;
      for (let i = 0; i < names.length; i++) {
        if (out[i]) continue;
        const name = batch ? undefined : Buffer.from(names[i]!, 'latin1');
        const us = u !== undefined && name ? this.peek(this.upper, u, name) : undefined;
        const ls = batch ? batch[i] : l !== undefined && name && (!us || !isWhiteout(us)) ? this.peek(this.lower, l, name) : undefined;
        const loc: Located | undefined = us
          ? isWhiteout(us)
            ? undefined
            : new Located('upper', us, ls !== undefined, undefined, foundAt)
          : ls && new Located('lower', ls, true, upperEnd, foundAt);
        const rel = child(dirRel, names[i]!);
        if (loc && this.settled(rel)) this.located.set(rel, loc);
        out[i] = loc;
      }
      return out;
    } finally {
      // l is held by `dirs` (or is a path): not released here.
      if (u !== undefined) this.upper.release(u);
    }
  }

  /** The image directory `l`'s attributes of the names not yet found (`out[i]` undefined), by index, in one batched call. */
  private lowerBatch(l: Ref, names: readonly string[], out: readonly (Located | undefined)[]): (LocalAttrs | undefined)[] | undefined {
    let missing = 0;
    for (let i = 0; i < names.length; i++) if (!out[i]) missing++;
    if (missing < 2) return undefined;
    if (missing === names.length) return this.lower.statChildren!(l, names);
    const which = names.filter((_, i) => !out[i]);
    const sts = this.lower.statChildren!(l, which);
    const byIndex: (LocalAttrs | undefined)[] = new Array(names.length);
    for (let i = 0, k = 0; i < names.length; i++) if (!out[i]) byIndex[i] = sts[k++];
    return byIndex;
  }

  async getattr(obj: FsObject): Promise<FsAttrs> {
    const loc = await this.locateObj(obj as OverlayObject);
    return attrsAt(loc, this.fileidOf(loc));
  }

  async setattr(obj: FsObject, change: AttrChange): Promise<void> {
    return this.change(async () => {
      const o = obj as OverlayObject;
      await this.locateObj(o);
      const st = await this.copyUp(o.rel);
      const up = this.upper;
      await this.withRef('upper', o.rel, st.ino, async (r) => {
        if (change.uid !== undefined || change.gid !== undefined) await up.chown(r, change.uid ?? -1, change.gid ?? -1);
        if (change.mode !== undefined && !isLinkSt(st)) await up.chmod(r, change.mode, st);
        if (change.size !== undefined) await up.truncate(r, Number(change.size));
        if (change.atime || change.mtime) await up.utimes(r, change.atime ?? KEEP, change.mtime ?? KEEP);
      });
    });
  }

  async read(obj: FsObject, buf: Buffer, at: number, count: number, position: number): Promise<number> {
    const o = obj as OverlayObject;
    // Counted from its start, as nfs3's local backend counts it: a READ still finding its file runs too (readNow).
    readsRunning++;
    try {
      return await this.readLocated(o, await this.locateObj(o), buf, at, count, position);
    } finally {
      readsRunning--;
    }
  }

  private readLocated(o: OverlayObject, loc: Located, buf: Buffer, at: number, count: number, position: number): Promise<number> {
    const ino = loc.st.ino;
    const io = this.io(loc.layer);
    // As nfs3's local backend: a read the page cache holds is copied on the serving thread (above
    // DIRECT_READ_MAX only while it is the thread's only READ: with others running, the pool's copy overlaps
    // the replies the loop writes), the rest in the thread pool.
    const readAt = async (fd: number) => {
      const max = readsRunning > 1 ? Math.min(DIRECT_READ_MAX, this.directReadMax) : this.directReadMax;
      const direct = count <= max ? io.readCached(fd, buf, at, count, position) : -1;
      if (direct === count || (direct >= 0 && position + direct >= Number(loc.st.size))) return direct;
      const done = Math.max(direct, 0);
      return done + (await readFd(fd, buf, at + done, count - done, position + done)).bytesRead;
    };
    return this.useFile(loc.layer, o.rel, ino, readAt);
  }

  /** `fn` with an open descriptor of the file `rel` of a layer, which is inode `ino` (see `files` and `imageFiles`). */
  private useFile<T>(layer: Layer, rel: string, ino: bigint, fn: (fd: number) => Promise<T>, write = false): Promise<T> {
    const open = () => this.withRef(layer, rel, ino, (r) => this.io(layer).openFile(r, ino));
    if (layer === 'upper') return this.files.use(`u${ino}`, ino, open, fn, write);
    return imageFiles.use(this.imageKey + ino, ino, open, fn, write);
  }

  async write(obj: FsObject, data: Buffer, position: number, stable: Stability): Promise<FsAttrs> {
    const o = obj as OverlayObject;
    const loc = await this.locateObj(o);
    // A file already in the node's layer moves no name when written: no change of the root, and the locations found stay.
    if (loc.layer === 'upper') return this.writeUpper(o, loc, data, position, stable);
    return this.change(async () => {
      await this.locateObj(o);
      await this.copyUp(o.rel);
      return this.writeUpper(o, this.locate(o.rel), data, position, stable);
    }, [o.rel]);
  }

  private async writeUpper(o: OverlayObject, loc: Located, data: Buffer, position: number, stable: Stability): Promise<FsAttrs> {
    const changes = this.changes;
    let after: LocalAttrs | undefined;
    try {
      after = await this.useFile(
        'upper',
        o.rel,
        loc.st.ino,
        async (fd) => {
          if (this.directWrites) await writeDirect(this.upper, fd, data, position, stable);
          else await this.upper.writeAt(fd, data, position, stable);
          // From the descriptor written, not the name again: a rename meanwhile does not turn a done write into an error.
          return this.upper.statOpen(fd);
        },
        true,
      );
      return { ...attrsOf(after), ino: o.fileid };
    } finally {
      // The written file's location with its new attributes, unless a change of the root ran meanwhile (the name may have moved).
      if (after && changes === this.changes && this.changing === 0) this.located.set(o.rel, new Located(loc.layer, after, loc.lowerToo, undefined, performance.now()));
      else this.located.forget(o.rel);
    }
  }

  async commit(obj: FsObject): Promise<void> {
    const o = obj as OverlayObject;
    const loc = await this.locateObj(o);
    if (loc.layer !== 'upper' || !isFileSt(loc.st)) return;
    await this.useFile('upper', o.rel, loc.st.ino, (fd) => fsyncFd(fd));
  }

  async create(dir: FsObject, name: Buffer, owner: NewOwner, exclusiveTimes?: { atime: number; mtime: number }): Promise<FsObject> {
    return this.change(async () => {
      const { rel, hadWhiteout } = await this.prepareNew(dir, name);
      await this.inParent(rel, (d, n) => this.upper.createFile(d, n));
      if (exclusiveTimes) {
        const t = (s: number): TimeChange => ({ at: { seconds: s, nseconds: 0 } });
        await this.withRef('upper', rel, undefined, (r) => this.upper.utimes(r, t(exclusiveTimes.atime), t(exclusiveTimes.mtime)));
      }
      return this.made(rel, owner, false, hadWhiteout);
    }, [child((dir as OverlayObject).rel, name)]);
  }

  async mkdir(dir: FsObject, name: Buffer, owner: NewOwner): Promise<FsObject> {
    return this.change(async () => {
      const { rel, hadWhiteout } = await this.prepareNew(dir, name);
      await this.inParent(rel, (d, n) => this.upper.mkdir(d, n));
      return this.made(rel, owner, true, hadWhiteout);
    });
  }

  async symlink(dir: FsObject, name: Buffer, target: Buffer, owner: NewOwner): Promise<FsObject> {
    return this.change(async () => {
      const { rel, hadWhiteout } = await this.prepareNew(dir, name);
      await this.inParent(rel, (d, n) => this.upper.symlink(d, n, target));
      return this.made(rel, owner, false, hadWhiteout);
    }, [child((dir as OverlayObject).rel, name)]);
  }

  async mknod(dir: FsObject, name: Buffer, kind: NodeKind, major: number, minor: number, owner: NewOwner): Promise<FsObject> {
    return this.change(async () => {
      const { rel, hadWhiteout } = await this.prepareNew(dir, name);
      await this.inParent(rel, (d, n) => this.upper.mknod(d, n, kind, major, minor));
      return this.made(rel, owner, false, hadWhiteout);
    }, [child((dir as OverlayObject).rel, name)]);
  }

  async link(obj: FsObject, dir: FsObject, name: Buffer): Promise<void> {
    return this.change(async () => {
      const o = obj as OverlayObject;
      await this.locateObj(o);
      const { rel } = await this.prepareNew(dir, name);
      const st = await this.copyUp(o.rel);
      await this.withRef('upper', o.rel, st.ino, (r) => this.inParent(rel, (d, n) => this.upper.link(r, d, n)));
    });
  }

  async rename(fromDir: FsObject, fromName: Buffer, toDir: FsObject, toName: Buffer): Promise<void> {
    return this.change(async () => {
      const fd = fromDir as OverlayObject;
      const td = toDir as OverlayObject;
      await this.locateObj(fd);
      await this.locateObj(td);
      const from = child(fd.rel, fromName);
      const to = child(td.rel, toName);
      if (from === to) return;
      const src = this.locate(from);
      let dst: Located | undefined;
      try {
        dst = this.locate(to);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      const srcDir = isDirSt(src.st);
      if (srcDir && (to + '/').startsWith(from + '/')) throw fsError('EINVAL', 'a directory into itself');
      if (dst) {
        if (this.fileidOf(dst) === this.fileidOf(src)) return;
        if (srcDir && !isDirSt(dst.st)) throw fsError('ENOTDIR', to);
        if (!srcDir && isDirSt(dst.st)) throw fsError('EISDIR', to);
        if (isDirSt(dst.st) && (await this.names(to)).length > 0) throw fsError('ENOTEMPTY', to);
      }
      if (srcDir && src.lowerToo) await this.copyUpTree(from);
      else await this.copyUp(from);
      await this.copyUp(td.rel);
      if (dst?.layer === 'upper' && isDirSt(dst.st)) await this.emptyUpperDir(to);
      await this.clearWhiteout(to);
      const over = dst?.layer === 'upper' && isFileSt(dst.st) ? dst.st : undefined;
      await this.inParent(from, (f, fn) => this.inParent(to, (t, tn) => this.renameHolding(f, fn, t, tn, over)));
      // The file renamed over is gone with its last name: its inode number may come back as a new file's, which must not take its origin.
      if (over && over.nlink === 1n) {
        await this.files.drop(`u${over.ino}`);
        await this.origins.delete(over.ino);
      }
      if (srcDir && dst?.lowerToo) await this.makeOpaque(to);
      if (src.lowerToo) await this.whiteout(from);
      for (const [id, rel] of this.index) if (rel === from || rel.startsWith(from + '/')) this.index.set(id, to + rel.slice(from.length));
    });
  }

  /**
   * renameat2 in the node layer. When it goes over `over`, the layer's file at the destination, that file is
   * held open across the call, as REMOVE holds the file it unlinks: if the rename drops its last name, the
   * blocks are freed when it is let go, in the thread pool, not inside renameat2 on the event loop.
   */
  private async renameHolding(f: Ref, fn: Buffer, t: Ref, tn: Buffer, over: LocalAttrs | undefined): Promise<void> {
    if (!over) return this.upper.rename(f, fn, t, tn);
    const replaced = () => new NfsError(NfsStat.STALE, `${tn.toString('latin1')} was replaced during the rename`);
    let held: Ref;
    try {
      held = this.upper.child(t, tn);
    } catch {
      throw replaced();
    }
    try {
      if (this.upper.stat(held).ino !== over.ino) throw replaced();
      await this.upper.rename(f, fn, t, tn);
    } finally {
      await this.upper.releaseLater(held);
    }
  }

  async remove(dir: FsObject, name: Buffer, isDir: boolean): Promise<void> {
    return this.change(async () => {
      await this.locateObj(dir as OverlayObject);
      const rel = child((dir as OverlayObject).rel, name);
      const loc = this.locate(rel);
      if (isDir && !isDirSt(loc.st)) throw fsError('ENOTDIR', rel);
      if (!isDir && isDirSt(loc.st)) throw fsError('EISDIR', rel);
      if (isDir && (await this.names(rel)).length > 0) throw fsError('ENOTEMPTY', rel);
      if (loc.layer === 'upper') {
        if (isDir) await this.emptyUpperDir(rel);
        await this.inParent(rel, async (d, n) => {
          // The name must still be the object checked above: unlinkat acts on a name, so check it once more from the same
          // directory. The reference stays held across the unlink: when that drops a file's last name, the blocks are freed
          // when it is let go, in the thread pool, not inside unlinkat on the event loop.
          let held: Ref;
          try {
            held = this.upper.child(d, n);
          } catch {
            throw new NfsError(NfsStat.STALE, `${rel} was replaced during the remove`);
          }
          try {
            if (this.upper.stat(held).ino !== loc.st.ino) throw new NfsError(NfsStat.STALE, `${rel} was replaced during the remove`);
            await this.upper.unlink(d, n, isDir);
          } finally {
            await this.upper.releaseLater(held);
          }
        });
        if (!isDir && loc.st.nlink === 1n) {
          await this.files.drop(`u${loc.st.ino}`);
          await this.origins.delete(loc.st.ino);
        }
      }
      if (loc.lowerToo) await this.whiteout(rel);
    });
  }

  private async whiteout(rel: string): Promise<void> {
    await this.copyUp(parentOf(rel));
    await this.inParent(rel, (d, n) => this.upper.mknod(d, n, 'chr', 0, 0));
  }

  /** Removes the whiteouts and opaque marker an upper directory holds once its merged view is empty. */
  private async emptyUpperDir(rel: string): Promise<void> {
    await this.withRef('upper', rel, undefined, async (d) => {
      for (const n of await this.upper.names(d)) await this.upper.unlink(d, Buffer.from(n, 'latin1'), false);
    });
  }

  /**
   * A listing's cookie verifier is this thread's `VERF_PREFIX` and a serial: unique to the listing without a
   * random draw per directory listed (a walk lists every directory once), and from another server process
   * (a restart) it is not taken for one of this one's.
   */
  async readdir(dir: FsObject, cookie: bigint, verf: Buffer): Promise<{ verf: Buffer; names: string[] }> {
    const known = cookie !== 0n && verf.length === 8 && VERF_PREFIX.equals(verf.subarray(0, 4)) ? this.listings.get(verf.readUInt32BE(4)) : undefined;
    if (known) return { verf, names: known };
    await this.locateObj(dir as OverlayObject);
    const names = ['.', '..', ...(await this.names((dir as OverlayObject).rel))];
    const serial = (listingSerial = (listingSerial + 1) >>> 0);
    const v = Buffer.allocUnsafe(8);
    VERF_PREFIX.copy(v, 0);
    v.writeUInt32BE(serial, 4);
    this.listings.set(serial, names);
    if (this.listings.size > 64) this.listings.delete(this.listings.keys().next().value!);
    return { verf: v, names };
  }

  async readlink(obj: FsObject): Promise<Buffer> {
    const o = obj as OverlayObject;
    const loc = await this.locateObj(o);
    return this.withRef(loc.layer, o.rel, loc.st.ino, (r) => this.io(loc.layer).readlink(r));
  }

  async statfs(_obj: FsObject): Promise<FsStat> {
    return this.withRef('upper', '', undefined, (r) => this.upper.statfs(r));
  }

  forgetCached(): void {
    this.listings.clear();
    this.located.clear();
    this.layerDirs.clear();
  }

  /** Gives back the layer roots' descriptors; a second call does nothing (a server may be stopped twice). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.files.close();
    const left = (rootsOn.get(this.lowerPath) ?? 1) - 1;
    if (left > 0) rootsOn.set(this.lowerPath, left);
    else {
      rootsOn.delete(this.lowerPath);
      void imageFiles.dropPrefix(this.imageKey);
      this.dirs.clear();
      imageDirs.delete(this.lowerPath);
    }
    this.upper.close();
    this.lower.close();
  }
}

/** `name` in the directory `dir` (a descriptor) as a path the l* calls take: the magic link is followed, the name is not. */
function byName(dir: Ref, name: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`/proc/self/fd/${dir as number}/`), name]);
}

function attrsOf(st: LocalAttrs): FsAttrs {
  return { ino: st.ino, mode: st.mode, nlink: st.nlink, uid: st.uid, gid: st.gid, rdev: st.rdev, size: st.size, blocks: st.blocks, atimeNs: st.atimeNs, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs };
}

/** Linux's dev_t encoding (glibc's gnu_dev_major/minor). */
const major = (rdev: bigint) => Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
const minor = (rdev: bigint) => Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));

/**
 * The node layer in portable mode: the path backend, with whiteouts, device
 * nodes and FIFOs made by coreutils `mknod` (argv, never a shell), since
 * Node has no mknod(2).
 */
class PortableLayerIo extends PortableIo {
  override async mknod(dir: Buffer, name: Buffer, kind: NodeKind, major = 0, minor = 0): Promise<void> {
    if (kind === 'sock') return super.mknod(dir, name, kind);
    const path = Buffer.concat([dir, Buffer.from('/'), name]);
    // An argv string is UTF-8: a name with other bytes could not be passed exactly.
    if (path.some((b) => b >= 0x80)) throw fsError('EINVAL', 'device and FIFO names of an image-backed root in portable mode must be ASCII');
    const p = path.toString('latin1');
    const args = kind === 'fifo' ? ['-m', '0600', '--', p, 'p'] : ['-m', '0600', '--', p, kind === 'chr' ? 'c' : 'b', String(major), String(minor)];
    await new Promise<void>((resolve, reject) =>
      execFile('mknod', args, { timeout: 10_000, encoding: 'latin1' }, (err, _o, stderr) => (err ? reject(fsError(/File exists/.test(stderr) ? 'EEXIST' : 'EIO', stderr.trim())) : resolve())),
    );
  }
}
