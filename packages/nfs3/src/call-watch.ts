import { performance } from 'node:perf_hooks';
import type { RpcCall, RpcCallWatcher, RpcEndpoint, RpcResult } from '@netboot/oncrpc-xdr';
import type { CallFact } from './call-observer.js';
import { NfsCallStats } from './call-stats.js';
import { PathFollower } from './path-follower.js';

/** Clients kept per thread; the one first seen longest ago is forgotten past this. */
const MAX_CLIENTS = 4096;
/**
 * Calls a client is followed for after its MOUNT without reading its init.
 * A kernel reads init within some dozens of calls of mounting its root (an
 * initramfs's scripts, some hundreds); a client past this is not booting
 * from the export (a tool, a benchmark, a node already up whose MOUNT was a
 * remount), and following it further would cost each of its LOOKUPs a
 * decode for no event.
 */
export const FOLLOW_CALLS = 5000;

interface Client {
  readonly address: string;
  firstSeen: boolean;
  /** performance.now() of the last `active` and `error` reported. */
  lastActive: number;
  lastError: number;
  follower: PathFollower | undefined;
  /** Calls left to follow (FOLLOW_CALLS from the MOUNT). */
  followLeft: number;
  /** Forgotten (past MAX_CLIENTS): a connection's cached reference looks the address up again. */
  gone: boolean;
}

export interface CallWatchOptions {
  routineStatuses: readonly number[];
  intervalMs: number;
  report(fact: CallFact): void;
}

function plain(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/** What `start` hands `done` for a call of a followed client whose arguments PathFollower needs. */
interface Followed {
  readonly t0: number;
  readonly follower: PathFollower;
  readonly token: unknown;
}

/**
 * One thread's side of call observation (see NfsCallObserver), given to the
 * RPC server as the NFS program's watcher (RpcRegisterOptions.watcher):
 * each call is counted in `stats` and its client's record checked, and the
 * rare facts are reported. Per call: two clock reads, the counters, two
 * lookups of the client by its connection, and for a client being followed
 * the few checks of PathFollower; nothing allocated for a call of a client
 * not followed beyond its start time.
 */
export class CallWatch implements RpcCallWatcher {
  readonly stats = new NfsCallStats();
  private readonly clients = new Map<string, Client>();
  /** TCP calls of one connection share its endpoint object: the client is found without hashing its address. */
  private readonly byEndpoint = new WeakMap<RpcEndpoint, Client>();
  private readonly routine: ReadonlySet<number>;

  constructor(private readonly opts: CallWatchOptions) {
    this.routine = new Set(opts.routineStatuses);
  }

  start(call: RpcCall): unknown {
    const c = this.client(call);
    const f = c.follower;
    const t0 = performance.now();
    if (f) {
      if (--c.followLeft < 0) {
        c.follower = undefined;
        return t0;
      }
      const token = f.start(call);
      if (token !== undefined) return { t0, follower: f, token } satisfies Followed;
    }
    return t0;
  }

  /** See ObservedCalls.follow. */
  follow(address: string, path: string): void {
    const c = this.clientAt(plain(address));
    c.firstSeen = false;
    c.lastActive = -Infinity;
    c.lastError = -Infinity;
    c.follower = new PathFollower(path);
    c.followLeft = FOLLOW_CALLS;
  }

  private client(call: RpcCall): Client {
    // A UDP call's endpoint is its datagram's own: found by address.
    if (call.transport !== 'tcp') return this.clientAt(plain(call.remote.address));
    let c = this.byEndpoint.get(call.remote);
    if (c && !c.gone) return c;
    c = this.clientAt(plain(call.remote.address));
    this.byEndpoint.set(call.remote, c);
    return c;
  }

  private clientAt(address: string): Client {
    let c = this.clients.get(address);
    if (c) return c;
    if (this.clients.size >= MAX_CLIENTS) {
      const [oldest, old] = this.clients.entries().next().value!;
      old.gone = true;
      this.clients.delete(oldest);
    }
    c = { address, firstSeen: false, lastActive: -Infinity, lastError: -Infinity, follower: undefined, followLeft: 0, gone: false };
    this.clients.set(address, c);
    return c;
  }

  done(call: RpcCall, r: RpcResult | undefined, started: unknown): void {
    const now = performance.now();
    const c = this.client(call);
    const proc = call.proc;
    const followed = typeof started === 'number' ? undefined : (started as Followed);
    const t0 = followed ? followed.t0 : (started as number);
    let status = -1;
    let body: Uint8Array | undefined;
    if (r?.stat === 0) {
      body = r.body[0];
      status = body && body.length >= 4 ? ((body[0] << 24) | (body[1] << 16) | (body[2] << 8) | body[3]) >>> 0 : 0;
    }
    this.stats.record(proc, status, now - t0);
    const report = this.opts.report;
    if (!c.firstSeen) {
      c.firstSeen = true;
      report({ what: 'first-call', address: c.address, proc });
    }
    if (status !== 0 && now - c.lastError >= this.opts.intervalMs && !this.routine.has(status)) {
      c.lastError = now;
      report({ what: 'error', address: c.address, proc, status });
    }
    // A follow() since start began a new boot: its follower did not see this call's arguments.
    const f = c.follower;
    if (f && followed?.follower === f && status === 0 && f.done(proc, followed.token, body)) {
      c.follower = undefined;
      report({ what: 'path-read', address: c.address, path: f.path });
    }
    if (now - c.lastActive >= this.opts.intervalMs) {
      c.lastActive = now;
      report({ what: 'active', address: c.address });
    }
  }
}
