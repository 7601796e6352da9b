import type { NfsCallStats } from './call-stats.js';

/**
 * What the threads serving NFS tell an observer about a client (by its
 * address, IPv4-mapped IPv6 addresses as plain IPv4): its first call (since
 * the service started, or since `follow` named it), a call that failed with
 * a status that is not routine, that it is active, and its first READ of the
 * path `follow` asked for.
 */
export type CallFact =
  | { what: 'first-call'; address: string; proc: number }
  | { what: 'error'; address: string; proc: number; status: number }
  | { what: 'active'; address: string }
  | { what: 'path-read'; address: string; path: string };

/**
 * Watches NFS calls at the dispatch seam, outside the procedures (boot
 * monitoring). Each thread serving NFS (the main thread, every worker)
 * counts each call in its own `NfsCallStats` and keeps a small record per
 * client, and tells the observer, on the main thread, only the facts above:
 * a handful per client and second at most, whatever the call rate. A
 * server without an observer runs the procedures exactly as registered.
 */
export interface NfsCallObserver {
  /** Statuses that are part of normal work (a LOOKUP probing a missing name): counted, not reported. */
  readonly routineStatuses: readonly number[];
  /** A client's `active`, and its `error`, are reported at most this often each by every thread serving it. */
  readonly intervalMs: number;
  /** A fact, on the main thread; the calls it came from may have been served on a worker. */
  seen(fact: CallFact): void;
  /** The service's side: given once, before the first call is served. */
  attach(calls: ObservedCalls): void;
}

export interface ObservedCalls {
  /** Every call served since the service started, counted on every thread (asked of the workers now). */
  stats(): Promise<NfsCallStats>;
  /**
   * From the client's next call on, report its first READ of `path`
   * (absolute in the export; symlinks resolved as its own LOOKUP and
   * READLINK replies show them), once. Starts the client's record afresh
   * (a new boot): its next call is a first call again.
   */
  follow(address: string, path: string): void;
}
