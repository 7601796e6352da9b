import { constants, type BigIntStats } from 'node:fs';
import { chmod, copyFile, lchown, link, lstat, mkdir, open, readlink, symlink, unlink, type FileHandle } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { native } from '@netboot/platform';
import { entryComponents, symlinkEscapes, UnsafeEntryError } from './entry-path.js';
import type { TarEntry, TarEvent } from './tar-parser.js';
import { applyFinalMetadata, type FinalMetadata } from './metadata-batch.js';

/** What an import wrote and what it shared with the previous generation. */
export interface BuildStats {
  entries: number;
  bytesWritten: number;
  bytesShared: number;
  filesShared: number;
  xattrsSkipped: number;
}

const NEW_FILE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const CHUNK = 64 * 1024;

/**
 * Applies archive entries to a fresh private directory (the future
 * generation). Every parent of every name is checked with lstat and must be
 * a real directory inside the new tree: an entry under a symlink the archive
 * made is refused, not followed. The directory is private to this process
 * (mode 0700, a random name nobody else writes to), so a name checked stays
 * what it was when used. A regular file whose bytes and metadata equal the
 * previous generation's file at the same name becomes a hard link to it; a
 * changed one starts as a reflink of it where the file system can, and
 * only the changed chunks are written.
 */
export class GenerationBuilder {
  readonly stats: BuildStats = { entries: 0, bytesWritten: 0, bytesShared: 0, filesShared: 0, xattrsSkipped: 0 };
  private readonly dirs = new Map<string, TarEntry>();
  /** Times and xattrs of names this import made, set last (by path; a later entry of the same name replaces it). */
  private readonly final = new Map<string, FinalMetadata>();
  private file: FileSink | undefined;

  constructor(
    private readonly root: string,
    private readonly prev: string | undefined,
  ) {}

  /** Builds from a stream of entries (a tar reader or a directory walk). */
  async apply(events: AsyncIterable<TarEvent>): Promise<void> {
    for await (const ev of events) {
      if (ev.kind === 'entry') await this.entry(ev.entry);
      else if (ev.kind === 'data') await this.file!.write(ev.bytes);
      else if (this.file) {
        const f = this.file;
        this.file = undefined;
        await f.end();
        this.stats.bytesWritten += f.written;
        if (f.shared) {
          this.stats.filesShared++;
          this.stats.bytesShared += f.size;
        }
      }
    }
  }

  /** Releases an open file after a failed import. */
  async abort(): Promise<void> {
    await this.file?.close();
    this.file = undefined;
  }

  /**
   * Directory owners and modes last (a read-only directory would refuse its
   * entries), then xattrs and exact times of everything made (creating
   * entries changed their directories' mtimes).
   */
  async finish(): Promise<void> {
    for (const [rel, e] of this.dirs) {
      const p = rel === '' ? this.root : join(this.root, rel);
      await lchown(p, e.uid, e.gid);
      await chmod(p, e.mode);
      this.final.set(p, { mtime: { sec: e.mtime, nsec: e.mtimeNsec }, xattrs: e.xattrs, entry: e.path });
    }
    this.stats.xattrsSkipped = await applyFinalMetadata(this.final);
  }

  private async entry(e: TarEntry): Promise<void> {
    this.stats.entries++;
    const comps = entryComponents(e.path, e.path);
    if (comps.length === 0) {
      if (e.type !== 'dir') throw new UnsafeEntryError(e.path, 'names the image root but is not a directory');
      this.dirs.set('', e);
      return;
    }
    await this.parents(comps, e.path);
    const rel = comps.join('/');
    const path = join(this.root, rel);
    const existing = await lstat(path).catch(() => undefined);
    if (existing?.isDirectory()) {
      if (e.type !== 'dir') throw new UnsafeEntryError(e.path, 'would replace a directory the archive made earlier');
    } else if (existing) {
      await unlink(path);
    }
    this.final.delete(path);
    switch (e.type) {
      case 'dir':
        if (!existing?.isDirectory()) await mkdir(path, 0o700);
        this.dirs.set(rel, e);
        break;
      case 'file':
        this.file = await FileSink.open(path, e, await this.prevFile(comps), () => this.final.set(path, { mtime: { sec: e.mtime, nsec: e.mtimeNsec }, xattrs: e.xattrs, entry: e.path }));
        break;
      case 'symlink':
        if (symlinkEscapes(comps.slice(0, -1), e.linkpath)) throw new UnsafeEntryError(e.path, `symlink to "${e.linkpath}" points outside the image`);
        await symlink(e.linkpath, path);
        await lchown(path, e.uid, e.gid);
        this.final.set(path, { mtime: { sec: e.mtime, nsec: e.mtimeNsec }, xattrs: e.xattrs, entry: e.path });
        break;
      case 'hardlink':
        await link(await this.linkTarget(e), path);
        break;
      case 'char':
      case 'block':
      case 'fifo':
        await mknod(path, e);
        await lchown(path, e.uid, e.gid);
        await chmod(path, e.mode);
        this.final.set(path, { mtime: { sec: e.mtime, nsec: e.mtimeNsec }, xattrs: e.xattrs, entry: e.path });
        break;
    }
  }

