import type { Socket } from 'node:dgram';
import { printable, RateLimitedLog } from '@netboot/log-text';
import type { DhcpConfig } from './config-model.js';
import { DhcpWireError } from './dhcp-wire-error.js';
import { formatIpv4, inSubnet, parseIpv4 } from './ipv4.js';
import type { Lease } from './lease.js';
import { LeasePolicy, clientKeyOf, type Incoming, type Link, type Outcome } from './lease-policy.js';
import { LeaseStore } from './lease-store.js';
import { decode, encodeInto, encodingLength, getOption, type DhcpMessage } from './message.js';
import { MessageType, Opt } from './option-space.js';
import type { Claim, SharedLeaseStore } from './shared-lease-store.js';
import { HookRunner } from './hook-runner.js';
import type { Scope, Statement } from './config-model.js';

/** Sends an ICMP echo to an address and says whether it was answered within the time (ping-check). */
export interface Pinger {
  ping(address: string, timeoutMs: number): Promise<boolean>;
}

export interface DhcpServerOptions {
  config: DhcpConfig;
  link: Link;
  /** Bound sockets by local port: 67 (or --port) and, for proxyDHCP, 4011. */
  sockets: Map<number, Socket>;
  serverPort: number;
  leasesPath?: string;
  /** Leases in a store shared with other servers instead of the lease file; open the server with DhcpServer.open. */
  sharedStore?: SharedLeaseStore;
  /** Where this server's search for free addresses starts in each range, 0 to 1 (see PolicyOptions). */
  allocationStart?: number;
  proxy?: boolean;
  /** For ping-check; without one, addresses are offered unchecked (said once when the file asks for ping-check). */
  pinger?: Pinger;
  log?: (line: string) => void;
  /**
   * Told of each request the policy decided, with the reply that goes out
   * (undefined when none does), for boot monitoring. Called on the receive
   * path: it must not keep `request` (its byte fields view the datagram).
   */
  onExchange?: (request: DhcpMessage, reply: DhcpMessage | undefined) => void;
  /**
   * Milliseconds to hold each OFFER before it goes out (0: at once), asked
   * per OFFER: a server whose boot files are saturated paces new boots by
   * answering later within the client's retry window, instead of letting
   * them time out further down the boot. ACKs and NAKs are never held.
   */
  offerDelay?: () => number;
}

const MALFORMED_LOG_INTERVAL_MS = 10_000;
/** Claims refused by a shared store before a request is left unanswered (the client retransmits). */
const MAX_CLAIM_TRIES = 4;
/** Requests waiting for a shared store at once; beyond this they are dropped (the store is slow or gone). */
const MAX_WAITING = 512;
/** How often rows written by the other servers are read into the policy. */
const SYNC_INTERVAL_MS = 1000;
/** Addresses pinged for one request before it is left unanswered (the client retransmits). */
const MAX_PROBES = 4;
/** Requests waiting on a ping at once; beyond this they are dropped. */
const MAX_PROBING = 256;
/** OFFERs held back by offerDelay at once; beyond this they go out at once. */
const MAX_HELD_OFFERS = 4096;
/** The longest an OFFER is held, whatever offerDelay says (PXE ROMs first retransmit after 4 s). */
const MAX_OFFER_DELAY_MS = 3500;
/** How often leases are checked for ending, for `on expiry` hooks. */
const EXPIRY_INTERVAL_MS = 10_000;

/**
 * The adapter: datagrams from the sockets into the policy, leases to the
 * store, replies out only after their lease is durable.
 */
