import { lutimes } from 'node:fs/promises';
import { native, platformStatus, type NativeCalls } from '@netboot/platform';

/** What is set on a name of the new generation once all its entries are in. */
export interface FinalMetadata {
  /** Whole seconds and nanoseconds; atime is set to the same. */
  mtime: { sec: number; nsec: number };
  xattrs: Map<string, Uint8Array>;
  /** The archive entry it came from, for errors. */
  entry: string;
}

let portableSaid = false;

/**
 * Sets xattrs, then exact times, on every name in `meta` (paths inside the
 * import's private tree) without following symlinks: lsetxattr and
 * utimensat(AT_SYMLINK_NOFOLLOW) from the platform module, in this process.
 * Returns how many xattrs the file system refused as unsupported (a file
 * system without user xattrs, for instance); any other failure throws,
 * naming the entry. In portable mode times are set with lutimes (to the
 * microsecond) and xattrs are counted as not kept.
 */
export async function applyFinalMetadata(meta: ReadonlyMap<string, FinalMetadata>, calls: NativeCalls | undefined = native): Promise<number> {
  if (!calls) return approximate(meta);
  let skipped = 0;
  for (const [path, m] of meta) {
    for (const [name, value] of m.xattrs) {
      try {
        calls.lsetxattr(path, name, value, 0);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOTSUP') skipped++;
        else throw new Error(`${JSON.stringify(m.entry)}: setting xattr ${name} failed: ${(err as Error).message}`);
      }
    }
  }
  const c = calls.constants;
  for (const [path, m] of meta) {
    try {
      calls.utimensat(c.AT_FDCWD, path, m.mtime.sec, m.mtime.nsec, m.mtime.sec, m.mtime.nsec, c.AT_SYMLINK_NOFOLLOW);
    } catch (err) {
      throw new Error(`${JSON.stringify(m.entry)}: setting its mtime failed: ${(err as Error).message}`);
    }
  }
  return skipped;
}

async function approximate(meta: ReadonlyMap<string, FinalMetadata>): Promise<number> {
  if (!portableSaid) {
    portableSaid = true;
    const status = platformStatus();
    console.error(
      `image import: portable mode (${status.mode === 'portable' ? status.why : 'asked for'}): times are kept to the microsecond, extended attributes are not kept`,
    );
  }
  let xattrs = 0;
  for (const [path, m] of meta) {
    xattrs += m.xattrs.size;
    const t = m.mtime.sec + m.mtime.nsec / 1e9;
    await lutimes(path, t, t);
  }
  return xattrs;
}
