// A real directory tree to work on: a copy of a system directory (/usr/lib
// by default), depth first in name order, with its directories, symlinks and
// regular files as they are (names, modes, sizes, symlink targets), up to a
// number of entries (a walk over NFS) or of bytes (an image's disk cost).
import { chmodSync, closeSync, copyFileSync, ftruncateSync, lstatSync, mkdirSync, openSync, readdirSync, readlinkSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Copies entries of `from` into `to` (which must not exist) until one of
 * the bounds is reached:
 * - `maxEntries`: entries copied (directories, files and symlinks);
 * - `maxBytes`: bytes of the regular files copied; a file that would pass
 *   it is left out, so every file copied keeps its bytes.
 * Without `maxBytes` a file over `sparseOver` bytes (1 MiB unless given)
 * becomes a sparse file of its size, since a walk reads attributes, not
 * data. Returns what it made: entries, directories, files, symlinks, bytes.
 */
export function copyRealTree(from, to, { maxEntries = Infinity, maxBytes = Infinity, sparseOver = 1024 * 1024 } = {}) {
  const made = { entries: 0, dirs: 0, files: 0, symlinks: 0, bytes: 0 };
  const full = () => made.entries >= maxEntries || made.bytes >= maxBytes;
  const copyFile = (s, d, st) => {
    const whole = maxBytes !== Infinity || st.size <= sparseOver;
    if (whole) {
      if (made.bytes + st.size > maxBytes) return false;
      try {
        copyFileSync(s, d);
        chmodSync(d, st.mode & 0o7777);
        made.bytes += st.size;
        return true;
      } catch {
        if (maxBytes !== Infinity) return false; // unreadable: left out, the bytes are the point
        // unreadable: an empty file of its size below
      }
    }
    const fd = openSync(d, 'w', st.mode & 0o777);
    ftruncateSync(fd, st.size);
    closeSync(fd);
    return true;
  };
  const copyDir = (src, dst) => {
    mkdirSync(dst);
    made.dirs++;
    let names;
    try {
      names = readdirSync(src).sort();
    } catch {
      return; // unreadable: left empty
    }
    for (const name of names) {
      if (full()) return;
      const s = join(src, name);
      const d = join(dst, name);
      let st;
      try {
        st = lstatSync(s);
      } catch {
        continue; // gone meanwhile
      }
      if (st.isDirectory()) {
        made.entries++;
        copyDir(s, d);
      } else if (st.isSymbolicLink()) {
        made.entries++;
        made.symlinks++;
        symlinkSync(readlinkSync(s), d);
      } else if (st.isFile() && copyFile(s, d, st)) {
        made.entries++;
        made.files++;
      }
    }
  };
  copyDir(from, to);
  return made;
}