export class DhcpServer {
  private policy: LeasePolicy;
  private store?: LeaseStore;
  private shared?: SharedLeaseStore;
  private waiting = 0;
  /**
   * Claims are numbered as they begin, so that "begun before" is exact: on a busy machine many begin and
   * end within one millisecond, and a claim begun in the millisecond an outage was noticed is not one
   * begun after it.
   */
  private claims = 0;
  /** Since when the store is unreachable, and the last claim begun before that was noticed. */
  private outage?: { since: number; unanswered: number; lastBefore: number };
  /** The last claim begun before the store was seen back (0: never down). */
  private recoveredAfter = 0;
  private syncTimer?: NodeJS.Timeout;
  private syncing = false;
  /** One line about malformed datagrams per interval, then how many more there were. */
  private readonly malformedLog: RateLimitedLog;
  private probing = 0;
  private expiryTimer?: NodeJS.Timeout;
  private readonly hooks: HookRunner;
  private readonly log: (line: string) => void;
  private readonly heldOffers = new Set<NodeJS.Timeout>();

  /**
   * A server with its leases loaded: from the shared store when there is one
   * (which must answer now: a server that cannot read its leases does not
   * start), else from the lease file.
   */
  static async open(opts: DhcpServerOptions): Promise<DhcpServer> {
    const server = new DhcpServer({ ...opts, sharedStore: undefined });
    if (!opts.sharedStore || opts.proxy) return server;
    const leases = await opts.sharedStore.load(Date.now());
    server.policy.load(leases);
    server.shared = opts.sharedStore;
    server.log(`read ${leases.length} leases from ${opts.sharedStore.name}`);
    server.syncTimer = setInterval(() => server.sync(), SYNC_INTERVAL_MS);
    server.syncTimer.unref();
    return server;
  }

  constructor(private readonly opts: DhcpServerOptions) {
    const sink = opts.log ?? ((l) => process.stdout.write(`${l}\n`));
    // Lines carry what clients sent (a host name through a config's log() statement, say): a newline must not forge a line.
    this.log = (line) => sink(printable(line));
    this.malformedLog = new RateLimitedLog(this.log, { burst: 1, windowMs: MALFORMED_LOG_INTERVAL_MS });
    if (opts.sharedStore) throw new Error('a server with a shared lease store is made by DhcpServer.open');
    this.hooks = new HookRunner({ log: this.log });
    this.policy = this.policyFor(opts.config);
    this.configured(opts.config);
    if (opts.leasesPath && !opts.proxy) {
      const { store, leases, bad } = LeaseStore.open(opts.leasesPath, { snapshot: () => this.policy.leases() });
      this.store = store;
      this.policy.load(leases);
      if (bad > 0) this.log(`${opts.leasesPath}: skipped ${bad} unreadable lines`);
      this.log(`read ${leases.length} lease records from ${opts.leasesPath}`);
    }
    for (const [port, socket] of opts.sockets) socket.on('message', (m, r) => this.receive(socket, port, m, r.address, r.port));
  }

  private malformed(from: string, err: Error): void {
    this.malformedLog.log('malformed datagrams', `dropped a malformed datagram from ${from}: ${err.message}`);
  }

  private receive(socket: Socket, localPort: number, data: Buffer, address: string, port: number): void {
    let msg;
    try {
      msg = decode(data);
    } catch (e) {
      if (e instanceof DhcpWireError) return this.malformed(`${address}:${port}`, e);
      throw e;
    }
    const from = parseIpv4(address) ?? 0;
    const link = this.opts.link;
    // Unicast from a host not on our link and not a relay: it reached us some other way; not ours to answer.
    if (from !== 0 && !msg.giaddr && !inSubnet(from, link.network, link.mask)) return;
    const req: Incoming = { msg, via: link, from: { address: from, port }, localPort };
    if (this.shared) return this.receiveShared(socket, req, `${address}:${port}`);
    let outcome: Outcome;
    try {
      outcome = this.policy.handle(req, Date.now());
    } catch (e) {
      if (e instanceof DhcpWireError) return this.malformed(`${address}:${port}`, e);
      throw e;
    }
    if (outcome.probe && this.opts.pinger) return this.probeThenAnswer(socket, req, outcome);
    this.opts.onExchange?.(msg, outcome.reply?.msg);
    this.answer(socket, outcome);
  }

