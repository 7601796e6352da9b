import { Nlm4Stat, type Nlm4Holder, type ShareAccess, type ShareMode } from './nlm-wire.js';

/** One past the last byte a lock can cover: where a lock of length 0 ("to the end of the file") ends. */
export const TO_EOF = 1n << 64n;

/** Who holds a lock: NLM names a lock owner by the client host, its process id (svid) and an opaque owner handle. */
export interface LockOwner {
  host: string;
  svid: number;
  oh: Buffer;
}

/** A byte range lock as NLM describes one: length 0 reaches to the end of the file. */
export interface LockRequest {
  fh: Buffer;
  owner: LockOwner;
  exclusive: boolean;
  offset: bigint;
  length: bigint;
}

/** A held lock, as `locksOf` reports it. */
export interface HeldLock {
  owner: LockOwner;
  exclusive: boolean;
  offset: bigint;
  length: bigint;
}

/** A blocked request that has just been granted: the adapter sends its GRANTED callback. */
export interface Grant<C> {
  request: LockRequest;
  context: C;
}

export type LockOutcome =
  | { stat: typeof Nlm4Stat.DENIED; holder: Nlm4Holder }
  | { stat: Exclude<Nlm4Stat, typeof Nlm4Stat.DENIED> };

export interface ShareOwner {
  host: string;
  oh: Buffer;
}

export interface LockTableOptions {
  /** Start in the grace period: only reclaims are granted until endGrace(). */
  grace?: boolean;
  /** Locks, waiters and share reservations held at once; beyond it requests get NLM4_DENIED_NOLOCKS (default 100000). */
  maxEntries?: number;
}

interface Range {
  key: string;
  owner: LockOwner;
  exclusive: boolean;
  start: bigint;
  /** Exclusive. */
  end: bigint;
}

interface Waiter<C> extends Range {
  request: LockRequest;
  context: C;
}

interface Share {
  key: string;
  owner: ShareOwner;
  mode: ShareMode;
  access: ShareAccess;
}

interface FileState<C> {
  locks: Range[];
  waiters: Waiter<C>[];
  shares: Share[];
}

const ownerKey = (o: LockOwner): string => `${o.host}\0${o.svid}\0${o.oh.toString('hex')}`;
const shareKey = (o: ShareOwner): string => `${o.host}\0${o.oh.toString('hex')}`;

function span(offset: bigint, length: bigint): { start: bigint; end: bigint } {
  if (length === 0n) return { start: offset, end: TO_EOF };
  const end = offset + length;
  return { start: offset, end: end > TO_EOF ? TO_EOF : end };
}

const overlaps = (a: { start: bigint; end: bigint }, b: { start: bigint; end: bigint }) => a.start < b.end && b.start < a.end;
const lengthOf = (r: Range): bigint => (r.end === TO_EOF ? 0n : r.end - r.start);

function holderOf(r: Range): Nlm4Holder {
  return { exclusive: r.exclusive, svid: r.owner.svid, oh: r.owner.oh, offset: r.start, length: lengthOf(r) };
}

/**
 * The lock manager's state, without sockets or timers: POSIX byte-range
 * locks per file handle (a lock replaces, splits and merges the same
 * owner's locks as fcntl does), blocked requests queued per file and granted
 * in arrival order as conflicts go away, SHARE reservations, and the grace
 * period after a restart. Grants of blocked requests queue up in
 * `takeGrants()` for the adapter to call back.
 */
export class LockTable<C = undefined> {
  private readonly files = new Map<string, FileState<C>>();
  private grants: Grant<C>[] = [];
  private entries = 0;
  private readonly maxEntries: number;
  private grace: boolean;

  constructor(opts: LockTableOptions = {}) {
    this.grace = opts.grace ?? false;
    this.maxEntries = opts.maxEntries ?? 100_000;
  }

  get inGrace(): boolean {
    return this.grace;
  }

  endGrace(): void {
    this.grace = false;
  }

  /** Blocked requests granted since the last call, oldest first. */
  takeGrants(): Grant<C>[] {
    const g = this.grants;
    this.grants = [];
    return g;
  }

  /** TEST: GRANTED when the lock could be had now, else DENIED naming one conflicting holder. */
  test(req: LockRequest): LockOutcome {
    if (this.grace) return { stat: Nlm4Stat.DENIED_GRACE_PERIOD };
    const file = this.files.get(req.fh.toString('hex'));
    const c = file && this.conflict(file.locks, ownerKey(req.owner), req.exclusive, span(req.offset, req.length));
    return c ? { stat: Nlm4Stat.DENIED, holder: holderOf(c) } : { stat: Nlm4Stat.GRANTED };
  }

