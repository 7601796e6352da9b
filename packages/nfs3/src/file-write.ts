import { fdatasync, fsync, write, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import type { Stability } from './export-fs.js';
import type { LocalIo } from './local-io.js';

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
  await syncFor(fd, stable);
}

/**
 * WRITE on the calling thread: `data` copied into the page cache with pwrite (continued as writeThenSync does),
 * then, when `stable` asks, the flush in the thread pool, where the thread waits for the disk. For a loop that
 * serves only NFS (a worker thread): a hop to the pool and back for the copy costs more than the copy (two
 * futex wake-ups, the pool thread's wake-up taking the core from the loop, the loop's wake-up), and a writer
 * the kernel holds back for dirty pages then holds back only this thread's reading of more calls.
 */
export async function writeHereThenSync(fd: number, data: Buffer, position: number, stable: Stability): Promise<void> {
  writeHere(fd, data, position);
  await syncFor(fd, stable);
}

/**
 * WRITE on a thread that serves only NFS (directWrites): UNSTABLE copied on the thread (writeHereThenSync);
 * a stable write, where `io` makes one in a single pool call, copied and flushed there (pwritev2 with RWF_SYNC
 * or RWF_DSYNC, as knfsd writes FILE_SYNC), else as UNSTABLE and then flushed in the pool. A stable write waits
 * for the disk whichever thread copies it, so the copy costs the serving thread the time it would spend reading
 * the next calls: in the pool the megabyte's copy runs beside that reading on another core, and the thread's
 * CPU per FILE_SYNC call falls by about a third (bench/nfs-cost.js, "busiest thread").
 */
export function writeDirect(io: LocalIo<unknown>, fd: number, data: Buffer, position: number, stable: Stability): Promise<void> {
  return stable !== 'unstable' && io.stableWriteInOneCall ? io.writeAt(fd, data, position, stable) : writeHereThenSync(fd, data, position, stable);
}

/** writeHereThenSync's copy alone: all of `data` at `position` by pwrite on the calling thread (a write of 0 bytes ends it). */
export function writeHere(fd: number, data: Buffer, position: number): void {
  for (let done = 0; done < data.length; ) {
    const n = writeSync(fd, data, done, data.length - done, position + done);
    if (n === 0) break;
    done += n;
  }
}

/** fsync for FILE_SYNC, fdatasync for DATA_SYNC, nothing for UNSTABLE. */
function syncFor(fd: number, stable: Stability): Promise<void> | undefined {
  return stable === 'file' ? fsyncFd(fd) : stable === 'data' ? fdatasyncFd(fd) : undefined;
}
