import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { RpcClient, type RpcCall, type RpcResult, type RpcServer, type XdrCodec } from '@netboot/oncrpc-xdr';
import { PortmapClient } from '@netboot/portmap';
import { native, platformSummary } from '@netboot/platform';
import { HostLocks, type OfdCalls, type OpenForLock } from './host-locks.js';
import { LockTable, type Grant, type LockOwner, type LockRequest } from './lock-table.js';
import {
  NLM_PROGRAM,
  NLM_V4,
  Nlm4Stat,
  NlmProc,
  nlm4CancArgs,
  nlm4LockArgs,
  nlm4Notify,
  nlm4Res,
  nlm4ShareArgs,
  nlm4ShareRes,
  nlm4TestArgs,
  nlm4TestRes,
  nlm4UnlockArgs,
  type Nlm4Lock,
  type Nlm4TestReply,
} from './nlm-wire.js';
import { NsmStore, type Monitor, type Peer } from './nsm-store.js';
import { mon, monId, myId, NSM_PROGRAM, NSM_V1, NsmProc, NsmResult, smName, smStat, smStatRes, smStatus, statChge, type MyId } from './nsm-wire.js';

export interface LockServiceOptions {
  /** Where the NSM state number and the monitored peers are kept (without it: memory only, no reboot notices). */
  stateDir?: string;
  log?: (line: string) => void;
  /** How long after a start that follows one with clients holding locks only reclaims are granted (default 90 s, as Linux lockd). */
  graceMs?: number;
  /** The port of peers' portmappers, where their lock manager and status monitor are looked up (default 111). */
  peerPortmapPort?: number;
  /** The name this host gives in its reboot notices (default the host name). */
  name?: string;
  /** Time limit of one callback or notice to a peer (default 5 s). */
  callbackTimeoutMs?: number;
  /** Attempts at each reboot notice before leaving the peer for the next start (default 5, 1 s apart doubling). */
  notifyAttempts?: number;
  /** Told of each SM_NOTIFY received: the peer `name` at `address` restarted (what boot monitoring counts). */
  onPeerRestarted?: (name: string, address: string) => void;
  /**
   * Opens the file a handle names (the NFS server provides it). With it, and
   * the platform module, every granted lock is also an OFD lock on that file:
   * processes on this host see clients' locks, and clients wait for theirs.
   * Without either, locks live in the table only.
   */
  openForLock?: OpenForLock;
  /** The OFD lock calls (default: @netboot/platform's; null: none, the table alone). */
  ofd?: OfdCalls | null;
}

/** What a blocked request needs for its GRANTED callback. */
interface Waiting {
  address: string;
  transport: 'udp' | 'tcp';
  cookie: Buffer;
  alock: Nlm4Lock;
}

function ok(body: Buffer): RpcResult {
  return { stat: 0, body: [body] };
}

const VOID: RpcResult = { stat: 0, body: [] };

/** Client hosts monitored at once; a new one beyond gets NLM4_DENIED_NOLOCKS (each is a file in the state directory). */
const MAX_PEERS = 4096;
/** Callbacks, answers and notices in flight at once; beyond, they are dropped (clients ask again) rather than queued without bound. */
const MAX_OUTGOING = 256;

const isLoopback = (a: string) => a.startsWith('127.') || a === '::1' || a.startsWith('::ffff:127.');

function lockRequest(l: Nlm4Lock, exclusive: boolean): LockRequest {
  return { fh: Buffer.from(l.fh), owner: { host: l.callerName, svid: l.svid, oh: Buffer.from(l.oh) }, exclusive, offset: l.offset, length: l.length };
}

const sameId = (a: MyId, b: MyId) => a.myName === b.myName && a.myProg === b.myProg && a.myVers === b.myVers && a.myProc === b.myProc;