  /**
   * LOCK. A conflicting request waits when `block` is set (BLOCKED; the
   * grant comes later through takeGrants) unless waiting would close a
   * cycle of owners waiting on each other (DEADLCK). A blocked request sent
   * again (clients retransmit them) keeps its place in the queue.
   */
  lock(req: LockRequest, opts: { block: boolean; reclaim: boolean; context: C }): LockOutcome {
    if (this.grace && !opts.reclaim) return { stat: Nlm4Stat.DENIED_GRACE_PERIOD };
    const fhKey = req.fh.toString('hex');
    const key = ownerKey(req.owner);
    const want = span(req.offset, req.length);
    const file = this.files.get(fhKey) ?? { locks: [], waiters: [], shares: [] };
    const c = this.conflict(file.locks, key, req.exclusive, want);
    const same = (w: Waiter<C>) => w.key === key && w.start === want.start && w.end === want.end && w.exclusive === req.exclusive;
    if (!c) {
      if (this.entries + 2 > this.maxEntries) return { stat: Nlm4Stat.DENIED_NOLOCKS };
      this.files.set(fhKey, file);
      this.track(file, () => {
        file.waiters = file.waiters.filter((w) => !same(w));
        this.apply(file, key, req.owner, req.exclusive, want);
        // A downgrade from exclusive to shared may let others in.
        this.wake(file);
      });
      return { stat: Nlm4Stat.GRANTED };
    }
    if (!opts.block) return { stat: Nlm4Stat.DENIED, holder: holderOf(c) };
    const queued = file.waiters.find(same);
    if (queued) {
      queued.context = opts.context;
      return { stat: Nlm4Stat.BLOCKED };
    }
    if (this.closesCycle(key, file.locks, req.exclusive, want)) return { stat: Nlm4Stat.DEADLCK };
    if (this.entries + 1 > this.maxEntries) return { stat: Nlm4Stat.DENIED_NOLOCKS };
    this.files.set(fhKey, file);
    this.track(file, () => {
      file.waiters.push({ key, owner: req.owner, exclusive: req.exclusive, ...want, request: req, context: opts.context });
    });
    return { stat: Nlm4Stat.BLOCKED };
  }

  /** CANCEL: drops the matching blocked request; false when there is none (already granted, or never sent). */
  cancel(req: LockRequest): boolean {
    const fhKey = req.fh.toString('hex');
    const file = this.files.get(fhKey);
    if (!file) return false;
    const key = ownerKey(req.owner);
    const want = span(req.offset, req.length);
    const before = file.waiters.length;
    this.track(file, () => {
      file.waiters = file.waiters.filter((w) => !(w.key === key && w.start === want.start && w.end === want.end && w.exclusive === req.exclusive));
    });
    const found = file.waiters.length < before;
    this.forget(fhKey, file);
    return found;
  }

  /** UNLOCK: releases the range from the owner's locks (splitting them) and drops its blocked requests there, as Linux lockd does. */
  unlock(req: LockRequest): void {
    const fhKey = req.fh.toString('hex');
    const file = this.files.get(fhKey);
    if (!file) return;
    const key = ownerKey(req.owner);
    const range = span(req.offset, req.length);
    this.track(file, () => {
      file.waiters = file.waiters.filter((w) => !(w.key === key && overlaps(w, range)));
      this.remove(file, key, range);
      this.wake(file);
    });
    this.forget(fhKey, file);
  }

  /** FREE_ALL, or a reboot notice: everything a client host held or waited for goes. */
  freeHost(host: string): void {
    for (const [fhKey, file] of this.files) {
      this.track(file, () => {
        file.locks = file.locks.filter((l) => l.owner.host !== host);
        file.waiters = file.waiters.filter((w) => w.owner.host !== host);
        file.shares = file.shares.filter((s) => s.owner.host !== host);
        this.wake(file);
      });
      this.forget(fhKey, file);
    }
  }

  /** SHARE: a DOS-style reservation; DENIED when its access meets another owner's deny mode or the reverse. */
  share(fh: Buffer, owner: ShareOwner, mode: ShareMode, access: ShareAccess, reclaim: boolean): Nlm4Stat {
    if (this.grace && !reclaim) return Nlm4Stat.DENIED_GRACE_PERIOD;
    const fhKey = fh.toString('hex');
    const key = shareKey(owner);
    const file = this.files.get(fhKey) ?? { locks: [], waiters: [], shares: [] };
    if (file.shares.some((s) => s.key !== key && ((s.mode & access) !== 0 || (s.access & mode) !== 0))) return Nlm4Stat.DENIED;
    if (this.entries + 1 > this.maxEntries) return Nlm4Stat.DENIED_NOLOCKS;
    this.files.set(fhKey, file);
    this.track(file, () => {
      file.shares = file.shares.filter((s) => s.key !== key);
      file.shares.push({ key, owner, mode, access });
    });
    return Nlm4Stat.GRANTED;
  }

