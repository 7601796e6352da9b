import { NfsStat, Proc } from './nfs3-constants.js';

/** Latency bucket upper bounds, seconds: 100 µs to 5 s (one more bucket above). */
export const CALL_LATENCY_BUCKETS: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

const PROCS = Object.keys(Proc).length;
/** The statuses counted apart, in their column order; then a call that failed at the RPC level (-1), then any other. */
const STATUSES: readonly number[] = [...Object.values(NfsStat), -1];
const STATUS_COLUMN = new Map(STATUSES.map((s, i) => [s, i]));
const COLUMNS = STATUSES.length + 1;
const BUCKETS = CALL_LATENCY_BUCKETS.length + 1;
const CALLS_AT = 0;
const BUCKETS_AT = CALLS_AT + PROCS * COLUMNS;
const SUMS_AT = BUCKETS_AT + PROCS * BUCKETS;
const LENGTH = SUMS_AT + PROCS;

/**
 * NFS calls counted by procedure and status, with their latency, in one
 * Float64Array: recording a call is two increments, a sum and a bucket
 * search, no allocation. Each thread serving NFS keeps its own; `add`
 * merges another's `counts` (a worker's, posted as they are).
 */
export class NfsCallStats {
  /** The statuses with a column of their own (`statusAt(i)`); any other is counted as `undefined` (other). */
  static readonly statusColumns = COLUMNS;
  static readonly procs = PROCS;
  readonly counts: Float64Array;

  constructor(counts?: Float64Array) {
    if (counts && counts.length !== LENGTH) throw new RangeError(`call statistics of ${counts.length} numbers, expected ${LENGTH}`);
    this.counts = counts ?? new Float64Array(LENGTH);
  }

  /** The status a column counts: an nfsstat3, -1 (failed at the RPC level), or undefined (any other). */
  static statusAt(column: number): number | undefined {
    return STATUSES[column];
  }

  record(proc: number, status: number, ms: number): void {
    if (!(proc >= 0 && proc < PROCS)) return;
    const c = this.counts;
    c[CALLS_AT + proc * COLUMNS + (status === 0 ? 0 : (STATUS_COLUMN.get(status) ?? STATUSES.length))]++;
    const secs = ms / 1000;
    let b = 0;
    while (b < CALL_LATENCY_BUCKETS.length && secs > CALL_LATENCY_BUCKETS[b]) b++;
    c[BUCKETS_AT + proc * BUCKETS + b]++;
    c[SUMS_AT + proc] += secs;
  }

  /** Adds another thread's counts. */
  add(counts: Float64Array): void {
    if (counts.length !== LENGTH) return;
    for (let i = 0; i < LENGTH; i++) this.counts[i] += counts[i];
  }

  /** Calls of `proc` with the status of `column`. */
  calls(proc: number, column: number): number {
    return this.counts[CALLS_AT + proc * COLUMNS + column];
  }

  /** Calls of `proc` whose latency fell in bucket `b` (not cumulative; the last is above every bound). */
  bucket(proc: number, b: number): number {
    return this.counts[BUCKETS_AT + proc * BUCKETS + b];
  }

  /** Seconds spent in `proc`'s calls. */
  seconds(proc: number): number {
    return this.counts[SUMS_AT + proc];
  }

  /** Calls of `proc`, whatever their status. */
  total(proc: number): number {
    let n = 0;
    for (let b = 0; b < BUCKETS; b++) n += this.counts[BUCKETS_AT + proc * BUCKETS + b];
    return n;
  }
}
