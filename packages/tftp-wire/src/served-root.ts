import { randomBytes } from 'node:crypto';
import { close, closeSync, constants as fsConstants, fstat, fstatSync, open, type Stats } from 'node:fs';
import { rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { native, platformStatus } from '@netboot/platform';
import { nameUnderRoot, realRoot, resolveUnderRoot } from './secure-path.js';

const fstatAsync = promisify(fstat);
const openAsync = promisify(open);
const closeAsync = promisify(close);

/** Why a name is not served: `escape` and `bad-name` as resolveUnderRoot says, `not-file` a directory or device, `error` an errno. */
export type Refusal = { ok: false; reason: 'escape' | 'bad-name' | 'not-found' | 'not-file' | 'exists' | 'error'; detail: string; directory?: boolean };

/** A regular file opened for reading; the caller closes `fd`. */
export type OpenedFile = { ok: true; fd: number; stats: Stats } | Refusal;

/**
 * An upload's temporary file, created beside its target. The caller writes
 * and closes `fd`, then calls `commit` (renames it over the target) or
 * `discard` (removes it), exactly once.
 */
export interface Upload {
  ok: true;
  fd: number;
  commit(): Promise<void>;
  discard(): Promise<void>;
}

/** Symlinks are followed while they stay beneath the root; `/proc` magic links never. */
const BENEATH = native ? native.constants.RESOLVE_BENEATH | native.constants.RESOLVE_NO_MAGICLINKS : 0;

/** The portable-mode warning is given once per process, by the first server to start. */
let portableNoticeGiven = false;

function errno(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? 'cannot open';
}

/**
 * The served directory, and the one place its files are opened. With the
 * platform module every open is an openat2(RESOLVE_BENEATH) below a
 * descriptor of the root held from start to close: the name is resolved once,
 * by the kernel, and a symlink swapped in on the way (a directory of the
 * path, or the file itself, replaced by a link out of the root) makes the
 * open fail instead of following it out. Reads, fstat and the upload's
 * rename then act on descriptors, never on the name again. Without the
 * module (portable mode) names are checked with realpath and opened by path,
 * which leaves that race open; `start` says so in the log.
 */
export class ServedRoot {
  private constructor(
    /** The real path of the root. */
    readonly path: string,
    /** O_PATH descriptor of the root (native mode), or -1. */
    private fd: number,
  ) {}

  /** Resolves and opens the root; in portable mode the first root of the process tells `log` that the path race is open. */
  static async start(root: string, log: (message: string) => void): Promise<ServedRoot> {
    const path = await realRoot(root);
    if (!native) {
      if (!(await stat(path)).isDirectory()) throw new Error(`root ${root} is not a directory`);
      if (portableNoticeGiven) return new ServedRoot(path, -1);
      portableNoticeGiven = true;
      const status = platformStatus();
      const why = status.mode === 'portable' ? status.why : 'no native module';
      log(`portable mode (${why}): files under ${path} are checked and then opened by path, so a local user who can replace a directory or file there with a symlink can race the check and have a file outside the root served or written; load @netboot/platform to close this`);
      return new ServedRoot(path, -1);
    }
    const c = native.constants;
    let fd: number;
    try {
      fd = native.openat2(c.AT_FDCWD, path, c.O_PATH | c.O_DIRECTORY | c.O_CLOEXEC, 0, 0);
    } catch (err) {
      if (errno(err) === 'ENOTDIR') throw new Error(`root ${root} is not a directory`);
      throw err;
    }
    return new ServedRoot(path, fd);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  /** Opens a regular file for reading. */
  async openRead(name: string): Promise<OpenedFile> {
    if (!native) return this.openReadByPath(name);
    const now = this.openReadNow(name);
    if (now) return now;
    const c = native.constants;
    const opened = await this.openResolved(this.fd, name, c.O_RDONLY | c.O_CLOEXEC | c.O_NONBLOCK);
    if (!opened.ok) return opened;
    return this.regularFile(opened.fd);
  }

  /**
   * openRead without a promise where the answer needs only an openat2 and
   * an fstat (the kernel resolved the name beneath the root, or found no
   * such file); undefined where openRead goes on to realpath (portable
   * mode, a symlink the kernel refused), for the caller to await openRead.
   * A server answering from the page cache then stays in its turn of the
   * event loop.
   */
  openReadNow(name: string): OpenedFile | undefined {
    if (!native) return undefined;
    const c = native.constants;
    const opened = this.openBeneathNow(this.fd, name, c.O_RDONLY | c.O_CLOEXEC | c.O_NONBLOCK);
    if (!opened?.ok) return opened;
    return this.regularFile(opened.fd);
  }

  /** The last name statInto was asked for and its relative path: the same name comes again and again. */
  private statName = '';
  private statRel = '';

  /**
   * statx of `name` as openRead resolves it into `out` (STATX_SLOT order),
   * following symlinks wherever they lead: not a check of the root, only a
   * way to tell whether `name` still leads to a file openRead opened (the
   * same device and inode), without opening it again. False where there is
   * no such name, it cannot be looked up, or the platform module is absent.
   */
  statInto(name: string, out: BigInt64Array): boolean {
    if (!native) return false;
    if (name !== this.statName) {
      const n = nameUnderRoot(this.path, name);
      if (!n.ok) return false;
      this.statName = name;
      this.statRel = n.rel === '' ? '.' : n.rel;
    }
    try {
      return native.statxInto(this.fd, this.statRel, 0, out);
    } catch {
      return false;
    }
  }

  /** Creates the temporary file of an upload to `name`: a new name, or an existing world-writable regular file (tftp-hpa's rule). */
  async createUpload(name: string): Promise<Upload | Refusal> {
    if (!native) return this.createUploadByPath(name);
    const n = nameUnderRoot(this.path, name);
    if (!n.ok) return n;
    const base = basename(n.rel);
    if (n.rel === '' || base === '.') return { ok: false, reason: 'exists', detail: 'the file exists and is not world-writable' };
    const c = native.constants;
    const parentName = n.absoluteOutside ? `/${dirname(n.rel)}` : dirname(n.rel);
    const parent = await this.openBeneath(this.fd, parentName, c.O_PATH | c.O_DIRECTORY | c.O_CLOEXEC);
    if (!parent.ok) return parent.reason === 'not-found' ? { ...parent, detail: 'no such directory' } : parent;
    const dirFd = parent.fd;
    let fd: number;
    try {
      const existing = await this.existing(dirFd, base);
      if (existing !== 'absent' && existing !== 'writable') {
        await closeAsync(dirFd);
        return existing;
      }
      if (existing === 'absent' && n.absoluteOutside) {
        await closeAsync(dirFd);
        return { ok: false, reason: 'escape', detail: `"${name}" is an absolute path outside the root` };
      }
      const temp = `.${base}.tftp-${randomBytes(4).toString('hex')}`;
      fd = native.openat2(dirFd, temp, c.O_WRONLY | c.O_CREAT | c.O_EXCL | c.O_CLOEXEC, 0o644, BENEATH);
      let done = false;
      const finish = async (act: () => void) => {
        if (done) return;
        done = true;
        try {
          act();
        } finally {
          await closeAsync(dirFd);
        }
      };
      return {
        ok: true,
        fd,
        commit: () => finish(() => native!.renameat2(dirFd, temp, dirFd, base, 0)),
        discard: () => finish(() => native!.unlinkat(dirFd, temp, 0)),
      };
    } catch (err) {
      await closeAsync(dirFd);
      return { ok: false, reason: 'error', detail: errno(err) };
    }
  }

  /** Whether `base` is in the directory, and a refusal when it may not be replaced. */
  private async existing(dirFd: number, base: string): Promise<'absent' | 'writable' | Refusal> {
    const c = native!.constants;
    let fd: number;
    try {
      fd = native!.openat2(dirFd, base, c.O_PATH | c.O_CLOEXEC, 0, BENEATH);
    } catch (err) {
      const code = errno(err);
      if (code === 'ENOENT') return 'absent';
      if (code === 'EXDEV' || code === 'ELOOP') return { ok: false, reason: 'escape', detail: `"${base}" is a symlink leading outside the root` };
      return { ok: false, reason: 'error', detail: code };
    }
    try {
      const st = await fstatAsync(fd);
      if (!st.isFile() || (st.mode & fsConstants.S_IWOTH) === 0) return { ok: false, reason: 'exists', detail: 'the file exists and is not world-writable' };
      return 'writable';
    } finally {
      await closeAsync(fd);
    }
  }

  /**
   * openat2 of a requested name below `dirFd` (the root's), symlinks followed
   * while they stay beneath it. An absolute symlink, or any symlink on a
   * kernel without openat2 (the module's walk refuses them), is refused by
   * the kernel even when it points inside the root; such a name is resolved
   * with realpath as before and, when that lands inside, its real path
   * opened beneath the root again, so a swap in between can only make the
   * open fail or find another file inside.
   */
  private async openBeneath(dirFd: number, name: string, flags: number): Promise<{ ok: true; fd: number } | Refusal> {
    return this.openBeneathNow(dirFd, name, flags) ?? this.openResolved(dirFd, name, flags);
  }

  /** openBeneath's first try, the kernel's walk alone; undefined when it refused a symlink (EXDEV, ELOOP) and realpath must decide. */
  private openBeneathNow(dirFd: number, name: string, flags: number): { ok: true; fd: number } | Refusal | undefined {
    const n = nameUnderRoot(this.path, name);
    if (!n.ok) return n;
    const rel = n.rel === '' ? '.' : n.rel;
    try {
      return { ok: true, fd: native!.openat2(dirFd, rel, flags, 0, BENEATH) };
    } catch (err) {
      const code = errno(err);
      // A name too long to exist is not found, as realpath's answer was.
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENAMETOOLONG') {
        if (n.absoluteOutside) return { ok: false, reason: 'escape', detail: `"${name}" is an absolute path outside the root` };
        return { ok: false, reason: 'not-found', detail: code };
      }
      if (code !== 'EXDEV' && code !== 'ELOOP') return { ok: false, reason: 'error', detail: code };
      return undefined;
    }
  }

  /** openBeneath's second try: the name resolved with realpath and, when that lands inside, its real path opened beneath the root. */
  private async openResolved(dirFd: number, name: string, flags: number): Promise<{ ok: true; fd: number } | Refusal> {
    const resolved = await resolveUnderRoot(this.path, name);
    if (!resolved.ok) return resolved;
    if (!resolved.exists) return { ok: false, reason: 'not-found', detail: 'ENOENT' };
    try {
      return { ok: true, fd: native!.openat2(dirFd, relative(this.path, resolved.path) || '.', flags, 0, BENEATH) };
    } catch (err) {
      const code = errno(err);
      if (code === 'EXDEV' || code === 'ELOOP') return { ok: false, reason: 'escape', detail: `"${name}" leads outside the root` };
      return { ok: false, reason: code === 'ENOENT' || code === 'ENOTDIR' ? 'not-found' : 'error', detail: code };
    }
  }

  /**
   * The opened fd when it is a regular file; closes it otherwise. fstat of an
   * open descriptor reads the inode the open just brought in and never waits
   * for the disk, so it runs here rather than by a thread-pool hop, which
   * cost every TFTP transfer and HTTP request a hand-off and a wake-up.
   */
  private regularFile(fd: number): OpenedFile {
    let stats: Stats;
    try {
      stats = fstatSync(fd);
    } catch (err) {
      closeSync(fd);
      return { ok: false, reason: 'error', detail: errno(err) };
    }
    if (stats.isFile()) return { ok: true, fd, stats };
    // Closing a file opened for reading does not wait for the disk.
    closeSync(fd);
    return { ok: false, reason: 'not-file', detail: 'not a regular file', directory: stats.isDirectory() };
  }

  /** Portable mode: realpath check, stat, then open by path (the race the native path closes). */
  private async openReadByPath(name: string): Promise<OpenedFile> {
    const resolved = await resolveUnderRoot(this.path, name);
    if (!resolved.ok) return resolved;
    if (!resolved.exists) return { ok: false, reason: 'not-found', detail: 'ENOENT' };
    let st: Stats;
    try {
      st = await stat(resolved.path);
    } catch (err) {
      return { ok: false, reason: 'not-found', detail: errno(err) };
    }
    if (!st.isFile()) return { ok: false, reason: 'not-file', detail: 'not a regular file', directory: st.isDirectory() };
    let fd: number;
    try {
      fd = await openAsync(resolved.path, 'r');
    } catch (err) {
      const code = errno(err);
      return { ok: false, reason: code === 'ENOENT' || code === 'ENOTDIR' ? 'not-found' : 'error', detail: code };
    }
    return this.regularFile(fd);
  }

  /** Portable mode: the upload's temporary file and rename by path. */
  private async createUploadByPath(name: string): Promise<Upload | Refusal> {
    const resolved = await resolveUnderRoot(this.path, name);
    if (!resolved.ok) return resolved;
    if (resolved.exists) {
      const st = await stat(resolved.path);
      if (!st.isFile() || (st.mode & fsConstants.S_IWOTH) === 0) return { ok: false, reason: 'exists', detail: 'the file exists and is not world-writable' };
    }
    const temp = join(dirname(resolved.path), `.${basename(resolved.path)}.tftp-${randomBytes(4).toString('hex')}`);
    let fd: number;
    try {
      fd = await openAsync(temp, 'wx', 0o644);
    } catch (err) {
      const code = errno(err);
      if (code === 'ENOENT') return { ok: false, reason: 'not-found', detail: 'no such directory' };
      return { ok: false, reason: 'error', detail: code };
    }
    return { ok: true, fd, commit: () => rename(temp, resolved.path), discard: () => unlink(temp) };
  }
}
