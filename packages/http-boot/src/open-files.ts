import { closeSync } from 'node:fs';
import { native, STATX_SLOT, STATX_SLOTS } from '@netboot/platform';
import type { ServedRoot } from '@netboot/tftp-wire';
import type { FileStat } from './response-head.js';

/** A descriptor held open for a name, as one request uses it; given back with `OpenFiles.release`. */
export interface HeldFile {
  readonly fd: number;
  /** The file's size and times as the last check found them (a new object when they change: one a response read stays as it was). */
  readonly stat: FileStat;
}

/** One name's held descriptor. */
interface Entry extends HeldFile {
  fd: number;
  stat: FileStat;
  /** The file's identity, exact (statx's 64-bit values), and as numbers for response heads. */
  dev: bigint;
  ino: bigint;
  /** Its change time when opened: a mode, owner or link change, or a write, since then asks for a new open. */
  ctime: bigint;
  /** The size and modification time `stat` was made from. */
  size: bigint;
  mtime: bigint;
  /** Responses using the descriptor now; it is closed only once this is 0. */
  users: number;
  /** Out of the table: closed when its last user is done. */
  retired: boolean;
  /** When a request last used it (ms). */
  used: number;
}

/** Names whose descriptors are kept; past this the oldest is let go (boot roots serve a few dozen). */
const MAX_HELD = 256;
/** A descriptor no request used for this long is closed, so a deleted file's space is not kept. */
const INACTIVE_MS = 10_000;

/**
 * Descriptors of the files served, kept open between requests so that a
 * request for a file the page cache holds costs one statx of its name
 * instead of an open, an fstat and a close.
 *
 * Every request checks its name again before its descriptor is used: the
 * statx of the name (beneath the root's descriptor) must find the very inode
 * the descriptor holds (device and inode number, exact; the inode cannot be
 * reused while it is held open). A file renamed over, replaced, deleted or
 * swapped for a symlink fails the check at the first request after the
 * change, and is opened anew through the root's confined open. The stat
 * follows symlinks without the root's confinement, and need not have it:
 * bytes only ever come from a descriptor the confined open gave, and a name
 * that now leads elsewhere (out of the root included) finds another inode
 * and is reopened, which refuses what leads out. A name that leads, by any
 * path, to the held inode is served that inode, which is what a new confined
 * open of the name served when it was held. A change of the inode's status
 * (its change time: a chmod or chown, a link, a write) also lets it go, so
 * each request is served as a confined open of the name would serve it now
 * (a non-root server refused a file made unreadable, say), to the file
 * system's timestamp granularity (a change in the clock tick of the one
 * before leaves the change time as it was).
 */
export class OpenFiles {
  private readonly held = new Map<string, Entry>();
  private readonly slots = new BigInt64Array(STATX_SLOTS);

  /**
   * The held descriptor of `name` when the name still leads to its file,
   * counted as in use until `release`; undefined (nothing held for the
   * name, or it failed the check and was let go) for the caller to open it.
   */
  use(root: ServedRoot, name: string, now: number): HeldFile | undefined {
    const e = this.held.get(name);
    if (e === undefined) return undefined;
    const s = this.slots;
    if (!root.statInto(name, s) || s[STATX_SLOT.ino] !== e.ino || s[STATX_SLOT.dev] !== e.dev || s[STATX_SLOT.ctimeNs] !== e.ctime) {
      this.letGo(name, e);
      return undefined;
    }
    const { dev, ino } = e.stat;
    e.users++;
    e.used = now;
    // The change time is the same, so size and times are too, but for a change in the clock tick of the open.
    if (s[STATX_SLOT.size] !== e.size || s[STATX_SLOT.mtimeNs] !== e.mtime) {
      e.size = s[STATX_SLOT.size];
      e.mtime = s[STATX_SLOT.mtimeNs];
      e.stat = statOf(s, dev, ino);
    }
    return e;
  }

  /**
   * Takes `fd`, just opened for `name` through the root's confined open, into
   * the table, in use until `release`. Undefined where it cannot be kept
   * (no platform module, or its statx failed): the caller keeps and closes it.
   */
  hold(name: string, fd: number, now: number): HeldFile | undefined {
    if (!native) return undefined;
    const s = this.slots;
    try {
      native.statxInto(fd, '', native.constants.AT_EMPTY_PATH, s);
    } catch {
      return undefined;
    }
    const old = this.held.get(name);
    if (old) this.letGo(name, old);
    else if (this.held.size >= MAX_HELD) {
      const [oldest, e] = this.held.entries().next().value!;
      this.letGo(oldest, e);
    }
    const dev = s[STATX_SLOT.dev];
    const ino = s[STATX_SLOT.ino];
    const e: Entry = {
      fd,
      stat: statOf(s, Number(dev), Number(ino)),
      dev,
      ino,
      ctime: s[STATX_SLOT.ctimeNs],
      size: s[STATX_SLOT.size],
      mtime: s[STATX_SLOT.mtimeNs],
      users: 1,
      retired: false,
      used: now,
    };
    this.held.set(name, e);
    return e;
  }

  /** A response that used the entry is done with its descriptor. */
  release(file: HeldFile): void {
    const e = file as Entry;
    e.users--;
    if (e.retired && e.users === 0) closeSync(e.fd);
  }

  /** Lets go of descriptors no request used since `now - INACTIVE_MS`. */
  sweep(now: number): void {
    for (const [name, e] of this.held) if (now - e.used > INACTIVE_MS) this.letGo(name, e);
  }

  /** Lets go of every descriptor; those in use close as their responses end. */
  close(): void {
    for (const [name, e] of this.held) this.letGo(name, e);
  }

  private letGo(name: string, e: Entry): void {
    this.held.delete(name);
    e.retired = true;
    // Closing a file opened for reading does not wait for the disk.
    if (e.users === 0) closeSync(e.fd);
  }
}

/** The size and times of a statx of the file `dev`, `ino`; times as float ms (sub-µs precision is not needed: heads name the second). */
function statOf(s: BigInt64Array, dev: number, ino: number): FileStat {
  return {
    dev,
    ino,
    size: Number(s[STATX_SLOT.size]),
    mtimeMs: Number(s[STATX_SLOT.mtimeNs]) / 1e6,
    ctimeMs: Number(s[STATX_SLOT.ctimeNs]) / 1e6,
  };
}