  /** Makes missing parents (0700 until their own entry, if any, sets them) and refuses any that is not a real directory. */
  private async parents(comps: string[], entry: string): Promise<void> {
    let p = this.root;
    for (let i = 0; i < comps.length - 1; i++) {
      p = join(p, comps[i]!);
      const st = await lstat(p).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      if (!st) {
        await mkdir(p, 0o700);
        continue;
      }
      if (st.isSymbolicLink()) throw new UnsafeEntryError(entry, `lies under "${comps.slice(0, i + 1).join('/')}", a symlink made earlier in the archive`);
      if (!st.isDirectory()) throw new UnsafeEntryError(entry, `lies under "${comps.slice(0, i + 1).join('/')}", which is not a directory`);
    }
  }

  /** The path a hard link entry names, checked like an entry name; a link to a symlink is checked against that symlink's target. */
  private async linkTarget(e: TarEntry): Promise<string> {
    const comps = entryComponents(e.linkpath, e.path, 'hard link target');
    if (comps.length === 0) throw new UnsafeEntryError(e.path, 'hard link to the image root');
    let p = this.root;
    for (let i = 0; i < comps.length; i++) {
      p = join(p, comps[i]!);
      const st = await lstat(p).catch(() => undefined);
      if (!st) throw new UnsafeEntryError(e.path, `hard link target "${e.linkpath}" is not an earlier entry of the archive`);
      const last = i === comps.length - 1;
      if (!last && !st.isDirectory()) throw new UnsafeEntryError(e.path, `hard link target "${e.linkpath}" lies under a symlink or a file`);
      if (last && st.isDirectory()) throw new UnsafeEntryError(e.path, `hard link target "${e.linkpath}" is a directory`);
      if (last && st.isSymbolicLink() && symlinkEscapes(comps.slice(0, -1), await readlink(p))) {
        throw new UnsafeEntryError(e.path, `hard link to "${e.linkpath}", a symlink that points outside the image`);
      }
    }
    return p;
  }

  /** The previous generation's regular file at the same name, reached without following any symlink. */
  private async prevFile(comps: string[]): Promise<{ path: string; st: BigIntStats } | undefined> {
    if (!this.prev) return undefined;
    let p = this.prev;
    for (let i = 0; i < comps.length; i++) {
      p = join(p, comps[i]!);
      const st = await lstat(p, { bigint: true }).catch(() => undefined);
      if (!st) return undefined;
      if (i < comps.length - 1 && !st.isDirectory()) return undefined;
      if (i === comps.length - 1) return st.isFile() ? { path: p, st } : undefined;
    }
    return undefined;
  }
}

function sameMetadata(st: BigIntStats, e: TarEntry): boolean {
  return (
    Number(st.mode & 0o7777n) === e.mode &&
    Number(st.uid) === e.uid &&
    Number(st.gid) === e.gid &&
    st.mtimeNs === BigInt(e.mtime) * 1_000_000_000n + BigInt(e.mtimeNsec) &&
    e.xattrs.size === 0
  );
}

/**
 * One regular file being written. While the bytes so far equal the previous
 * generation's file it writes nothing; at the end it links that file, or on
 * the first difference it makes the new file from the matched prefix.
 */
class FileSink {
  written = 0;
  shared = false;
  private pos = 0;
  private fd: FileHandle | undefined;
  private prevFd: FileHandle | undefined;
  private cloned = false;
  private scratch: Buffer | undefined;

  private constructor(
    private readonly path: string,
    private readonly e: TarEntry,
    private readonly prev: { path: string; st: BigIntStats } | undefined,
    private matching: boolean,
    private readonly made: () => void,
  ) {}

  get size(): number {
    return this.e.size;
  }