  /** Makes the lease durable, then sends the reply and runs the event's hooks. */
  private answer(socket: Socket, outcome: Outcome): void {
    if (outcome.commit && this.store) {
      // The reply's own line ("DHCPACK on ...") is printed only once the lease is durable and the reply goes out.
      const sentLine = outcome.reply ? outcome.log.pop() : undefined;
      for (const line of outcome.log) this.log(line);
      this.store.commit(outcome.commit).then(
        () => {
          if (sentLine) this.log(sentLine);
          this.send(socket, outcome);
          if (outcome.hooks) this.hooks.run(outcome.hooks);
        },
        (err: Error) => this.log(`lease file ${this.opts.leasesPath}: ${err.message}; not answering until it can be written`),
      );
    } else {
      for (const line of outcome.log) this.log(line);
      this.send(socket, outcome);
      if (outcome.hooks) this.hooks.run(outcome.hooks);
    }
  }

  /**
   * ping-check, as dhcpd: an address newly taken from a pool is pinged before
   * it is offered; if something answers, the address is abandoned and the
   * request handled again, for another address.
   */
  private probeThenAnswer(socket: Socket, req: Incoming, first: Outcome): void {
    if (this.probing >= MAX_PROBING) return;
    this.probing++;
    const pinger = this.opts.pinger!;
    const go = async () => {
      let outcome = first;
      for (let n = 0; n < MAX_PROBES && outcome.probe; n++) {
        const ip = formatIpv4(outcome.probe.ip);
        let alive = false;
        try {
          alive = await pinger.ping(ip, outcome.probe.timeoutMs);
        } catch (e) {
          this.log(`ping-check of ${ip} failed (${(e as Error).message}); offering it unchecked`);
        }
        if (!alive) {
          this.opts.onExchange?.(req.msg, outcome.reply?.msg);
          return this.answer(socket, outcome);
        }
        const abandoned = this.policy.abandon(outcome.probe.ip, Date.now());
        this.log(`ICMP Echo reply while lease ${ip} valid: abandoning it`);
        if (this.store) await this.store.commit(abandoned).catch((err: Error) => this.log(`lease file ${this.opts.leasesPath}: ${err.message}`));
        outcome = this.policy.handle(req, Date.now());
      }
      if (outcome.probe) return this.log(`${outcome.log[0] ?? 'request'}: ${MAX_PROBES} addresses in a row answered ping-check; not answered`);
      this.opts.onExchange?.(req.msg, outcome.reply?.msg);
      this.answer(socket, outcome);
    };
    void go().finally(() => this.probing--);
  }

  /**
   * With a shared store, nothing goes out before the store agreed: an OFFER
   * once its address is held for the client, an ACK once its lease is
   * committed. A refused claim teaches the policy the rows in the way and the
   * request is handled again (another address, or a NAK); a store that
   * cannot be reached means no answer at all.
   */
  private receiveShared(socket: Socket, req: Incoming, from: string): void {
    if (this.waiting >= MAX_WAITING) {
      if (this.outage) this.outage.unanswered++;
      return;
    }
    this.waiting++;
    void this.claimAndAnswer(socket, req, from).finally(() => this.waiting--);
  }