/**
 * The lock manager (NLM v4, program 100021) and status monitor (NSM v1,
 * program 100024) that NFSv3 clients expect beside the NFS server, as
 * rpc.lockd and rpc.statd: locks live in a LockTable; the adapter sends the
 * GRANTED callbacks of blocked requests, the _RES answers of _MSG calls,
 * the reboot notice to every monitored peer on start, and frees a client's
 * locks when its own reboot notice arrives.
 */
export class LockService {
  readonly table: LockTable<Waiting>;
  private readonly log: (line: string) => void;
  private readonly peerPortmapPort: number;
  private readonly name: string;
  private readonly callbackTimeoutMs: number;
  private readonly notifyAttempts: number;
  private readonly onPeerRestarted: LockServiceOptions['onPeerRestarted'];
  /** By lower-case name. */
  private readonly peers = new Map<string, Peer>();
  /** Peers monitored before this start, until announceRestart() tells them. */
  private readonly restartedPeers: Peer[] = [];
  /** The address each client host name was last seen calling from. */
  private readonly addresses = new Map<string, string>();
  private readonly running = new Set<Promise<unknown>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Pauses between notice attempts; close() ends them early. */
  private readonly sleepers = new Set<() => void>();
  private closed = false;
  /** The locks on the served files, when they can be had. */
  private readonly host: HostLocks | undefined;
  private readonly ofd: OfdCalls | undefined;
  /** Why locks live in the table alone, when they do. */
  private readonly tableOnly: string | undefined;
  /** Requests waiting for a process on this host to let go, by request key; true once cancelled. */
  private readonly hostWaits = new Map<string, { cancelled: boolean }>();

  private constructor(
    private readonly store: NsmStore,
    private stateNumber: number,
    opts: LockServiceOptions,
    grace: boolean,
  ) {
    this.log = opts.log ?? ((l) => console.error(l));
    this.peerPortmapPort = opts.peerPortmapPort ?? 111;
    this.name = opts.name ?? hostname();
    this.callbackTimeoutMs = opts.callbackTimeoutMs ?? 5000;
    this.notifyAttempts = opts.notifyAttempts ?? 5;
    this.onPeerRestarted = opts.onPeerRestarted;
    this.table = new LockTable<Waiting>({ grace });
    const ofd = opts.ofd === undefined ? native : (opts.ofd ?? undefined);
    this.ofd = ofd;
    this.host = ofd && opts.openForLock ? new HostLocks(opts.openForLock, ofd, this.log) : undefined;
    this.tableOnly = this.host ? undefined : !ofd ? `platform: ${platformSummary()}` : 'no way to open the served files was given';
  }

  /**
   * Takes the next state number, and when peers held locks before the
   * restart opens the grace period for them to reclaim. The reboot notice
   * waits for `announceRestart()`.
   */
  static async start(opts: LockServiceOptions = {}): Promise<LockService> {
    const store = await NsmStore.open(opts.stateDir);
    const state = await store.nextState();
    const earlier = await store.loadPeers();
    const grace = earlier.some((p) => p.lockd) && (opts.graceMs ?? 90_000) > 0;
    const s = new LockService(store, state, opts, grace);
    if (grace) s.later(() => s.endGrace(), opts.graceMs ?? 90_000);
    s.log(
      `nlm: NSM state ${state}; ` +
        (grace ? `grace period of ${Math.round((opts.graceMs ?? 90_000) / 1000)} s for ${earlier.filter((p) => p.lockd).length} client(s) to reclaim their locks` : 'no grace period (no client held locks)'),
    );
    s.log(
      s.tableOnly
        ? `nlm: locks are kept in netboot's table only (${s.tableOnly}): processes on this host do not see clients' locks, nor clients theirs`
        : "nlm: each lock is also an OFD lock on the served file: processes on this host see clients' locks, and clients wait for theirs",
    );
    s.restartedPeers.push(...earlier);
    return s;
  }

  /**
   * Sends the peers monitored before the restart the reboot notice, in the
   * background. Call it once the service can be reached (listening and
   * registered with the portmapper): a peer told of the restart reclaims its
   * locks at once, asking our portmapper for the lock manager.
   */
  announceRestart(): void {
    for (const p of this.restartedPeers.splice(0)) this.track(this.notifyRestart(p));
  }

