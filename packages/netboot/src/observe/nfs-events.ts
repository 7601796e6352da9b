import type { BootEvent } from '@netboot/boot-events';
import { NfsStat, type CallFact, type NfsCallObserver, type ObservedCalls } from '@netboot/nfs3';
import { nfsProcName, nfsStatusName, type NfsOpStats } from './nfs-op-stats.js';

/** Clients followed at once; the one heard from least recently is forgotten past this. */
const MAX_CLIENTS = 4096;
/** An `active` event per client at most this often, and an `error` event (the counters count every one). */
const EVERY_MS = 1000;

/** Statuses that are part of normal work (a LOOKUP probing a missing name) and are not reported as errors. */
const ROUTINE = [NfsStat.OK, NfsStat.NOENT, NfsStat.EXIST, NfsStat.NOTEMPTY, NfsStat.NOTDIR, NfsStat.ISDIR, NfsStat.INVAL];

interface Client {
  firstCallSeen: boolean;
  /** The init looked for since its MOUNT, until read; undefined when not followed. */
  initPath: string | undefined;
  lastActive: number;
  lastError: number;
}

/**
 * What a boot needs of NFS: a node's first call after it mounted, the first
 * READ of its init (followed by the threads serving NFS, from its MOUNT on:
 * see @netboot/nfs3's ObservedCalls.follow), that it is still active, and
 * its errors. The threads report these facts, a few per client and second;
 * every call is counted there, gathered into `stats` on a scrape.
 */
export class NfsEvents implements NfsCallObserver {
  readonly routineStatuses = ROUTINE;
  readonly intervalMs = EVERY_MS;
  private readonly clients = new Map<string, Client>();
  private calls: ObservedCalls | undefined;

  constructor(
    private readonly emit: (e: BootEvent) => void,
    private readonly stats: NfsOpStats,
    private readonly initPathOf: (ip: string) => string,
  ) {}

  attach(calls: ObservedCalls): void {
    this.calls = calls;
    this.stats.from(() => calls.stats());
  }

  /** MOUNT granted: the node's next calls are a new boot's, its init looked for. */
  mounted(ip: string): void {
    this.clients.delete(ip);
    const c = this.client(ip);
    c.initPath = this.initPathOf(ip);
    this.calls?.follow(ip, c.initPath);
  }

  private client(ip: string): Client {
    let c = this.clients.get(ip);
    if (c) return c;
    if (this.clients.size >= MAX_CLIENTS) this.clients.delete(this.clients.keys().next().value!);
    c = { firstCallSeen: false, initPath: undefined, lastActive: 0, lastError: 0 };
    this.clients.set(ip, c);
    return c;
  }

  seen(f: CallFact): void {
    const ip = f.address;
    const c = this.client(ip);
    const at = Date.now();
    // Every thread serving the client paces its facts; one client's connections on several threads are paced here again.
    switch (f.what) {
      case 'first-call':
        if (c.firstCallSeen) return;
        c.firstCallSeen = true;
        this.emit({ kind: 'nfs', at, ip, what: 'first-call', proc: nfsProcName(f.proc) });
        return;
      case 'error':
        if (at - c.lastError < EVERY_MS) return;
        c.lastError = at;
        this.emit({ kind: 'nfs', at, ip, what: 'error', proc: nfsProcName(f.proc), status: nfsStatusName(f.status) });
        return;
      case 'path-read':
        // Told by a thread that still followed an older boot's path: only the path looked for now counts.
        if (c.initPath === undefined || f.path !== c.initPath) return;
        c.initPath = undefined;
        c.lastActive = at;
        this.emit({ kind: 'nfs', at, ip, what: 'init-read', path: f.path });
        return;
      case 'active':
        // A node whose init is looked for is not up yet, however busy.
        if (c.initPath !== undefined || at - c.lastActive < EVERY_MS) return;
        c.lastActive = at;
        this.emit({ kind: 'nfs', at, ip, what: 'active' });
        return;
    }
  }
}
