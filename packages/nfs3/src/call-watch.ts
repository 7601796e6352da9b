import { performance } from 'node:perf_hooks';
import type { ProcedureHandler, RpcCall, RpcEndpoint, RpcResult } from '@netboot/oncrpc-xdr';
import type { CallFact } from './call-observer.js';
import { NfsCallStats } from './call-stats.js';
import { PathFollower } from './path-follower.js';

/** Clients kept per thread; the one first seen longest ago is forgotten past this. */
const MAX_CLIENTS = 4096;

interface Client {
  readonly address: string;
  firstSeen: boolean;
  /** performance.now() of the last `active` and `error` reported. */
  lastActive: number;
  lastError: number;
  follower: PathFollower | undefined;
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

/**
 * One thread's side of call observation (see NfsCallObserver): wraps the
 * NFS procedures so that each call is counted in `stats` and its client's
 * record checked, and reports the rare facts. Per call: two clock reads,
 * the counters, a lookup of the client by its connection, and for a client
 * being followed the few checks of PathFollower; no allocation for a call
 * that is not followed (the wrapper's callback for a procedure that
 * answers asynchronously aside).
 */
export class CallWatch {
  readonly stats = new NfsCallStats();
  private readonly clients = new Map<string, Client>();
  /** TCP calls of one connection share its endpoint object: the client is found without hashing its address. */
  private readonly byEndpoint = new WeakMap<RpcEndpoint, Client>();
  private readonly routine: ReadonlySet<number>;

  constructor(private readonly opts: CallWatchOptions) {
    this.routine = new Set(opts.routineStatuses);
  }

  /** The same procedures, each call watched. */
  wrap(procs: Record<number, ProcedureHandler>): Record<number, ProcedureHandler> {
    const out: Record<number, ProcedureHandler> = {};
    for (const [key, handler] of Object.entries(procs)) {
      const proc = Number(key);
      out[proc] = (call) => {
        const t0 = performance.now();
        const c = this.client(call);
        const started = c.follower ? c.follower.start(call) : undefined;
        const r = handler(call);
        if (r instanceof Promise) return r.then((res) => this.done(c, proc, res, t0, started));
        return this.done(c, proc, r, t0, started);
      };
    }
    return out;
  }

  /** See ObservedCalls.follow. */
  follow(address: string, path: string): void {
    const c = this.clientAt(plain(address));
    c.firstSeen = false;
    c.lastActive = -Infinity;
    c.lastError = -Infinity;
    c.follower = new PathFollower(path);
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
    c = { address, firstSeen: false, lastActive: -Infinity, lastError: -Infinity, follower: undefined, gone: false };
    this.clients.set(address, c);
    return c;
  }

  private done(c: Client, proc: number, r: RpcResult, t0: number, started: unknown): RpcResult {
    const now = performance.now();
    let status = -1;
    let body: Uint8Array | undefined;
    if (r.stat === 0) {
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
    const f = c.follower;
    if (f && started !== undefined && status === 0 && f.done(proc, started, body)) {
      c.follower = undefined;
      report({ what: 'path-read', address: c.address, path: f.path });
    }
    if (now - c.lastActive >= this.opts.intervalMs) {
      c.lastActive = now;
      report({ what: 'active', address: c.address });
    }
    return r;
  }
}