  /** The NSM state number: odd while up, one step further at each start. */
  get state(): number {
    return this.stateNumber;
  }

  endGrace(): void {
    if (!this.table.inGrace) return;
    this.table.endGrace();
    this.log('nlm: grace period over: new locks are granted');
  }

  /** Serves NLM v4 and NSM v1 on an RPC server. Versions 1 and 3 of NLM (NFSv2's) get PROG_MISMATCH. */
  register(rpc: RpcServer): void {
    const nlm = (proc: number, h: (call: RpcCall) => RpcResult | Promise<RpcResult>) => [proc, h] as const;
    rpc.register(
      NLM_PROGRAM,
      NLM_V4,
      Object.fromEntries([
        nlm(NlmProc.NULL, () => VOID),
        nlm(NlmProc.TEST, async (c) => ok(nlm4TestRes.encode(await this.test(c)))),
        nlm(NlmProc.LOCK, async (c) => ok(nlm4Res.encode(await this.lock(c, true)))),
        nlm(NlmProc.CANCEL, (c) => ok(nlm4Res.encode(this.cancel(c)))),
        nlm(NlmProc.UNLOCK, (c) => ok(nlm4Res.encode(this.unlock(c)))),
        // We are nobody's client: a GRANTED sent here matches no blocked request.
        nlm(NlmProc.GRANTED, (c) => ok(nlm4Res.encode({ cookie: nlm4TestArgs.read(c.args).cookie, stat: Nlm4Stat.DENIED }))),
        nlm(NlmProc.TEST_MSG, async (c) => this.message(c, NlmProc.TEST_RES, nlm4TestRes, await this.test(c))),
        nlm(NlmProc.LOCK_MSG, async (c) => this.message(c, NlmProc.LOCK_RES, nlm4Res, await this.lock(c, true))),
        nlm(NlmProc.CANCEL_MSG, (c) => this.message(c, NlmProc.CANCEL_RES, nlm4Res, this.cancel(c))),
        nlm(NlmProc.UNLOCK_MSG, (c) => this.message(c, NlmProc.UNLOCK_RES, nlm4Res, this.unlock(c))),
        nlm(NlmProc.GRANTED_MSG, (c) =>
          this.message(c, NlmProc.GRANTED_RES, nlm4Res, { cookie: nlm4TestArgs.read(c.args).cookie, stat: Nlm4Stat.DENIED }),
        ),
        // Answers to _MSG calls we never make: read (so garbage is refused) and dropped.
        nlm(NlmProc.TEST_RES, (c) => (nlm4TestRes.read(c.args), VOID)),
        nlm(NlmProc.LOCK_RES, (c) => (nlm4Res.read(c.args), VOID)),
        nlm(NlmProc.CANCEL_RES, (c) => (nlm4Res.read(c.args), VOID)),
        nlm(NlmProc.UNLOCK_RES, (c) => (nlm4Res.read(c.args), VOID)),
        nlm(NlmProc.GRANTED_RES, (c) => (nlm4Res.read(c.args), VOID)),
        nlm(NlmProc.SHARE, async (c) => ok(nlm4ShareRes.encode(await this.share(c)))),
        nlm(NlmProc.UNSHARE, (c) => ok(nlm4ShareRes.encode(this.unshare(c)))),
        nlm(NlmProc.NM_LOCK, async (c) => ok(nlm4Res.encode(await this.lock(c, false)))),
        nlm(NlmProc.FREE_ALL, (c) => {
          const a = nlm4Notify.read(c.args);
          this.free(a.name, `FREE_ALL from ${c.remote.address}`);
          return VOID;
        }),
      ]),
    );
    rpc.register(NSM_PROGRAM, NSM_V1, {
      [NsmProc.NULL]: () => VOID,
      [NsmProc.STAT]: (c) => {
        smName.read(c.args);
        return ok(smStatRes.encode({ res: NsmResult.SUCC, state: this.stateNumber }));
      },
      [NsmProc.MON]: (c) => this.smMon(c),
      [NsmProc.UNMON]: (c) => this.smUnmon(c),
      [NsmProc.UNMON_ALL]: (c) => this.smUnmonAll(c),
      [NsmProc.SIMU_CRASH]: (c) => this.simuCrash(c),
      [NsmProc.NOTIFY]: (c) => {
        const a = statChge.read(c.args);
        this.peerRestarted(a.monName, a.state, c.remote.address);
        this.onPeerRestarted?.(a.monName, c.remote.address);
        return VOID;
      },
    });
  }

