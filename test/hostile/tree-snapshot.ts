import { createHash } from 'node:crypto';
import { closeSync, constants, lstatSync, openSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Everything a race could change about a directory tree the server must
 * never touch: per entry its type, mode, owner, group, size, inode, link
 * count, atime/mtime/ctime in nanoseconds, a file's content hash and a
 * symlink's target; the set of entries shows anything made or removed.
 * Contents are read with O_NOATIME, so taking a snapshot changes nothing,
 * except a directory's atime the first time it is listed after a change
 * (relatime; readdir has no O_NOATIME): take a first snapshot to settle them.
 */
export type TreeSnapshot = Map<string, string>;

/** At most this many entries are described: the trees are the tests' own, a few dozen entries. */
const MAX_ENTRIES = 10_000;

export function snapshot(root: string): TreeSnapshot {
  const out: TreeSnapshot = new Map();
  const queue = [''];
  while (queue.length && out.size < MAX_ENTRIES) {
    const rel = queue.shift()!;
    const path = join(root, rel);
    const st = lstatSync(path, { bigint: true });
    const kind = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'special';
    const facts: string[] = [
      kind,
      `mode=${(Number(st.mode) & 0o7777).toString(8)}`,
      `uid=${st.uid}`,
      `gid=${st.gid}`,
      `size=${st.size}`,
      `ino=${st.ino}`,
      `nlink=${st.nlink}`,
      `atime=${st.atimeNs}`,
      `mtime=${st.mtimeNs}`,
      `ctime=${st.ctimeNs}`,
    ];
    if (kind === 'file') {
      const fd = openSync(path, constants.O_RDONLY | constants.O_NOATIME | constants.O_NOFOLLOW);
      try {
        facts.push(`sha256=${createHash('sha256').update(readFileSync(fd)).digest('hex').slice(0, 16)}`);
      } finally {
        closeSync(fd);
      }
    }
    if (kind === 'symlink') facts.push(`target=${readlinkSync(path)}`);
    out.set(rel || '.', facts.join(' '));
    if (kind === 'dir') for (const name of readdirSync(path).sort()) queue.push(rel ? join(rel, name) : name);
  }
  return out;
}

/** What differs between two snapshots, one line per entry: empty when nothing changed. */
export function differences(before: TreeSnapshot, after: TreeSnapshot): string[] {
  const lines: string[] = [];
  for (const [name, was] of before) {
    const now = after.get(name);
    if (now === undefined) lines.push(`${name}: removed (was ${was})`);
    else if (now !== was) {
      const a = was.split(' ');
      const b = now.split(' ');
      const changed = b.filter((f, i) => f !== a[i]).map((f) => `${a.find((x) => x.split('=')[0] === f.split('=')[0]) ?? '?'} -> ${f}`);
      lines.push(`${name}: ${changed.join(', ')}`);
    }
  }
  for (const [name, now] of after) if (!before.has(name)) lines.push(`${name}: new entry (${now})`);
  return lines;
}

/**
 * A snapshot without atimes, for a tree that is read but must never be
 * written (an image generation: copy-up reads its files, relatime may then
 * update their atimes).
 */
export function withoutAtimes(s: TreeSnapshot): TreeSnapshot {
  return new Map([...s].map(([name, facts]) => [name, facts.replace(/ atime=\d+/, '')]));
}
