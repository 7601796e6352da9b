import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { setTimeout as pause } from 'node:timers/promises';
import { native, type NativeCalls } from '@netboot/platform';
import { acquireLock } from './process-lock.js';

/** Portable mode: how often and how long a held pid lock is tried again (a record change takes milliseconds). */
const PORTABLE_TRIES = 400;
const PORTABLE_PAUSE_MS = 25;

/**
 * Runs `fn` holding the lock file `path` (made if missing, never removed),
 * so that a record read, changed and written back under it is not written
 * by another process or thread in between: a `netboot node pin` and the
 * server recording a node's boot each keep the other's change.
 *
 * Natively an OFD write lock on the file, waited for off the event loop.
 * It belongs to the open file description, so two callers in one process
 * (two NFS threads, say) exclude each other as two processes do, and the
 * kernel lets it go when its holder dies, even by kill -9. In portable
 * mode the pid lock file of process-lock.ts (`path.pid`), tried again for
 * up to 10 s. `calls`: the platform module (undefined: portable mode).
 */
export async function withRecordLock<T>(path: string, what: string, fn: () => Promise<T>, calls: NativeCalls | undefined = native): Promise<T> {
  if (!calls) return withPidLock(`${path}.pid`, what, fn);
  const fh = await open(path, constants.O_RDWR | constants.O_CREAT, 0o600);
  try {
    // Uncontended (nearly always) it is taken at once; only a held lock is waited for, on a thread the wait starts.
    if (!calls.ofdSetLock(fh.fd, calls.constants.F_WRLCK, 0, 0)) await calls.ofdSetLockWait(fh.fd, calls.constants.F_WRLCK, 0, 0);
    return await fn();
  } finally {
    // The only descriptor of the description: closing it lets the lock go.
    await fh.close();
  }
}

async function withPidLock<T>(path: string, what: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    let unlock: () => Promise<void>;
    try {
      unlock = await acquireLock(path, what);
    } catch (err) {
      if (attempt >= PORTABLE_TRIES) throw err;
      await pause(PORTABLE_PAUSE_MS);
      continue;
    }
    try {
      return await fn();
    } finally {
      await unlock();
    }
  }
}
