import { mkdirSync, mkdtempSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

/** statfs f_type of the file systems that keep every page in memory: nothing lets them go. */
const IN_MEMORY = new Set([0x01021994 /* tmpfs */, 0x858458f6 /* ramfs */]);

/**
 * A new temporary directory on a file system backed by a disk, so that a
 * file's clean pages leave the page cache on POSIX_FADV_DONTNEED and a test
 * can make a file cold: the system's temporary directory, or the
 * repository's own `tmp/` (git ignores it) where that one lives in memory.
 * The caller removes it.
 */
export function evictableDir(prefix: string): string {
  const system = tmpdir();
  if (!IN_MEMORY.has(Number(statfsSync(system).type))) return mkdtempSync(join(system, prefix));
  const local = join(repoRoot, 'tmp');
  mkdirSync(local, { recursive: true });
  return mkdtempSync(join(local, prefix));
}
