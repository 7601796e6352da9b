import { link, open, unlink } from 'node:fs/promises';
import { constants } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { randomBytes } from 'node:crypto';
import { childPath, parentPath } from './byte-path.js';

/**
 * A Unix socket file at `path`, for MKNOD in portable mode (Node has no
 * mknod(2)). A name may be any bytes, which a socket path string cannot
 * carry, and a long directory path does not fit a socket address: the
 * socket is bound under a temporary ASCII name reached through a descriptor
 * of its directory (/proc/self/fd/N/...), then hard-linked to its real name
 * (which fails with EEXIST as mknod would) and the temporary name removed.
 */
export async function makeSocket(path: Buffer): Promise<void> {
  const dirPath = parentPath(path);
  const tmp = `.nfs-node-${randomBytes(6).toString('hex')}`;
  const made = childPath(dirPath, tmp);
  const dir = await open(dirPath, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    // Closing a listener unlinks the name it bound: the socket gets its real name while it still listens.
    const server = await listenAt(`/proc/self/fd/${dir.fd}/${tmp}`);
    try {
      await link(made, path);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await unlink(made).catch(() => {});
    }
  } finally {
    await dir.close();
  }
}

async function listenAt(at: string): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at, resolve);
  });
  return server;
}