  /** `made` is called when the file is a new inode (not a link to the previous generation's), whose times are then to be set. */
  static async open(path: string, e: TarEntry, prev: { path: string; st: BigIntStats } | undefined, made: () => void): Promise<FileSink> {
    const matching = prev !== undefined && Number(prev.st.size) === e.size && sameMetadata(prev.st, e);
    const sink = new FileSink(path, e, prev, matching, made);
    if (prev) sink.prevFd = await open(prev.path, constants.O_RDONLY | constants.O_NOFOLLOW);
    if (!matching) await sink.create(0);
    return sink;
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.matching) {
      if (await this.samePrev(bytes)) {
        this.pos += bytes.length;
        return;
      }
      this.matching = false;
      await this.create(this.pos);
    }
    if (!this.cloned || !(await this.samePrev(bytes))) {
      await this.fd!.write(bytes, 0, bytes.length, this.pos);
      this.written += bytes.length;
    }
    this.pos += bytes.length;
  }

  async end(): Promise<void> {
    try {
      if (this.matching) {
        try {
          await link(this.prev!.path, this.path);
          this.shared = true;
          return;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EMLINK') throw err;
          await this.create(this.pos);
        }
      }
      const fd = this.fd!;
      if (this.cloned) await fd.truncate(this.e.size);
      await fd.chown(this.e.uid, this.e.gid);
      await fd.chmod(this.e.mode);
      this.made();
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    await this.fd?.close();
    await this.prevFd?.close();
    this.fd = this.prevFd = undefined;
  }

  /** Whether the previous file holds `bytes` at the current position. */
  private async samePrev(bytes: Uint8Array): Promise<boolean> {
    if (!this.prevFd) return false;
    if (!this.scratch || this.scratch.length < bytes.length) this.scratch = Buffer.allocUnsafe(Math.max(bytes.length, CHUNK));
    const { bytesRead } = await this.prevFd.read(this.scratch, 0, bytes.length, this.pos);
    return bytesRead === bytes.length && this.scratch.compare(bytes, 0, bytes.length, 0, bytesRead) === 0;
  }

  /**
   * Makes the new file holding the previous file's first `prefix` bytes: a
   * reflink of the previous file where the file system has them (only
   * changed chunks are then written), else a copy of the prefix.
   */
  private async create(prefix: number): Promise<void> {
    if (this.prevFd) {
      try {
        await copyFile(this.prev!.path, this.path, constants.COPYFILE_FICLONE_FORCE | constants.COPYFILE_EXCL);
        this.fd = await open(this.path, constants.O_WRONLY | constants.O_NOFOLLOW);
        this.cloned = true;
        return;
      } catch {
        // No reflinks here (ext4, tmpfs): write the file.
      }
    }
    this.fd = await open(this.path, NEW_FILE, 0o600);
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(prefix, 1)));
    for (let at = 0; at < prefix; ) {
      const { bytesRead } = await this.prevFd!.read(buf, 0, Math.min(buf.length, prefix - at), at);
      if (bytesRead === 0) throw new Error(`${this.prev!.path} shrank while being read`);
      await this.fd.write(buf, 0, bytesRead, at);
      this.written += bytesRead;
      at += bytesRead;
    }
  }
}

/**
 * A device node or FIFO in the private tree: mknodat from the platform
 * module; in portable mode (Node has no mknod(2)) coreutils `mknod`, argv
 * and never a shell.
 */
function mknod(path: string, e: TarEntry): Promise<void> {
  const fail = (why: string) => new UnsafeEntryError(e.path, `mknod failed: ${why} (device nodes need root)`);
  if (native) {
    const c = native.constants;
    const type = e.type === 'fifo' ? c.S_IFIFO : e.type === 'char' ? c.S_IFCHR : c.S_IFBLK;
    try {
      native.mknodat(c.AT_FDCWD, path, type | 0o600, e.type === 'fifo' ? 0 : e.devmajor, e.type === 'fifo' ? 0 : e.devminor);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(fail((err as Error).message));
    }
  }
  const args = e.type === 'fifo' ? ['-m', '0600', '--', path, 'p'] : ['-m', '0600', '--', path, e.type === 'char' ? 'c' : 'b', String(e.devmajor), String(e.devminor)];
  return new Promise((resolve, reject) => {
    execFile('mknod', args, { timeout: 10_000 }, (err, _out, stderr) => (err ? reject(fail((stderr || err.message).trim())) : resolve()));
  });
}