  private async claimAndAnswer(socket: Socket, req: Incoming, from: string): Promise<void> {
    const shared = this.shared!;
    for (let tries = 0; tries < MAX_CLAIM_TRIES; tries++) {
      const now = Date.now();
      const started = ++this.claims;
      let outcome: Outcome;
      try {
        outcome = this.policy.handle(req, now);
      } catch (e) {
        if (e instanceof DhcpWireError) return this.malformed(from, e);
        throw e;
      }
      let claim: Claim = { ok: true };
      if (outcome.commit || outcome.reserve) {
        try {
          claim = outcome.commit ? await shared.record(outcome.commit, now) : await shared.reserve(outcome.reserve!, now, tries === 0);
        } catch (e) {
          if (outcome.reserve) this.policy.withdrawOffer(outcome.reserve.client);
          return this.storeDown(e as Error, started);
        }
        this.storeUp(started);
      }
      if (claim.ok && tries === 0 && isNak(outcome)) {
        // A NAK decided from what this server knew: another server may have bound the address
        // to this client since. Asked once, from the store itself.
        const asked = ++this.claims;
        try {
          const rows = await shared.lookup(req.msg.ciaddr || requestedAddress(req), clientKeyOf(req.msg));
          this.storeUp(asked);
          if (rows.length > 0) {
            this.policy.load(rows);
            continue;
          }
        } catch (e) {
          return this.storeDown(e as Error, asked);
        }
      }
      if (claim.ok) {
        this.opts.onExchange?.(req.msg, outcome.reply?.msg);
        for (const line of outcome.log) this.log(line);
        this.send(socket, outcome);
        if (outcome.hooks) this.hooks.run(outcome.hooks);
        return;
      }
      this.policy.load(claim.holders);
      const bound = outcome.commit && claim.holders.find((h) => h.client === outcome.commit!.client && h.ip !== outcome.commit!.ip && h.state === 'active');
      if (bound) {
        // A client keeps the lease it has (from this server or another) until it ends or is released.
        this.log(`${outcome.log[0]}: the client holds ${formatIpv4(bound.ip)}, not answered`);
        return;
      }
    }
    this.policy.withdrawOffer(clientKeyOf(req.msg));
    this.log(`request from ${from} not answered: ${MAX_CLAIM_TRIES} claims in a row were refused by ${shared.name} (other servers took the addresses meanwhile)`);
  }

  /** Claim number `started` failed. */
  private storeDown(err: Error, started: number): void {
    if (this.outage) {
      this.outage.unanswered++;
      return;
    }
    // A claim begun before the store came back (queued for, or on, a connection the outage broke)
    // says nothing of the store now: the claims begun since decide, so one outage is not logged twice.
    if (started <= this.recoveredAfter) return;
    this.outage = { since: Date.now(), unanswered: 1, lastBefore: this.claims };
    this.log(`lease store ${this.shared!.name}: ${err.message}; answering nothing that cannot be recorded until it is back`);
  }

  /**
   * Claim number `started` succeeded: the outage is over if the claim began after it was noticed. One
   * begun before (its statement already running when the database went down) says nothing of now.
   */
  private storeUp(started: number): void {
    if (!this.outage || started <= this.outage.lastBefore) return;
    const secs = ((Date.now() - this.outage.since) / 1000).toFixed(1);
    this.log(`lease store ${this.shared!.name} is back after ${secs} s; ${this.outage.unanswered} requests were left unanswered meanwhile`);
    this.outage = undefined;
    this.recoveredAfter = this.claims;
  }

  /** Reads what the other servers wrote, so this one offers what is free and knows the clients they serve. */
  private sync(): void {
    if (this.syncing || this.outage) return;
    this.syncing = true;
    this.shared!.changes().then(
      (rows) => {
        this.syncing = false;
        this.policy.load(rows);
      },
      () => {
        // An unreachable store is reported by the requests that need it.
        this.syncing = false;
      },
    );
  }

  private send(socket: Socket, outcome: Outcome): void {
    const r = outcome.reply;
    if (!r) return;
    let bytes: Buffer;
    try {
      // A buffer per reply: dgram sends asynchronously, so it must not be reused before the callback.
      bytes = Buffer.allocUnsafe(encodingLength(r.msg));
      encodeInto(r.msg, bytes, 0);
    } catch (e) {
      if (e instanceof DhcpWireError) return this.log(`cannot encode reply to ${formatIpv4(r.to)}: ${e.message}`);
      throw e;
    }
    const delay = this.opts.offerDelay && getOption(r.msg, Opt.MESSAGE_TYPE)?.[0] === MessageType.OFFER ? Math.min(MAX_OFFER_DELAY_MS, this.opts.offerDelay()) : 0;
    if (delay > 0 && this.heldOffers.size < MAX_HELD_OFFERS) {
      const timer = setTimeout(() => {
        this.heldOffers.delete(timer);
        socket.send(bytes, r.port, formatIpv4(r.to));
      }, delay);
      this.heldOffers.add(timer);
      return;
    }
    socket.send(bytes, r.port, formatIpv4(r.to));
  }

