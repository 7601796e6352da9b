import { closeSync } from 'node:fs';
import type { LockHolder, NativeCalls } from '@netboot/platform';
import type { LockOwner, LockRequest } from './lock-table.js';

/** Opens the served file a handle names as a new open file description (read-write where it can), or undefined. */
export type OpenForLock = (fh: Buffer) => Promise<number | undefined>;

/** The OFD lock calls of @netboot/platform. */
export type OfdCalls = Pick<NativeCalls, 'ofdSetLock' | 'ofdGetLock' | 'ofdSetLockWait' | 'constants'>;

const INT64_MAX = (1n << 63n) - 1n;

/** An NLM range as an OFD range (len 0 = to EOF in both), or undefined past what off_t holds. */
function ofdRange(req: LockRequest): { start: bigint; len: bigint } | undefined {
  if (req.offset > INT64_MAX) return undefined;
  // A range ending beyond off_t reaches as far as a lock can: to EOF.
  if (req.length === 0n || req.offset + req.length - 1n > INT64_MAX) return { start: req.offset, len: 0n };
  return { start: req.offset, len: req.length };
}

const ownerKey = (o: LockOwner) => `${o.host}\0${o.svid}\0${o.oh.toString('hex')}`;

interface OwnerFile {
  host: string;
  fd: Promise<number | undefined>;
}

/**
 * The NLM locks as locks on the served files, so that a process on the
 * master using fcntl/lockf sees a client's lock and a client's request
 * waits for the master's. Each lock owner (client host, svid, owner handle)
 * gets its own open file description per file, and its granted ranges are
 * OFD locks on it: the kernel then merges and splits them per owner exactly
 * as the lock table does. The table stays the source of truth between
 * clients (grace, reclaim, blocked requests in order); this adds only what
 * the table cannot know, the master's own locks.
 */
export class HostLocks {
  private readonly files = new Map<string, OwnerFile>();

  constructor(
    private readonly open: OpenForLock,
    private readonly ofd: OfdCalls,
    private readonly log: (line: string) => void,
  ) {}

  private key(req: Pick<LockRequest, 'fh' | 'owner'>): string {
    return `${req.fh.toString('hex')}\0${ownerKey(req.owner)}`;
  }

  private fdOf(req: LockRequest): Promise<number | undefined> {
    const key = this.key(req);
    let file = this.files.get(key);
    if (!file) {
      const fd = this.open(req.fh).catch((e: unknown) => {
        this.log(`nlm: cannot open the locked file to lock it on this host too: ${(e as Error).message}; the lock is kept in netboot's table only`);
        return undefined;
      });
      file = { host: req.owner.host, fd };
      this.files.set(key, file);
    }
    return file.fd;
  }

  private type(req: LockRequest): number {
    return req.exclusive ? this.ofd.constants.F_WRLCK : this.ofd.constants.F_RDLCK;
  }

  /**
   * A call on the owner's file that the file refuses (a write lock on a
   * file only readable here: EBADF) leaves the lock to the table, said in
   * the log; it never fails the NLM request.
   */
  private guarded<T>(what: string, fallback: T, call: () => T): T {
    try {
      return call();
    } catch (e) {
      this.log(`nlm: ${what} on the served file failed: ${(e as Error).message}; the lock is kept in netboot's table only`);
      return fallback;
    }
  }

  /** A lock held on this host that conflicts (a process on the master, or another client's), or null. */
  async conflict(req: LockRequest): Promise<LockHolder | null> {
    const range = ofdRange(req);
    const fd = range && (await this.fdOf(req));
    if (fd === undefined || !range) return null;
    return this.guarded('F_OFD_GETLK', null, () => this.ofd.ofdGetLock(fd, this.type(req), range.start, range.len));
  }

  /** Takes the range for the owner; false when a process on this host holds a conflicting lock. */
  async take(req: LockRequest): Promise<boolean> {
    const range = ofdRange(req);
    const fd = range && (await this.fdOf(req));
    if (fd === undefined || !range) return true;
    return this.guarded('F_OFD_SETLK', true, () => this.ofd.ofdSetLock(fd, this.type(req), range.start, range.len));
  }

  /** Waits until the range can be taken, and takes it (off the event loop). */
  async wait(req: LockRequest): Promise<void> {
    const range = ofdRange(req);
    const fd = range && (await this.fdOf(req));
    if (fd === undefined || !range) return;
    // Not keeping the process alive: a server stopping must not wait for another process to let go.
    await this.ofd.ofdSetLockWait(fd, this.type(req), range.start, range.len, false);
  }

  /** Lets go of a range the owner holds. */
  async release(req: LockRequest): Promise<void> {
    const range = ofdRange(req);
    const file = this.files.get(this.key(req));
    const fd = file && range && (await file.fd);
    if (fd === undefined || !range) return;
    this.guarded('F_UNLCK', true, () => this.ofd.ofdSetLock(fd, this.ofd.constants.F_UNLCK, range.start, range.len));
  }

  /** Closes the owner's file (releasing whatever it still held there): it holds nothing on it any more. */
  async forget(fh: Buffer, owner: LockOwner): Promise<void> {
    const key = this.key({ fh, owner });
    const file = this.files.get(key);
    if (!file) return;
    this.files.delete(key);
    const fd = await file.fd;
    if (fd !== undefined) closeSync(fd);
  }

  /** Closes every file of a client host: its locks here are gone. */
  async forgetHost(host: string): Promise<void> {
    const gone = [...this.files].filter(([, f]) => f.host === host);
    for (const [key] of gone) this.files.delete(key);
    for (const [, f] of gone) {
      const fd = await f.fd;
      if (fd !== undefined) closeSync(fd);
    }
  }

  /** Closes every file: all of these locks go. */
  async close(): Promise<void> {
    const all = [...this.files.values()];
    this.files.clear();
    for (const f of all) {
      const fd = await f.fd;
      if (fd !== undefined) closeSync(fd);
    }
  }
}
