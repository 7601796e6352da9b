import { constants } from 'node:fs';
import { lstat, open, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { EntryType, TarEvent } from './tar-parser.js';

const CHUNK = 256 * 1024;
const NS = 1_000_000_000n;
const floorDiv = (a: bigint, b: bigint) => (a % b < 0n ? a / b - 1n : a / b);

/**
 * Walks a directory as the same entry events a tar stream gives, parents
 * before children, names sorted, nothing followed: symlinks are entries,
 * a second name of an inode is a hard link entry, sockets are skipped (tar
 * skips them too). Extended attributes are not read (Node cannot list
 * them); import a tar made with `tar --xattrs` to keep them.
 */
export async function* walkDirectory(root: string): AsyncGenerator<TarEvent> {
  const seen = new Map<string, string>();
  const stack: string[] = [''];
  let count = 0;
  while (stack.length > 0) {
    const rel = stack.pop()!;
    const path = rel === '' ? root : join(root, rel);
    const st = await lstat(path, { bigint: true });
    let type: EntryType;
    if (st.isDirectory()) type = 'dir';
    else if (st.isFile()) type = 'file';
    else if (st.isSymbolicLink()) type = 'symlink';
    else if (st.isCharacterDevice()) type = 'char';
    else if (st.isBlockDevice()) type = 'block';
    else if (st.isFIFO()) type = 'fifo';
    else continue;
    const key = `${st.dev}:${st.ino}`;
    const first = type !== 'dir' && st.nlink > 1n ? seen.get(key) : undefined;
    if (type !== 'dir' && st.nlink > 1n && first === undefined) seen.set(key, rel);
    const rdev = st.rdev;
    const entry = {
      path: rel === '' ? '.' : rel,
      type: first !== undefined ? ('hardlink' as const) : type,
      linkpath: first ?? (type === 'symlink' ? await readlink(path) : ''),
      mode: Number(st.mode & 0o7777n),
      uid: Number(st.uid),
      gid: Number(st.gid),
      size: first === undefined && type === 'file' ? Number(st.size) : 0,
      mtime: Number(floorDiv(st.mtimeNs, NS)),
      mtimeNsec: Number(st.mtimeNs - floorDiv(st.mtimeNs, NS) * NS),
      devmajor: Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn)),
      devminor: Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn)),
      xattrs: new Map<string, Uint8Array>(),
      offset: count++,
    };
    yield { kind: 'entry', entry };
    if (entry.type === 'file' && entry.size > 0) {
      const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
      try {
        for (let at = 0; at < entry.size; ) {
          const buf = Buffer.allocUnsafe(Math.min(CHUNK, entry.size - at));
          const { bytesRead } = await fh.read(buf, 0, buf.length, at);
          if (bytesRead === 0) throw new Error(`${path} shrank while being imported`);
          yield { kind: 'data', bytes: buf.subarray(0, bytesRead) };
          at += bytesRead;
        }
      } finally {
        await fh.close();
      }
    }
    yield { kind: 'entry-end' };
    if (type === 'dir') {
      const names = (await readdir(path)).sort().reverse();
      for (const n of names) stack.push(rel === '' ? n : `${rel}/${n}`);
    }
  }
}