  /** Says once what the file asks that this server cannot do, and starts the expiry check when a hook needs it. */
  private configured(config: DhcpConfig): void {
    if (!this.opts.pinger && !this.opts.proxy && statementsOf(config).some((s) => s.kind === 'param' && s.name === 'pingCheck' && s.value === true)) {
      this.log(`${config.file}: ping-check is on, but this server has no ICMP echo (the @netboot/platform module with icmpEcho); addresses are offered without the check`);
    }
    clearInterval(this.expiryTimer);
    this.expiryTimer = undefined;
    if (statementsOf(config).some((s) => s.kind === 'on' && s.events.includes('expiry'))) {
      this.expiryTimer = setInterval(() => this.hooks.run(this.policy.expire(Date.now())), EXPIRY_INTERVAL_MS);
      this.expiryTimer.unref();
    }
  }

  private policyFor(config: DhcpConfig): LeasePolicy {
    return new LeasePolicy(config, {
      proxy: this.opts.proxy,
      serverPort: this.opts.serverPort,
      clientPort: this.opts.serverPort + 1,
      allocationStart: this.opts.allocationStart,
    });
  }

  /**
   * Puts a new dhcpd.conf in force (SIGHUP). Every lease held so far is kept:
   * a client keeps its address until the lease ends, even if the new file
   * moved the range, as dhcpd does on restart with its lease file.
   */
  reload(config: DhcpConfig): void {
    const next = this.policyFor(config);
    next.load(this.policy.leases());
    this.policy = next;
    this.configured(config);
  }

  /** Leases currently held (for tests and tools). */
  leases(): Lease[] {
    return [...this.policy.leases()];
  }

  /** Resolves once no hook program runs or waits (for tests). */
  hooksSettled(): Promise<void> {
    return this.hooks.settled();
  }

  async close(): Promise<void> {
    clearInterval(this.syncTimer);
    for (const timer of this.heldOffers) clearTimeout(timer);
    this.heldOffers.clear();
    clearInterval(this.expiryTimer);
    for (const s of this.opts.sockets.values()) await new Promise<void>((res) => s.close(() => res()));
    await this.store?.close();
    // Claims still in flight finish (or fail) before the store goes.
    for (let i = 0; i < 100 && this.waiting > 0; i++) await new Promise((r) => setTimeout(r, 20));
    await this.shared?.close();
  }
}

function isNak(o: Outcome): boolean {
  return o.reply !== undefined && getOption(o.reply.msg, Opt.MESSAGE_TYPE)?.[0] === MessageType.NAK;
}

function requestedAddress(req: Incoming): number {
  const d = getOption(req.msg, Opt.REQUESTED_ADDRESS);
  return d && d.length === 4 ? ((d[0] << 24) | (d[1] << 16) | (d[2] << 8) | d[3]) >>> 0 : 0;
}


/** Every statement of the file, in every scope and branch (to ask what it uses). */
function statementsOf(config: DhcpConfig): Statement[] {
  const out: Statement[] = [];
  const walk = (list: readonly Statement[]) => {
    for (const s of list) {
      out.push(s);
      if (s.kind === 'if') {
        for (const b of s.branches) walk(b.body);
        walk(s.otherwise);
      }
    }
  };
  const scopes = new Set<Scope>([config.global]);
  for (const leaf of [...config.subnets, ...config.pools, ...config.classes, ...config.hosts]) {
    for (let s: Scope | undefined = leaf.scope; s; s = s.parent) scopes.add(s);
  }
  for (const s of scopes) walk(s.statements);
  return out;
}