  /** Stops timers; waits for callbacks and notices in flight (each has a time limit). */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const wake of [...this.sleepers]) wake();
    for (const w of this.hostWaits.values()) w.cancelled = true;
    await Promise.allSettled([...this.running]);
    await this.host?.close();
  }

  // ---- NLM ---------------------------------------------------------------

  private seen(callerName: string, address: string): void {
    this.addresses.set(callerName, address);
  }

  private async test(c: RpcCall): Promise<{ cookie: Buffer; stat: Nlm4TestReply }> {
    const a = nlm4TestArgs.read(c.args);
    const req = lockRequest(a.alock, a.exclusive);
    const out = this.table.test(req);
    if (out.stat !== Nlm4Stat.GRANTED || !this.host) return { cookie: a.cookie, stat: out };
    // Free among clients: a process on this host may still hold it.
    const holder = await this.host.conflict(req);
    await this.settle(req.fh, req.owner);
    if (!holder) return { cookie: a.cookie, stat: out };
    return {
      cookie: a.cookie,
      stat: {
        stat: Nlm4Stat.DENIED,
        holder: { exclusive: holder.type === this.ofdWrite(), svid: holder.pid, oh: Buffer.alloc(0), offset: holder.start, length: holder.len },
      },
    };
  }

  private ofdWrite(): number {
    return this.ofd?.constants.F_WRLCK ?? -1;
  }

  /** Closes the owner's file on this host once the table says it holds nothing there and waits for nothing. */
  private async settle(fh: Buffer, owner: LockOwner): Promise<void> {
    if (!this.host) return;
    const key = ownerKeyOf(owner);
    const holds = this.table.locksOf(fh).some((l) => ownerKeyOf(l.owner) === key);
    const waits = this.table.waitersOf(fh).some((w) => ownerKeyOf(w.owner) === key);
    const fhKey = fh.toString('hex');
    const hostWait = [...this.hostWaits.keys()].some((k) => k.startsWith(`${fhKey}\0${key}\0`));
    if (!holds && !waits && !hostWait) await this.host.forget(fh, owner);
  }

  /**
   * A request the table granted, taken on the served file too. When a
   * process on this host holds the range, the table's grant is undone: a
   * blocking request waits on this host (off the event loop) and is granted
   * by callback; another is DENIED.
   */
  private async takeOnHost(req: LockRequest, block: boolean, waiting: Waiting, reclaim: boolean): Promise<Nlm4Stat> {
    if (!this.host || (await this.host.take(req))) return Nlm4Stat.GRANTED;
    if (reclaim) {
      // The client held it before our restart: the table's word stands, the master's process keeps its own.
      this.log(`nlm: ${req.owner.host} reclaimed a lock a process on this host holds too; it is kept in netboot's table only`);
      return Nlm4Stat.GRANTED;
    }
    this.table.unlock(req);
    this.sendGrants();
    if (!block) {
      await this.settle(req.fh, req.owner);
      return Nlm4Stat.DENIED;
    }
    this.waitOnHost(req, waiting);
    return Nlm4Stat.BLOCKED;
  }

  /** Waits for a process on this host to let go; then the table decides again, and a grant is called back. */
  private waitOnHost(req: LockRequest, waiting: Waiting): void {
    const key = requestKey(req);
    if (this.hostWaits.has(key)) return;
    const state = { cancelled: false };
    this.hostWaits.set(key, state);
    // Not tracked with the callbacks: it may wait as long as the process holds the lock, and close() must not.
    void (async () => {
      try {
        await this.host!.wait(req);
        if (state.cancelled || this.closed) {
          await this.host!.release(req);
          return;
        }
        const again = this.table.lock(req, { block: true, reclaim: false, context: waiting });
        // Blocked again behind another client: the table grants it in turn, and takes the range then.
        if (again.stat !== Nlm4Stat.GRANTED) await this.host!.release(req);
        else if (this.roomToSend(`the GRANTED callback to ${waiting.address}`)) this.track(this.sendGranted({ request: req, context: waiting }));
      } catch (e) {
        this.log(`nlm: waiting for a lock held on this host failed: ${(e as Error).message}`);
      } finally {
        this.hostWaits.delete(key);
        await this.settle(req.fh, req.owner).catch(() => undefined);
      }
    })();
  }

  private async lock(c: RpcCall, monitored: boolean): Promise<{ cookie: Buffer; stat: Nlm4Stat }> {
    const a = nlm4LockArgs.read(c.args);
    if (monitored && !this.canMonitor(a.alock.callerName)) return { cookie: a.cookie, stat: Nlm4Stat.DENIED_NOLOCKS };
    const req = lockRequest(a.alock, a.exclusive);
    this.seen(a.alock.callerName, c.remote.address);
    const waiting: Waiting = { address: c.remote.address, transport: c.transport, cookie: Buffer.from(a.cookie), alock: copyLock(a.alock) };
    // NM_LOCK comes from hosts without a status monitor: never blocks, never monitored.
    const block = monitored && a.block;
    const tabled = this.table.lock(req, { block, reclaim: a.reclaim, context: waiting });
    const out = { stat: tabled.stat === Nlm4Stat.GRANTED ? await this.takeOnHost(req, block, waiting, a.reclaim) : tabled.stat };
    if (out.stat === Nlm4Stat.DENIED) await this.settle(req.fh, req.owner);
    if (monitored && (out.stat === Nlm4Stat.GRANTED || out.stat === Nlm4Stat.BLOCKED)) {
      // On disk before the client hears GRANTED: after a crash it must be told to reclaim.
      await this.monitorClient(a.alock.callerName, c.remote.address);
    }
    if (a.reclaim && out.stat === Nlm4Stat.GRANTED) {
      this.log(`nlm: ${a.alock.callerName} (${c.remote.address}) reclaimed its lock on bytes ${a.alock.offset}+${a.alock.length === 0n ? 'EOF' : a.alock.length}`);
    }
    this.sendGrants();
    return { cookie: a.cookie, stat: out.stat };
  }

  private cancel(c: RpcCall): { cookie: Buffer; stat: Nlm4Stat } {
    const a = nlm4CancArgs.read(c.args);
    const req = lockRequest(a.alock, a.exclusive);
    this.table.cancel(req);
    const hostWait = this.hostWaits.get(requestKey(req));
    if (hostWait) hostWait.cancelled = true;
    else this.track(this.settle(req.fh, req.owner));
    // As Linux lockd: GRANTED whether or not a blocked request was there (it may have been granted meanwhile).
    return { cookie: a.cookie, stat: Nlm4Stat.GRANTED };
  }

  private unlock(c: RpcCall): { cookie: Buffer; stat: Nlm4Stat } {
    const a = nlm4UnlockArgs.read(c.args);
    const req = lockRequest(a.alock, false);
    this.table.unlock(req);
    if (this.host) this.track(this.host.release(req).then(() => this.settle(req.fh, req.owner)));
    this.sendGrants();
    return { cookie: a.cookie, stat: Nlm4Stat.GRANTED };
  }

  private async share(c: RpcCall): Promise<{ cookie: Buffer; stat: Nlm4Stat; sequence: number }> {
    const a = nlm4ShareArgs.read(c.args);
    const s = a.share;
    if (!this.canMonitor(s.callerName)) return { cookie: a.cookie, stat: Nlm4Stat.DENIED_NOLOCKS, sequence: 0 };
    this.seen(s.callerName, c.remote.address);
    const stat = this.table.share(Buffer.from(s.fh), { host: s.callerName, oh: Buffer.from(s.oh) }, s.mode, s.access, a.reclaim);
    if (stat === Nlm4Stat.GRANTED) await this.monitorClient(s.callerName, c.remote.address);
    return { cookie: a.cookie, stat, sequence: 0 };
  }

  private unshare(c: RpcCall): { cookie: Buffer; stat: Nlm4Stat; sequence: number } {
    const a = nlm4ShareArgs.read(c.args);
    this.table.unshare(Buffer.from(a.share.fh), { host: a.share.callerName, oh: Buffer.from(a.share.oh) });
    return { cookie: a.cookie, stat: Nlm4Stat.GRANTED, sequence: 0 };
  }

  /** A _MSG call: answered with an empty reply now and its result as the matching _RES call to the client's lock manager. */
  private message<T>(c: RpcCall, resProc: number, codec: XdrCodec<T>, result: T): RpcResult {
    const body = codec.encode(result);
    if (!this.roomToSend(`the answer (procedure ${resProc}) to ${c.remote.address}`)) return VOID;
    this.track(
      this.callPeer(c.remote.address, NLM_PROGRAM, c.vers, resProc, body, 'udp').catch((e: unknown) =>
        this.log(`nlm: could not send the answer (procedure ${resProc}) to ${c.remote.address}: ${(e as Error).message}`),
      ),
    );
    return VOID;
  }

  private free(host: string, why: string): void {
    if (!this.table.hosts().has(host)) return;
    this.table.freeHost(host);
    for (const [key, w] of this.hostWaits) if (key.includes(`\0${host}\0`)) w.cancelled = true;
    if (this.host) this.track(this.host.forgetHost(host));
    this.log(`nlm: released the locks of ${host} (${why})`);
    this.sendGrants();
  }

  private sendGrants(): void {
    for (const g of this.table.takeGrants()) void this.deliverGrant(g);
  }

  /**
   * A blocked request the table now grants: taken on the served file too
   * (waiting, off the event loop and untracked, while a process on this
   * host holds it), then called back.
   */
  private async deliverGrant(g: Grant<Waiting>): Promise<void> {
    if (this.host && !(await this.host.take(g.request))) {
      try {
        await this.host.wait(g.request);
      } catch (e) {
        this.log(`nlm: waiting for a lock held on this host failed: ${(e as Error).message}`);
        return;
      }
      if (this.closed) return;
    }
    if (this.roomToSend(`the GRANTED callback to ${g.context.address}`)) this.track(this.sendGranted(g));
  }

  /**
   * The GRANTED callback of a blocked request now granted. A client that
   * answers other than GRANTED no longer wants the lock (its process gave
   * up), so it is released; one that cannot be reached keeps it, as it
   * will ask again and be told GRANTED.
   */
  private async sendGranted(g: Grant<Waiting>): Promise<void> {
    const w = g.context;

    const args = nlm4TestArgs.encode({ cookie: w.cookie, exclusive: g.request.exclusive, alock: w.alock });
    try {
      const r = await this.callPeer(w.address, NLM_PROGRAM, NLM_V4, NlmProc.GRANTED, args, w.transport);
      const res = nlm4Res.read(r);
      if (res.stat !== Nlm4Stat.GRANTED) {
        this.log(`nlm: ${w.alock.callerName} (${w.address}) refused the GRANTED callback (status ${res.stat}); the lock is released`);
        this.table.unlock(g.request);
        if (this.host) await this.host.release(g.request).then(() => this.settle(g.request.fh, g.request.owner));
        this.sendGrants();
      }
    } catch (e) {
      this.log(`nlm: GRANTED callback to ${w.alock.callerName} (${w.address}) failed: ${(e as Error).message}; it keeps the lock and gets GRANTED when it asks again`);
    }
  }

  /** Calls a program on a peer, its port asked of the peer's portmapper. */
  private async callPeer(address: string, prog: number, vers: number, proc: number, args: Buffer, transport: 'udp' | 'tcp') {
    const timeoutMs = this.callbackTimeoutMs;
    const pmap = await PortmapClient.connect({ host: address, port: this.peerPortmapPort, transport: 'udp', timeoutMs });
    let port: number;
    try {
      port = await pmap.getport(prog, vers, transport);
    } finally {
      pmap.close();
    }
    if (port === 0) throw new Error(`program ${prog} version ${vers} is not registered with the portmapper of ${address}`);
    const client = await RpcClient.connect({ host: address, port, transport, timeoutMs, reservedPort: true });
    try {
      return await client.call(prog, vers, proc, args);
    } finally {
      client.close();
    }
  }

  // ---- NSM ---------------------------------------------------------------

  private canMonitor(name: string): boolean {
    if (this.peers.size < MAX_PEERS || this.peers.has(name.toLowerCase())) return true;
    this.log(`nlm: refused a lock for ${name}: ${MAX_PEERS} client hosts are monitored already`);
    return false;
  }

  private async monitorClient(name: string, address: string): Promise<void> {
    const key = name.toLowerCase();
    const p = this.peers.get(key);
    if (p?.lockd && p.address === address) return;
    const next: Peer = p ? { ...p, lockd: true, address } : { name, address, lockd: true, monitors: [] };
    this.peers.set(key, next);
    await this.store.savePeer(next);
  }

  /** statd takes SM_MON, SM_UNMON, SM_UNMON_ALL and SM_SIMU_CRASH only from this host's own programs. */
  private local(c: RpcCall, what: string): boolean {
    if (isLoopback(c.remote.address)) return true;
    this.log(`nsm: refused ${what} from ${c.remote.address}: only programs on this host may ask`);
    return false;
  }

  private async smMon(c: RpcCall): Promise<RpcResult> {
    const a = mon.read(c.args);
    if (!this.local(c, 'SM_MON')) return ok(smStatRes.encode({ res: NsmResult.FAIL, state: this.stateNumber }));
    const key = a.monId.monName.toLowerCase();
    const p = this.peers.get(key) ?? { name: a.monId.monName, address: a.monId.monName, lockd: false, monitors: [] };
    const m: Monitor = { myId: { ...a.monId.myId }, priv: Buffer.from(a.priv) };
    const next = { ...p, monitors: [...p.monitors.filter((x) => !sameId(x.myId, m.myId)), m] };
    this.peers.set(key, next);
    await this.store.savePeer(next);
    return ok(smStatRes.encode({ res: NsmResult.SUCC, state: this.stateNumber }));
  }

  private async smUnmon(c: RpcCall): Promise<RpcResult> {
    const a = monId.read(c.args);
    if (this.local(c, 'SM_UNMON')) await this.dropMonitors((p) => p.name.toLowerCase() === a.monName.toLowerCase(), a.myId);
    return ok(smStat.encode({ state: this.stateNumber }));
  }

  private async smUnmonAll(c: RpcCall): Promise<RpcResult> {
    const a = myId.read(c.args);
    if (this.local(c, 'SM_UNMON_ALL')) await this.dropMonitors(() => true, a);
    return ok(smStat.encode({ state: this.stateNumber }));
  }

  private async dropMonitors(which: (p: Peer) => boolean, id: MyId): Promise<void> {
    for (const [key, p] of [...this.peers]) {
      if (!which(p)) continue;
      const monitors = p.monitors.filter((m) => !sameId(m.myId, id));
      if (monitors.length === p.monitors.length) continue;
      if (monitors.length === 0 && !p.lockd) {
        this.peers.delete(key);
        await this.store.removePeer(p.name);
      } else {
        const next = { ...p, monitors };
        this.peers.set(key, next);
        await this.store.savePeer(next);
      }
    }
  }

  /** SM_SIMU_CRASH: behave as after a restart: a new state number, and every monitored peer is told. */
  private async simuCrash(c: RpcCall): Promise<RpcResult> {
    if (!this.local(c, 'SM_SIMU_CRASH')) return VOID;
    this.stateNumber = await this.store.saveState(this.stateNumber + 2);
    this.log(`nsm: simulated crash: state ${this.stateNumber}`);
    for (const p of this.peers.values()) this.track(this.notifyRestart(p));
    return VOID;
  }

  /**
   * A peer's reboot notice: its locks here are gone (its processes are), and
   * the local programs that asked to hear of it are told. A client's locks
   * go only when the notice comes from the address the client locks from
   * and names it (by name, or by that address), as statd matches the
   * sender's address: anyone else's notice would free others' locks.
   */
  private peerRestarted(monName: string, state: number, from: string): void {
    const n = monName.toLowerCase();
    const hosts = [...this.table.hosts()].filter((h) => this.addresses.get(h) === from && (h.toLowerCase() === n || monName === from));
    for (const h of hosts) this.free(h, `reboot notice, state ${state}, from ${from}`);
    const p = this.peers.get(n);
    for (const m of p?.monitors ?? []) {
      const body = smStatus.encode({ monName, state, priv: m.priv });
      const host = isIP(m.myId.myName) !== 0 ? m.myId.myName : '127.0.0.1';
      if (!this.roomToSend(`the restart of ${monName} to program ${m.myId.myProg}`)) continue;
      this.track(
        this.callPeer(host, m.myId.myProg, m.myId.myVers, m.myId.myProc, body, 'udp').catch((e: unknown) =>
          this.log(`nsm: could not tell program ${m.myId.myProg} that ${monName} restarted: ${(e as Error).message}`),
        ),
      );
    }
  }

  /** Our reboot notice to a peer's statd, retried with growing pauses; a peer told is forgotten (it will reclaim, and be monitored again). */
  private async notifyRestart(p: Peer): Promise<void> {
    const body = statChge.encode({ monName: this.name, state: this.stateNumber });
    let wait = 1000;
    for (let attempt = 1; attempt <= this.notifyAttempts && !this.closed; attempt++) {
      try {
        await this.callPeer(p.address, NSM_PROGRAM, NSM_V1, NsmProc.NOTIFY, body, 'udp');
        this.log(`nsm: told ${p.name} (${p.address}) of our restart, state ${this.stateNumber}`);
        const key = p.name.toLowerCase();
        if (this.peers.get(key) === undefined) await this.store.removePeer(p.name);
        return;
      } catch (e) {
        if (attempt === this.notifyAttempts) {
          this.log(`nsm: could not tell ${p.name} (${p.address}) of our restart: ${(e as Error).message}; trying again at the next start`);
          return;
        }
        await this.sleep(wait);
        wait *= 2;
      }
    }
  }

  // ---- timers and work in flight -------------------------------------------

  private roomToSend(what: string): boolean {
    if (this.running.size < MAX_OUTGOING) return true;
    this.log(`nlm: ${MAX_OUTGOING} callbacks in flight: not sending ${what}`);
    return false;
  }

  private track(p: Promise<unknown>): void {
    const q = p.catch((e: unknown) => this.log(`nlm: ${(e as Error).message}`)).finally(() => this.running.delete(q));
    this.running.add(q);
  }

  private later(f: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      f();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(t);
        this.sleepers.delete(wake);
        resolve();
      };
      const t = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }
}

const ownerKeyOf = (o: LockOwner) => `${o.host}\0${o.svid}\0${o.oh.toString('hex')}`;

/** A request's file, owner and range, as one key. */
const requestKey = (r: LockRequest) => `${r.fh.toString('hex')}\0${ownerKeyOf(r.owner)}\0${r.exclusive}\0${r.offset}\0${r.length}`;

/** The request's lock, copied out of the receive buffer it was decoded from (a blocked request outlives it). */
function copyLock(l: Nlm4Lock): Nlm4Lock {
  return { ...l, fh: Buffer.from(l.fh), oh: Buffer.from(l.oh) };
}