  unshare(fh: Buffer, owner: ShareOwner): void {
    const fhKey = fh.toString('hex');
    const file = this.files.get(fhKey);
    if (!file) return;
    const key = shareKey(owner);
    this.track(file, () => {
      file.shares = file.shares.filter((s) => s.key !== key);
    });
    this.forget(fhKey, file);
  }

  /** The locks held on a file, in offset order per owner. */
  locksOf(fh: Buffer): HeldLock[] {
    const file = this.files.get(fh.toString('hex'));
    return (file?.locks ?? []).map((l) => ({ owner: l.owner, exclusive: l.exclusive, offset: l.start, length: lengthOf(l) }));
  }

  /** The blocked requests on a file, in the order they will be considered. */
  waitersOf(fh: Buffer): LockRequest[] {
    return (this.files.get(fh.toString('hex'))?.waiters ?? []).map((w) => w.request);
  }

  /** Hosts holding or waiting for anything. */
  hosts(): Set<string> {
    const out = new Set<string>();
    for (const f of this.files.values()) {
      for (const l of f.locks) out.add(l.owner.host);
      for (const w of f.waiters) out.add(w.owner.host);
      for (const s of f.shares) out.add(s.owner.host);
    }
    return out;
  }

  /** Locks, blocked requests and share reservations held now. */
  get size(): number {
    return this.entries;
  }

  private track(file: FileState<C>, change: () => void): void {
    const before = file.locks.length + file.waiters.length + file.shares.length;
    change();
    this.entries += file.locks.length + file.waiters.length + file.shares.length - before;
  }

  private forget(fhKey: string, file: FileState<C>): void {
    if (file.locks.length === 0 && file.waiters.length === 0 && file.shares.length === 0) this.files.delete(fhKey);
  }

  private conflict(locks: Range[], key: string, exclusive: boolean, want: { start: bigint; end: bigint }): Range | undefined {
    return locks.find((l) => l.key !== key && (l.exclusive || exclusive) && overlaps(l, want));
  }

  /** The owner's own locks give way to the new one over its range, then touching ranges of the same kind merge (fcntl's rules). */
  private apply(file: FileState<C>, key: string, owner: LockOwner, exclusive: boolean, want: { start: bigint; end: bigint }): void {
    this.remove(file, key, want);
    let start = want.start;
    let end = want.end;
    const kept: Range[] = [];
    for (const l of file.locks) {
      if (l.key === key && l.exclusive === exclusive && l.start <= end && start <= l.end) {
        if (l.start < start) start = l.start;
        if (l.end > end) end = l.end;
      } else kept.push(l);
    }
    kept.push({ key, owner, exclusive, start, end });
    file.locks = kept;
  }

  private remove(file: FileState<C>, key: string, range: { start: bigint; end: bigint }): void {
    const out: Range[] = [];
    for (const l of file.locks) {
      if (l.key !== key || !overlaps(l, range)) {
        out.push(l);
        continue;
      }
      if (l.start < range.start) out.push({ ...l, end: range.start });
      if (range.end < l.end) out.push({ ...l, start: range.end });
    }
    file.locks = out;
  }

  /** Grants, in queue order, every blocked request that no longer conflicts (inside track(), which counts the change). */
  private wake(file: FileState<C>): void {
    if (file.waiters.length === 0) return;
    const still: Waiter<C>[] = [];
    for (const w of file.waiters) {
      if (this.conflict(file.locks, w.key, w.exclusive, w)) still.push(w);
      else {
        this.apply(file, w.key, w.owner, w.exclusive, w);
        this.grants.push({ request: w.request, context: w.context });
      }
    }
    file.waiters = still;
  }

  /**
   * Whether `key` waiting for `want` would wait, through a chain of owners
   * each blocked by the next, on itself. Only chains of blocked requests
   * held here are seen (a client's process waiting on something else is not).
   */
  private closesCycle(key: string, locks: Range[], exclusive: boolean, want: { start: bigint; end: bigint }): boolean {
    const blockersOf = (locksHere: Range[], k: string, ex: boolean, r: { start: bigint; end: bigint }) =>
      locksHere.filter((l) => l.key !== k && (l.exclusive || ex) && overlaps(l, r)).map((l) => l.key);
    const waitsOf = new Map<string, string[]>();
    for (const f of this.files.values()) {
      for (const w of f.waiters) {
        const list = waitsOf.get(w.key) ?? [];
        list.push(...blockersOf(f.locks, w.key, w.exclusive, w));
        waitsOf.set(w.key, list);
      }
    }
    const seen = new Set<string>();
    const stack = blockersOf(locks, key, exclusive, want);
    while (stack.length > 0) {
      const k = stack.pop()!;
      if (k === key) return true;
      if (seen.has(k)) continue;
      seen.add(k);
      stack.push(...(waitsOf.get(k) ?? []));
    }
    return false;
  }
}
