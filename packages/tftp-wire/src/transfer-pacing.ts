/**
 * Transfer slots for a boot storm, without I/O: at most `slots` transfers
 * run; a request beyond them waits (its client retransmits the RRQ, which
 * only refreshes its place) instead of being refused, and a freed slot goes
 * to the waiting request of the node running the fewest transfers, the
 * earliest of those first, so one node fetching many files does not starve
 * the others. Only a full queue refuses. The caller owns sockets, files and
 * time: it passes `now` in and starts what this hands back.
 */
export interface PacingOptions {
  /** Concurrent transfers. */
  slots: number;
  /** Requests waiting at once; beyond this a request is refused (busy). Default 4 x slots. */
  queueMax?: number;
  /** A waiting request not repeated by its client for this long is forgotten (ms, default 10 s). */
  waitMs?: number;
}

/** What became of a request: it has a slot, it waits, it was already waiting, or the queue is full. */
export type Admission = 'start' | 'wait' | 'waiting' | 'busy';

/** How loaded the slots are: what DHCP pacing reads. */
export interface SlotLoad {
  active: number;
  waiting: number;
  slots: number;
}

interface Waiting<T> {
  key: string;
  client: string;
  arrived: number;
  /** Last time the client asked (first request or a retransmit). */
  seen: number;
  item: T;
}

export class TransferPacing<T> {
  readonly slots: number;
  private readonly queueMax: number;
  private readonly waitMs: number;
  private readonly queue = new Map<string, Waiting<T>>();
  private readonly running = new Map<string, number>();
  private activeCount = 0;
  private arrivals = 0;

  constructor(opts: PacingOptions) {
    if (!Number.isInteger(opts.slots) || opts.slots < 1) throw new RangeError(`slots must be a positive integer, not ${opts.slots}`);
    this.slots = opts.slots;
    this.queueMax = opts.queueMax ?? 4 * opts.slots;
    this.waitMs = opts.waitMs ?? 10_000;
  }

  load(): SlotLoad {
    return { active: this.activeCount, waiting: this.queue.size, slots: this.slots };
  }

  /**
   * A request from `client`, identified by `key` (a retransmit has the same
   * key). 'start': a slot is taken for it, to be given back with
   * `release(client)`; 'wait': queued, `release` hands `item` back when its
   * turn comes; 'waiting': already queued; 'busy': refuse it.
   */
  admit(key: string, client: string, item: T, now: number): Admission {
    this.expire(now);
    const known = this.queue.get(key);
    if (known) {
      known.seen = now;
      return 'waiting';
    }
    // Nobody overtakes a queue: a free slot with requests waiting is theirs.
    if (this.activeCount < this.slots && this.queue.size === 0) {
      this.take(client);
      return 'start';
    }
    if (this.queue.size >= this.queueMax) return 'busy';
    this.queue.set(key, { key, client, arrived: this.arrivals++, seen: now, item });
    return 'wait';
  }

  /**
   * A transfer of `client` ended (or a started request was refused): its
   * slot goes to the waiting requests, fairest first. Returns their items,
   * each with its slot already taken (release each when it ends).
   */
  release(client: string, now: number): T[] {
    const n = this.running.get(client) ?? 0;
    if (n <= 0) return [];
    if (n === 1) this.running.delete(client);
    else this.running.set(client, n - 1);
    this.activeCount--;
    this.expire(now);
    const started: T[] = [];
    while (this.activeCount < this.slots && this.queue.size > 0) {
      const next = this.fairest();
      this.queue.delete(next.key);
      this.take(next.client);
      started.push(next.item);
    }
    return started;
  }

  /** Forgets waiting requests whose client has not asked again within waitMs; returns them. */
  expire(now: number): T[] {
    const gone: T[] = [];
    for (const w of this.queue.values()) {
      if (now - w.seen >= this.waitMs) {
        this.queue.delete(w.key);
        gone.push(w.item);
      }
    }
    return gone;
  }

  private take(client: string): void {
    this.running.set(client, (this.running.get(client) ?? 0) + 1);
    this.activeCount++;
  }

  /** The waiting request of the client running fewest transfers; among those, the earliest. */
  private fairest(): Waiting<T> {
    let best: Waiting<T> | undefined;
    let bestRunning = Infinity;
    for (const w of this.queue.values()) {
      const r = this.running.get(w.client) ?? 0;
      if (r < bestRunning || (r === bestRunning && w.arrived < best!.arrived)) {
        best = w;
        bestRunning = r;
      }
    }
    return best!;
  }
}
