import { constants, close, fstat, fstatSync, lstatSync, open, type BigIntStats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { promisify } from 'node:util';
import { childPath, rootPath } from './byte-path.js';
import { NfsError } from './errno-status.js';
import type { NodeKind, Stability, TimeChange } from './export-fs.js';
import { writeThenSync } from './file-write.js';
import type { LocalAttrs, LocalIo } from './local-io.js';
import { NfsStat } from './nfs3-constants.js';
import type { Opened } from './open-files.js';
import { makeSocket } from './special-files.js';

const openFd = promisify(open);
const fstatFd = promisify(fstat) as (fd: number, o: { bigint: true }) => Promise<BigIntStats>;
const closeFd = promisify(close);
const SLICE = 512;

/**
 * The local backend through Node's path-based fs calls, for where the
 * platform module cannot load. Every call takes the export root joined with
 * checked names and never follows a final symlink, but a directory above the
 * final name can be swapped for a symlink between the server's check and its
 * call: on an rw export a client (or a local user) who can rename in the
 * export can race a change outside it. Approximate: SETATTR times are set
 * to the microsecond (lutimes), MKNOD makes sockets only, and a path
 * (export prefix included) is limited to PATH_MAX.
 */
export class PortableIo implements LocalIo<Buffer> {
  readonly mode = 'portable';
  private readonly root: Buffer;

  /** `readOnly`: files are only ever opened for reading (an image generation under a node's layer). */
  constructor(
    root: string,
    private readonly readOnly = false,
  ) {
    this.root = rootPath(root);
  }

  at(rel: string): Buffer {
    return rel === '' ? this.root : childPath(this.root, rel);
  }

  child(dir: Buffer, name: Buffer): Buffer {
    return childPath(dir, name);
  }

  release(): void {}

  /** A path holds no inode: in portable mode the last unlink frees the blocks inside the call. */
  async releaseLater(): Promise<void> {}

  statOpen(fd: number): LocalAttrs {
    return fstatSync(fd, { bigint: true });
  }

  stat(r: Buffer): LocalAttrs {
    return lstatSync(r, { bigint: true });
  }

  async list(dir: Buffer): Promise<[string, bigint, boolean][]> {
    const names = await fsp.readdir(dir, { encoding: 'latin1' });
    const out: [string, bigint, boolean][] = [];
    // Synchronous lstat in short slices, yielding between them: several times faster than the promise API
    // for a walk of the whole export, and the server keeps answering meanwhile.
    for (let i = 0; i < names.length; i++) {
      if (i % SLICE === SLICE - 1) await new Promise((r) => setImmediate(r));
      const st = lstatSync(childPath(dir, names[i]!), { bigint: true, throwIfNoEntry: false });
      if (st) out.push([names[i]!, st.ino, st.isDirectory()]);
    }
    return out;
  }

  statChild(dir: Buffer, name: Buffer): LocalAttrs | undefined {
    return lstatSync(childPath(dir, name), { bigint: true, throwIfNoEntry: false });
  }

  names(dir: Buffer): Promise<string[]> {
    return fsp.readdir(dir, { encoding: 'latin1' });
  }

  chown(r: Buffer, uid: number, gid: number): Promise<void> {
    return fsp.lchown(r, uid, gid);
  }

  chmod(r: Buffer, mode: number): Promise<void> {
    return fsp.chmod(r, mode);
  }

  async truncate(r: Buffer, size: number): Promise<void> {
    const fh = await fsp.open(r, constants.O_WRONLY | constants.O_NOFOLLOW);
    try {
      await fh.truncate(size);
    } finally {
      await fh.close();
    }
  }

  /** lutimes takes seconds as a double, which libuv cuts to microseconds: times are exact to the microsecond only. */
  async utimes(r: Buffer, atime: TimeChange, mtime: TimeChange): Promise<void> {
    const st = 'keep' in atime || 'keep' in mtime ? await fsp.lstat(r, { bigint: true }) : undefined;
    const now = Date.now() / 1000;
    const seconds = (c: TimeChange, keep: bigint | undefined) => ('at' in c ? c.at.seconds + c.at.nseconds / 1e9 : 'now' in c ? now : Number(keep) / 1e9);
    await fsp.lutimes(r, seconds(atime, st?.atimeNs), seconds(mtime, st?.mtimeNs));
  }

  async createFile(dir: Buffer, name: Buffer): Promise<void> {
    await closeFd(await openFd(childPath(dir, name), constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW, 0o600));
  }

  mkdir(dir: Buffer, name: Buffer): Promise<void> {
    return fsp.mkdir(childPath(dir, name), 0o700).then(() => {});
  }

  symlink(dir: Buffer, name: Buffer, target: Buffer): Promise<void> {
    return fsp.symlink(target, childPath(dir, name));
  }

  /** Node has no mknod(2): a socket is made by binding one; devices and FIFOs cannot be made (NFS3ERR_NOTSUPP). */
  async mknod(dir: Buffer, name: Buffer, kind: NodeKind): Promise<void> {
    if (kind !== 'sock') throw Object.assign(new Error(`MKNOD of a ${kind} needs the platform module (mknodat)`), { code: 'ENOTSUP' });
    await makeSocket(childPath(dir, name));
  }

  link(r: Buffer, dir: Buffer, name: Buffer): Promise<void> {
    return fsp.link(r, childPath(dir, name));
  }

  rename(fromDir: Buffer, fromName: Buffer, toDir: Buffer, toName: Buffer): Promise<void> {
    return fsp.rename(childPath(fromDir, fromName), childPath(toDir, toName));
  }

  unlink(dir: Buffer, name: Buffer, isDir: boolean): Promise<void> {
    return isDir ? fsp.rmdir(childPath(dir, name)) : fsp.unlink(childPath(dir, name));
  }

  readlink(r: Buffer): Promise<Buffer> {
    return fsp.readlink(r, { encoding: 'buffer' });
  }

  async statfs(r: Buffer) {
    const s = await fsp.statfs(r, { bigint: true });
    return { tbytes: s.blocks * s.bsize, fbytes: s.bfree * s.bsize, abytes: s.bavail * s.bsize, tfiles: s.files, ffiles: s.ffree, afiles: s.ffree };
  }

  async openFile(r: Buffer, ino: bigint): Promise<Opened> {
    let fd: number;
    let writable = true;
    try {
      if (this.readOnly) throw Object.assign(new Error('read-only layer'), { code: 'EROFS' });
      fd = await openFd(r, constants.O_RDWR | constants.O_NOFOLLOW);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EACCES' && code !== 'EROFS' && code !== 'ETXTBSY' && code !== 'EPERM') throw err;
      fd = await openFd(r, constants.O_RDONLY | constants.O_NOFOLLOW);
      writable = false;
    }
    const st = await fstatFd(fd, { bigint: true });
    if (st.ino !== ino) {
      await closeFd(fd);
      throw new NfsError(NfsStat.STALE, `inode ${ino} changed under its handle`);
    }
    return { fd, writable };
  }

  /** Node has no non-blocking file read: every read goes to the thread pool. */
  readCached(): number {
    return -1;
  }

  writeAt(fd: number, data: Buffer, position: number, stable: Stability): Promise<void> {
    return writeThenSync(fd, data, position, stable);
  }

  close(): void {}
}
