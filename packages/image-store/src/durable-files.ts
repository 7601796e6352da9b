import { execFile } from 'node:child_process';
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { native } from '@netboot/platform';

/** fsync of a directory, so a rename or a new name in it survives a crash. */
export async function syncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Flushes the whole file system holding `path` (syncfs(2) from the platform
 * module, off the event loop): one call for a generation of thousands of
 * files instead of an fsync per file. In portable mode (Node has no syncfs)
 * coreutils `sync -f` does it.
 */
export async function syncFileSystem(path: string): Promise<void> {
  if (native) {
    const fh = await open(path, 'r');
    try {
      await native.syncfs(fh.fd);
    } catch (err) {
      throw new Error(`syncfs ${path}: ${(err as Error).message}`);
    } finally {
      await fh.close();
    }
    return;
  }
  return new Promise((resolve, reject) => {
    execFile('sync', ['-f', '--', path], { timeout: 600_000 }, (err) => (err ? reject(new Error(`sync -f ${path}: ${err.message}`)) : resolve()));
  });
}

/** Replaces `path` with `text` atomically: a reader sees the old or the new file, never a part. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${randomBytes(4).toString('hex')}`;
  const fh = await open(tmp, 'wx', 0o644);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await syncDir(dirname(path));
}
