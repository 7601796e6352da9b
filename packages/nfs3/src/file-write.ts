import { fdatasync, fsync, write, writeSync } from 'node:fs';
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

/** writeHereThenSync's copy alone: all of `data` at `position` by pwrite on the calling thread (a write of 0 bytes ends it). */
export function writeHere(fd: number, data: Buffer, position: number): void {
  for (let done = 0; done < data.length; ) {
    const n = writeSync(fd, data, done, data.length - done, position + done);
    if (n === 0) break;
    done += n;
  }
}

/** An fsync (FILE_SYNC) or fdatasync (DATA_SYNC) of `fd` that covers a copy already made; nothing for UNSTABLE. */
function syncFor(fd: number, stable: Stability): Promise<void> | undefined {
  return stable === 'unstable' ? undefined : flushFd(fd, stable === 'file');
}

/** The flush running on each descriptor, and the one that starts after it for the callers that came meanwhile. */
const running = new Map<number, Promise<void>>();
const queued = new Map<number, { file: boolean; flush: Promise<void> }>();

/**
 * A flush of `fd` (fsync with `file`, else fdatasync) that starts after this call: stable writes on one file
 * in flight together share flushes (group commit). A flush already running may have started before the
 * caller's copy, so the caller waits for it and then for the next one, which every caller arriving
 * meanwhile shares; that one is an fsync if any of them asked for one. Each flush costs a pool hop and a
 * journal commit with a disk cache flush, however little it writes. A failed flush fails every caller it
 * covers (separate flushes would report the error to the first only). Callers hold the file open until they
 * are answered, so a descriptor here names one file throughout.
 */
export function flushFd(fd: number, file: boolean): Promise<void> {
  const next = queued.get(fd);
  if (next) {
    next.file ||= file;
    return next.flush;
  }
  const now = running.get(fd);
  if (!now) return startFlush(fd, file);
  const entry: { file: boolean; flush: Promise<void> } = {
    file,
    flush: now.then(ignore, ignore).then(() => {
      queued.delete(fd);
      return startFlush(fd, entry.file);
    }),
  };
  queued.set(fd, entry);
  return entry.flush;
}

function startFlush(fd: number, file: boolean): Promise<void> {
  const flush: Promise<void> = (file ? fsyncFd(fd) : fdatasyncFd(fd)).finally(() => {
    if (running.get(fd) === flush) running.delete(fd);
  });
  running.set(fd, flush);
  return flush;
}

function ignore(): void {}
