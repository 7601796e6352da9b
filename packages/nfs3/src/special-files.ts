import { execFile } from 'node:child_process';
import { link, unlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Node has no mknod(2). Device nodes and FIFOs are made by coreutils'
 * `mknod` (an argv array, never a shell); a socket by binding a Unix socket
 * under a temporary name and hard-linking the inode to its real name,
 * because closing the listener unlinks the temporary name.
 */
export async function makeNode(path: string, kind: 'chr' | 'blk' | 'fifo' | 'sock', major = 0, minor = 0): Promise<void> {
  if (kind === 'sock') return makeSocket(path);
  const args = kind === 'fifo' ? ['-m', '0600', '--', path, 'p'] : ['-m', '0600', '--', path, kind === 'chr' ? 'c' : 'b', String(major), String(minor)];
  try {
    await run('mknod', args, { timeout: 10_000 });
  } catch (err) {
    const text = String((err as { stderr?: string }).stderr ?? '');
    const e = new Error(text || String(err)) as NodeJS.ErrnoException;
    e.code = /File exists/.test(text)
      ? 'EEXIST'
      : /Permission denied/.test(text)
        ? 'EACCES'
        : /Operation not permitted/.test(text)
          ? 'EPERM'
          : /Read-only/.test(text)
            ? 'EROFS'
            : /No space/.test(text)
              ? 'ENOSPC'
              : /No such file/.test(text)
                ? 'ENOENT'
                : 'EIO';
    throw e;
  }
}

async function makeSocket(path: string): Promise<void> {
  const tmp = join(dirname(path), `.nfs-sock-${randomBytes(6).toString('hex')}`);
  if (Buffer.byteLength(tmp) > 100 || basename(path).length === 0) {
    const e = new Error('socket path too long for bind') as NodeJS.ErrnoException;
    e.code = 'ENOTSUP';
    throw e;
  }
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(tmp, resolve);
  });
  try {
    await link(tmp, path);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await unlink(tmp).catch(() => {});
  }
}
