import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { link, open, unlink } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { randomBytes } from 'node:crypto';
import { childPath, parentPath } from './byte-path.js';

/**
 * Node has no mknod(2). Device nodes and FIFOs are made by coreutils'
 * `mknod` (an argv array, never a shell); a socket by binding a Unix socket.
 * A name may be any bytes, which neither an argv string nor a socket path
 * string can carry, and a long directory path does not fit a socket address:
 * the node is made under a temporary ASCII name reached through a descriptor
 * of its directory (/proc/self/fd/N/...), then hard-linked to its real name
 * (which fails with EEXIST as mknod would) and the temporary name removed.
 */
export async function makeNode(path: Buffer, kind: 'chr' | 'blk' | 'fifo' | 'sock', major = 0, minor = 0): Promise<void> {
  const dirPath = parentPath(path);
  const tmp = `.nfs-node-${randomBytes(6).toString('hex')}`;
  const made = childPath(dirPath, tmp);
  const dir = await open(dirPath, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    // Closing a listener unlinks the name it bound: the socket gets its real name while it still listens.
    const server = kind === 'sock' ? await listenAt(`/proc/self/fd/${dir.fd}/${tmp}`) : undefined;
    if (kind !== 'sock') await runMknod(dir.fd, tmp, kind, major, minor);
    try {
      await link(made, path);
    } finally {
      if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
      await unlink(made).catch(() => {});
    }
  } finally {
    await dir.close();
  }
}

/** `mknod` with the directory as the child's descriptor 3. */
async function runMknod(dirFd: number, name: string, kind: 'chr' | 'blk' | 'fifo', major: number, minor: number): Promise<void> {
  const at = `/proc/self/fd/3/${name}`;
  const args = kind === 'fifo' ? ['-m', '0600', '--', at, 'p'] : ['-m', '0600', '--', at, kind === 'chr' ? 'c' : 'b', String(major), String(minor)];
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn('mknod', args, { stdio: ['ignore', 'ignore', 'pipe', dirFd], timeout: 10_000 });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d.slice(0, 4096)));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stderr }));
  });
  if (code === 0) return;
  const e = new Error(stderr || `mknod exited with ${code}`) as NodeJS.ErrnoException;
  e.code = /File exists/.test(stderr)
    ? 'EEXIST'
    : /Permission denied/.test(stderr)
      ? 'EACCES'
      : /Operation not permitted/.test(stderr)
        ? 'EPERM'
        : /Read-only/.test(stderr)
          ? 'EROFS'
          : /No space/.test(stderr)
            ? 'ENOSPC'
            : /No such file/.test(stderr)
              ? 'ENOENT'
              : 'EIO';
  throw e;
}

async function listenAt(at: string): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at, resolve);
  });
  return server;
}
