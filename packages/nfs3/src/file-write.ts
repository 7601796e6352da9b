import { fdatasync, fsync, write } from 'node:fs';
import { promisify } from 'node:util';
import type { Stability } from './export-fs.js';

const writeFd = promisify(write);
const fsyncFd = promisify(fsync);
const fdatasyncFd = promisify(fdatasync);

/**
 * WRITE through Node's fs: all of `data` at `position` (a short write continued, one of 0 bytes ends it), then,
 * when `stable` asks, an fsync of the whole file (FILE_SYNC) or an fdatasync (DATA_SYNC): with several stable
 * writes in flight the first flushes them all and the others find their pages clean. Each is a hop to the
 * thread pool; the native backend makes a stable write in one (pwriteSync).
 */
export async function writeThenSync(fd: number, data: Buffer, position: number, stable: Stability): Promise<void> {
  for (let done = 0; done < data.length; ) {
    const n = (await writeFd(fd, data, done, data.length - done, position + done)).bytesWritten;
    if (n === 0) break;
    done += n;
  }
  if (stable === 'file') await fsyncFd(fd);
  else if (stable === 'data') await fdatasyncFd(fd);
}
