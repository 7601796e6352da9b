// A real directory tree to walk over NFS: a copy of the first entries of a
// system directory (/usr/lib by default), depth first in name order, with its
// directories, symlinks and regular files as they are (names, modes, sizes,
// symlink targets). Files up to 1 MiB keep their bytes; larger ones are
// sparse files of the same size, since a walk reads attributes, not data.
import { closeSync, copyFileSync, ftruncateSync, lstatSync, mkdirSync, openSync, readdirSync, readlinkSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

const COPY_MAX = 1024 * 1024;

/**
 * Copies up to `maxEntries` entries of `from` into `to` (which must not
 * exist). Returns what it made: entries, directories, files, symlinks.
 */
export function copyRealTree(from, to, maxEntries) {
  const made = { entries: 0, dirs: 0, files: 0, symlinks: 0 };
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
      if (made.entries >= maxEntries) return;
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
      } else if (st.isFile()) {
        made.entries++;
        made.files++;
        if (st.size <= COPY_MAX) {
          try {
            copyFileSync(s, d);
            continue;
          } catch {
            // unreadable: an empty file of its size below
          }
        }
        const fd = openSync(d, 'w', st.mode & 0o777);
        ftruncateSync(fd, st.size);
        closeSync(fd);
      }
    }
  };
  copyDir(from, to);
  return made;
}
