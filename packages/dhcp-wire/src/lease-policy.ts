import type { ClassDecl, DhcpConfig, HookEvent, Host, Pool, PoolMember, Range, Statement, Subnet } from './config-model.js';
import type { VariableValue } from './config-expression.js';
import { branchKey, linkSubnets, matchingClasses, resolve, runHook, subnetFor, type Effective, type HookAction } from './config-resolve.js';
import { formatIpv4, formatMac, inSubnet } from './ipv4.js';
import type { Lease } from './lease.js';
import {
  BOOTREPLY,
  BOOTREQUEST,
  BROADCAST_FLAG,
  BOOTP_MIN_LENGTH,
  DEFAULT_MAX_LENGTH,
  getOption,
  hardwareAddress,
  type DhcpMessage,
} from './message.js';
import { MESSAGE_TYPE_NAMES, MessageType, Opt } from './option-space.js';
import type { DhcpOption } from './option-value.js';

/** The interface a request came in on: its name and its IPv4 address and subnet. */
export interface Link {
  name: string;
  address: number;
  network: number;
  mask: number;
}

/** A decoded request and where it came from. */
export interface Incoming {
  msg: DhcpMessage;
  via: Link;
  from: { address: number; port: number };
  /** The server port it arrived on (67, or 4011 for proxyDHCP). */
  localPort: number;
}

/** Where a reply goes: a unicast address or the limited broadcast, and the port. */
export interface Reply {
  msg: DhcpMessage;
  to: number;
  port: number;
  broadcast: boolean;
}

/**
 * What the adapter must do: make `commit` durable first, then send `reply`;
 * print `log`, whose last line, when there is a reply, is the reply's own.
 */
export interface Outcome {
  reply?: Reply;
  commit?: Lease;
  /**
   * An OFFER's address, held for the client until `until`. A store shared by
   * several servers must hold it before the OFFER goes out, so two servers do
   * not offer one address to two clients; a server's own store need not.
   */
  reserve?: Reservation;
  /**
   * ping-check: before the OFFER goes out, ask whether something already
   * answers at this address; if it does, call `abandon` and handle the
   * request again (dhcpd's ICMP echo before offering a new address).
   */
  probe?: { ip: number; timeoutMs: number };
  /** What the lease event's `on commit|release|expiry` hook asks for, after the reply went out. */
  hooks?: HookAction[];
  log: string[];
}

/** An offered address held for a client until it REQUESTs it or the offer times out. */
export interface Reservation {
  ip: number;
  client: string;
  mac: string;
  until: number;
}

export interface PolicyOptions {
  /** How long an offered address stays reserved for the client (ms). */
  offerTimeoutMs?: number;
  /** How long a declined address stays out of the pool (ms). */
  abandonMs?: number;
  /** proxyDHCP: boot information only, no addresses (PXE clients only). */
  proxy?: boolean;
  serverPort?: number;
  clientPort?: number;
  /**
   * Where in each range (0 to 1) the search for a free address starts.
   * Servers sharing one pool start at different places, so they rarely
   * reach for the same free address at the same moment.
   */
  allocationStart?: number;
}

const BROADCAST = 0xffffffff;
const PXE_CLIENT = Buffer.from('PXEClient');
const HTTP_CLIENT = Buffer.from('HTTPClient');
/** A boot file name UEFI HTTP Boot can fetch: an http:// or https:// URL. */
const URL_SCHEME = /^https?:\/\//i;
/** Size of the BOOTP file field, the terminating NUL included. */
const FILE_FIELD = 128;

interface Offer {
  ip: number;
  expires: number;
}

/** The release and expiry hooks in force when a lease was committed, run when that lease is released or ends. */
interface LeaseHooks {
  ip: number;
  hooks: Map<HookEvent, Statement[]>;
  variables: Map<string, VariableValue>;
  known: boolean;
  hostName?: string;
}

/** Who a request is from, as pools' permit lists ask. */
interface Asker {
  host: Host | undefined;
  classes: readonly ClassDecl[];
  bootp: boolean;
}

/**
 * RFC 2131 server behaviour as a pure machine: a request and the time in,
 * a reply, a lease to commit and log lines out. Holds the lease table.
 */
export class LeasePolicy {
  private readonly byIp = new Map<number, Lease>();
  private readonly byClient = new Map<string, Lease>();
  private readonly offers = new Map<string, Offer>();
  private readonly offeredIp = new Map<number, string>();
  private readonly fixed = new Set<number>();
  private readonly cursors = new Map<string, number>();
  private readonly resolved = new Map<string, Effective>();
  private readonly leaseHooks = new Map<string, LeaseHooks>();
  private readonly ignoreClientUids: boolean;
  private sweepAt = 0;
  /** The time of the request being handled. */
  private now = 0;
  private readonly offerTimeoutMs: number;
  private readonly abandonMs: number;
  private readonly proxy: boolean;
  private readonly serverPort: number;
  private readonly clientPort: number;
  private readonly allocationStart: number;

  constructor(
    readonly config: DhcpConfig,
    opts: PolicyOptions = {},
  ) {
    this.offerTimeoutMs = opts.offerTimeoutMs ?? 60_000;
    this.abandonMs = opts.abandonMs ?? 3_600_000;
    this.proxy = opts.proxy ?? false;
    this.serverPort = opts.serverPort ?? 67;
    this.clientPort = opts.clientPort ?? 68;
    this.allocationStart = Math.min(Math.max(opts.allocationStart ?? 0, 0), 1);
    if (config.names.length > 0) {
      const n = config.names[0];
      throw new Error(`${n.pos.file}:${n.pos.line}:${n.pos.column}: the host name "${n.name}" is not resolved yet; load the file with loadConfigFile, or call resolveConfigNames first`);
    }
    for (const h of config.hosts) for (const a of h.fixedAddresses) this.fixed.add(a);
    // dhcpd reads it as a global switch: leases are keyed by hardware address, whatever client identifier is sent.
    this.ignoreClientUids = resolve(config, undefined, undefined, []).ignoreClientUids;
  }

  /**
   * Restores leases read from the lease file (later records win), or learns
   * rows another server wrote to a shared store: an offer this server made a
   * client that now holds another address is forgotten.
   */
  load(leases: Iterable<Lease>): void {
    for (const l of leases) {
      this.apply(l);
      const o = this.offers.get(l.client);
      if (o && o.ip !== l.ip && l.state === 'active') this.dropOffer(l.client);
    }
  }

  /** Forgets the offer made to a client that was never sent (a shared store could not hold its address), so it holds no address. */
  withdrawOffer(client: string): void {
    this.dropOffer(client);
  }

  /** Every lease the policy holds. */
  leases(): IterableIterator<Lease> {
    return this.byIp.values();
  }

  /** The lease bound to a client key, if any. */
  leaseOf(client: string): Lease | undefined {
    return this.byClient.get(client);
  }

  private apply(l: Lease): void {
    const old = this.byIp.get(l.ip);
    if (old && old.client !== l.client) this.byClient.delete(old.client);
    const prev = this.byClient.get(l.client);
    if (prev && prev.ip !== l.ip && this.byIp.get(prev.ip) === prev) this.byIp.delete(prev.ip);
    this.byIp.set(l.ip, l);
    if (l.state === 'abandoned') this.byClient.delete(l.client);
    else this.byClient.set(l.client, l);
  }

  handle(req: Incoming, now: number): Outcome {
    this.now = now;
    if (now >= this.sweepAt) this.sweepOffers(now);
    const log: string[] = [];
    const m = req.msg;
    if (m.op !== BOOTREQUEST) return { log };
    if (m.htype !== 1 || m.hlen !== 6) {
      log.push(`ignoring request with hardware type ${m.htype} length ${m.hlen}: only Ethernet is served`);
      return { log };
    }
    const mac = formatMac(hardwareAddress(m));
    const via = m.giaddr ? formatIpv4(m.giaddr) : req.via.name;
    const type = getOption(m, Opt.MESSAGE_TYPE);
    if (!type) return this.bootp(req, mac, via, now, log);
    if (type.length !== 1) return { log };
    const t = type[0];
    if (this.proxy) return this.proxyDhcp(req, t, mac, via, log);
    switch (t) {
      case MessageType.DISCOVER:
        return this.discover(req, mac, via, now, log);
      case MessageType.REQUEST:
        return this.request(req, mac, via, now, log);
      case MessageType.DECLINE:
        return this.decline(req, mac, via, now, log);
      case MessageType.RELEASE:
        return this.release(req, mac, via, now, log);
      case MessageType.INFORM:
        return this.inform(req, mac, via, log);
      default:
        log.push(`${MESSAGE_TYPE_NAMES[t] ?? `message type ${t}`} from ${mac} via ${via}: not a client message, ignored`);
        return { log };
    }
  }

  // ------------------------------------------------------------ context

  private clientKey(m: DhcpMessage): string {
    return clientKeyOf(m, this.ignoreClientUids);
  }

  /** The subnet the client is on: the relay's (giaddr), else the interface's. */
  private subnetOf(req: Incoming): Subnet | undefined {
    return subnetFor(this.config, req.msg.giaddr || req.via.address);
  }

  private hostFor(mac: string, subnet: Subnet | undefined): Host | undefined {
    const hosts = this.config.hostsByMac.get(mac);
    if (!hosts) return undefined;
    const link = subnet ? linkSubnets(this.config, subnet) : [];
    // Prefer a host whose fixed address is on this link, then one without a fixed address.
    for (const h of hosts) if (h.fixedAddresses.some((a) => link.some((s) => inSubnet(a, s.network, s.mask)))) return h;
    for (const h of hosts) if (h.fixedAddresses.length === 0) return h;
    return undefined;
  }

  private fixedAddress(host: Host | undefined, subnet: Subnet | undefined): number | undefined {
    if (!host || !subnet) return undefined;
    const link = linkSubnets(this.config, subnet);
    return host.fixedAddresses.find((a) => link.some((s) => inSubnet(a, s.network, s.mask)));
  }

  /**
   * What the client gets: before an address is chosen (`ip` undefined) from
   * its subnet, classes and host; once chosen, with the pool of that address
   * and, for expressions, the address itself.
   */
  private effective(linkSubnet: Subnet | undefined, host: Host | undefined, m: DhcpMessage, ip?: number): Effective {
    // Once an address is chosen, its own subnet's statements apply (dhcpd runs the lease's subnet scope), and a
    // host's fixed address belongs to no pool even inside a pool's range.
    const subnet = (ip !== undefined ? subnetFor(this.config, ip) : undefined) ?? linkSubnet;
    const classes = matchingClasses(this.config, subnet, host, m);
    const fixed = ip !== undefined && this.fixed.has(ip);
    const pool = ip === undefined || fixed ? undefined : this.rangeOf(ip)?.pool;
    if (this.config.dynamic) return resolve(this.config, subnet, host, classes, m, { leased: ip, pool, fixed });
    const branches = branchKey(this.config, subnet, host, classes, m);
    const key = `${subnet?.index ?? -1}|${host?.index ?? -1}|${pool?.index ?? -1}|${classes.map((c) => c.index).join(',')}|${branches}`;
    let e = this.resolved.get(key);
    if (!e) {
      e = resolve(this.config, subnet, host, classes, m, { pool, fixed });
      this.resolved.set(key, e);
    }
    return e;
  }

  private asker(subnet: Subnet | undefined, host: Host | undefined, m: DhcpMessage, bootp: boolean): Asker {
    return { host, classes: matchingClasses(this.config, subnet, host, m), bootp };
  }

  private rangeOf(ip: number): Range | undefined {
    for (const s of this.config.subnets) {
      if (!inSubnet(ip, s.network, s.mask)) continue;
      for (const r of s.ranges) if (ip >= r.start && ip <= r.end) return r;
    }
    return undefined;
  }

  /** Whether a pool's permit lists let this client have its addresses (dhcpd's permitted()). */
  private permitted(r: Range, who: Asker): boolean {
    const pool = r.pool;
    if (!pool) return !who.bootp || r.dynamicBootp;
    const matches = (p: PoolMember) => memberMatches(p, who);
    if (who.bootp && !r.dynamicBootp && !pool.permit.some((p) => p.kind === 'dynamic-bootp')) return false;
    if (pool.permit.length > 0 && !pool.permit.some(matches)) return false;
    return !pool.prohibit.some(matches);
  }

  // ------------------------------------------------------------ addresses

  private available(ip: number, client: string, now: number): boolean {
    if (this.fixed.has(ip)) return false;
    const offeredTo = this.offeredIp.get(ip);
    if (offeredTo !== undefined && offeredTo !== client) {
      const o = this.offers.get(offeredTo);
      if (o && o.ip === ip && o.expires > now) return false;
    }
    const l = this.byIp.get(ip);
    if (!l || l.client === client) return l?.state !== 'abandoned' || l.end <= now;
    if (l.state === 'released') return true;
    return l.end <= now;
  }

  private inRanges(ip: number, subnets: readonly Subnet[], who: Asker): boolean {
    for (const s of subnets) for (const r of s.ranges) if (ip >= r.start && ip <= r.end && this.permitted(r, who)) return true;
    return false;
  }

  /** A free address from the link's ranges, scanning from where the last search stopped. */
  private allocate(subnets: readonly Subnet[], client: string, now: number, who: Asker): number | undefined {
    for (const s of subnets) {
      for (let k = 0; k < s.ranges.length; k++) {
        const r = s.ranges[k];
        if (!this.permitted(r, who)) continue;
        const key = `${s.index}:${k}`;
        const size = r.end - r.start + 1;
        let at = this.cursors.get(key) ?? Math.floor(this.allocationStart * size) % size;
        for (let n = 0; n < size; n++) {
          const ip = r.start + ((at + n) % size);
          if (this.available(ip, client, now)) {
            this.cursors.set(key, (at + n + 1) % size);
            return ip;
          }
        }
        at = 0;
      }
    }
    return undefined;
  }

  /**
   * The address a client would get on this link, or undefined when the pool
   * is empty; `fresh` when it is newly taken from a pool (what ping-check probes).
   */
  private choose(m: DhcpMessage, client: string, subnet: Subnet, host: Host | undefined, eff: Effective, now: number): { ip: number; fresh: boolean } | undefined {
    const fixed = this.fixedAddress(host, subnet);
    if (fixed !== undefined) return { ip: fixed, fresh: false };
    if (!host && !eff.allowUnknownClients) return undefined;
    const who = this.asker(subnet, host, m, false);
    const link = linkSubnets(this.config, subnet);
    const onLink = (ip: number) => link.some((s) => inSubnet(ip, s.network, s.mask));
    const offer = this.offers.get(client);
    if (offer && offer.expires > now && onLink(offer.ip) && this.inRanges(offer.ip, link, who) && this.available(offer.ip, client, now)) return { ip: offer.ip, fresh: false };
    const lease = this.byClient.get(client);
    if (lease && onLink(lease.ip) && this.inRanges(lease.ip, link, who) && this.available(lease.ip, client, now)) return { ip: lease.ip, fresh: false };
    const wanted = getOption(m, Opt.REQUESTED_ADDRESS);
    if (wanted && wanted.length === 4) {
      const ip = ((wanted[0] << 24) | (wanted[1] << 16) | (wanted[2] << 8) | wanted[3]) >>> 0;
      if (this.inRanges(ip, link, who) && this.available(ip, client, now)) return { ip, fresh: true };
    }
    const ip = this.allocate(link, client, now, who);
    return ip === undefined ? undefined : { ip, fresh: true };
  }

  /**
   * ping-check found something answering at `ip`: the address is abandoned
   * (out of use for the abandon time) and the offer made for it forgotten, as
   * dhcpd does; the request is then handled again for another address.
   */
  abandon(ip: number, now: number): Lease {
    const offeredTo = this.offeredIp.get(ip);
    if (offeredTo !== undefined) this.dropOffer(offeredTo);
    const bad: Lease = { ip, client: `abandoned-${formatIpv4(ip)}`, mac: '', start: now, end: now + this.abandonMs, state: 'abandoned' };
    this.apply(bad);
    return bad;
  }

  /**
   * Leases whose time is up and that had an `on expiry` hook when committed:
   * runs each hook once (the adapter calls this now and then).
   */
  expire(now: number): HookAction[] {
    const out: HookAction[] = [];
    for (const [client, h] of this.leaseHooks) {
      const l = this.byClient.get(client);
      if (l && l.ip === h.ip && l.state === 'active' && l.end > now) continue;
      this.leaseHooks.delete(client);
      const body = h.hooks.get('expiry');
      if (body && l && l.ip === h.ip && l.state === 'active') out.push(...this.hookActions(body, h, l.ip));
    }
    return out;
  }

  private hookActions(body: readonly Statement[], h: Omit<LeaseHooks, 'ip' | 'hooks'>, ip: number, msg?: DhcpMessage, leaseTime?: number): HookAction[] {
    return runHook(body, { msg: msg ?? NO_MESSAGE, known: h.known, hostName: h.hostName, leased: ip, leaseTime, variables: new Map(h.variables) });
  }

  /** Runs the commit hook for a lease just committed and keeps its release/expiry hooks for later. */
  private committed(client: string, ip: number, eff: Effective, host: Host | undefined, m: DhcpMessage, secs: number): HookAction[] | undefined {
    if (eff.hooks.size === 0) {
      this.leaseHooks.delete(client);
      return undefined;
    }
    const h: LeaseHooks = { ip, hooks: eff.hooks, variables: eff.variables, known: host !== undefined, hostName: host?.name };
    if (eff.hooks.has('release') || eff.hooks.has('expiry')) this.leaseHooks.set(client, h);
    else this.leaseHooks.delete(client);
    const body = eff.hooks.get('commit');
    return body ? this.hookActions(body, h, ip, m, secs) : undefined;
  }

  // ------------------------------------------------------------ replies

  /** dhcpd's choice: what the client asks for, else default-lease-time; then at least min-lease-time, at most max-lease-time. */
  private leaseTime(m: DhcpMessage, eff: Effective): number {
    const asked = getOption(m, Opt.LEASE_TIME);
    let v = eff.defaultLeaseTime;
    if (asked && asked.length === 4) v = ((asked[0] << 24) | (asked[1] << 16) | (asked[2] << 8) | asked[3]) >>> 0;
    if (v < eff.minLeaseTime) v = eff.minLeaseTime;
    return Math.min(v, eff.maxLeaseTime);
  }

  private reply(req: Incoming, type: number, yiaddr: number, eff: Effective | undefined, subnet: Subnet | undefined, leaseSecs?: number): Reply {
    const m = req.msg;
    // The server's own values; configured ones fill the rest. dhcpd sends renewal and rebinding times only when configured.
    const own = new Map<number, DhcpOption>([
      [Opt.MESSAGE_TYPE, { code: Opt.MESSAGE_TYPE, data: Buffer.from([type]) }],
      [Opt.SERVER_ID, { code: Opt.SERVER_ID, data: u32(req.via.address) }],
    ]);
    if (leaseSecs !== undefined) {
      // dhcpd tells a lease without end as lasting until the end of its time (2038-01-19, 2^31 - 1 s).
      const told = leaseSecs === 0xffffffff ? Math.max(0, END_OF_TIME - Math.floor(this.now / 1000)) : leaseSecs;
      own.set(Opt.LEASE_TIME, { code: Opt.LEASE_TIME, data: u32(told) });
    }
    let file: Uint8Array = EMPTY;
    let sname: Uint8Array = EMPTY;
    let siaddr = 0;
    const configured = new Map<number, DhcpOption>();
    if (eff) {
      for (const o of eff.options) if (!own.has(o.code)) configured.set(o.code, o);
      if (subnet && !configured.has(Opt.SUBNET_MASK)) configured.set(Opt.SUBNET_MASK, { code: Opt.SUBNET_MASK, data: u32(subnet.mask) });
      if (eff.filename !== undefined) {
        const name = Buffer.from(eff.filename, 'latin1');
        // The file field holds 127 bytes and its NUL; a longer name (a URL) travels in option 67 alone (RFC 2132 9.5).
        if (name.length < FILE_FIELD) file = name;
        else if (!configured.has(Opt.BOOTFILE_NAME)) configured.set(Opt.BOOTFILE_NAME, { code: Opt.BOOTFILE_NAME, data: name });
      }
      if (eff.serverName !== undefined) sname = Buffer.from(eff.serverName, 'latin1');
      siaddr = eff.nextServer ?? 0;
    }
    const options: DhcpOption[] = [];
    for (const code of sendOrder(m, configured)) {
      const o = own.get(code) ?? configured.get(code);
      if (o) options.push(o);
    }
    // RFC 2132 3.3: the subnet mask goes before the routers; dhcpd swaps the two when a request list put them the other way.
    const mask = options.findIndex((o) => o.code === Opt.SUBNET_MASK);
    const routers = options.findIndex((o) => o.code === Opt.ROUTERS);
    if (mask > routers && routers >= 0) [options[mask], options[routers]] = [options[routers], options[mask]];
    // UEFI HTTP Boot (UEFI 2.5+, "HTTP Boot"): the firmware takes an offer as a boot offer only when it carries
    // vendor class HTTPClient, and then its boot file must be a URL. Added when the file does not set option 60.
    if (eff?.filename !== undefined && isHttpBootClient(m) && URL_SCHEME.test(eff.filename) && !options.some((o) => o.code === Opt.VENDOR_CLASS)) {
      options.push({ code: Opt.VENDOR_CLASS, data: HTTP_CLIENT });
    }
    const agent = getOption(m, Opt.RELAY_AGENT_INFO);
    if (agent && m.giaddr) options.push({ code: Opt.RELAY_AGENT_INFO, data: agent }); // RFC 3046: echoed, last
    // dhcpd's room: the configured dhcp-max-message-size or the client's, whichever is smaller (576 to 1500),
    // less the IP and UDP headers it counts.
    const size = (d: Uint8Array | undefined) => (d && d.length === 2 ? (d[0] << 8) | d[1] : undefined);
    let mms = size(configured.get(Opt.MAX_MESSAGE_SIZE)?.data);
    const asked = size(getOption(m, Opt.MAX_MESSAGE_SIZE));
    if (asked !== undefined && (mms === undefined || asked < mms)) mms = asked;
    mms = Math.min(MAX_MTU, Math.max(DEFAULT_MAX_LENGTH, mms ?? DEFAULT_MAX_LENGTH));
    const maxLength = mms - IP_UDP_HEADERS;
    const nak = type === MessageType.NAK;
    const msg: DhcpMessage = {
      op: BOOTREPLY,
      htype: m.htype,
      hlen: m.hlen,
      hops: 0,
      xid: m.xid,
      secs: 0,
      flags: nak && m.giaddr ? m.flags | BROADCAST_FLAG : m.flags,
      ciaddr: type === MessageType.ACK || type === MessageType.NAK ? (nak ? 0 : m.ciaddr) : 0,
      yiaddr,
      siaddr: nak ? 0 : siaddr,
      giaddr: m.giaddr,
      chaddr: m.chaddr,
      sname: nak ? EMPTY : sname,
      file: nak ? EMPTY : file,
      cookie: true,
      options: nak ? options.filter((o) => o.code === Opt.MESSAGE_TYPE || o.code === Opt.SERVER_ID || o.code === Opt.RELAY_AGENT_INFO) : options,
      padTo: BOOTP_MIN_LENGTH,
      maxLength,
    };
    return this.route(req, msg, nak);
  }

  /** RFC 2131 section 4.1: relay → giaddr:67; NAK → broadcast; ciaddr → unicast; else broadcast (no raw sockets to unicast before ARP). */
  private route(req: Incoming, msg: DhcpMessage, nak: boolean): Reply {
    const m = req.msg;
    if (m.giaddr) return { msg, to: m.giaddr, port: this.serverPort, broadcast: false };
    if (!nak && m.ciaddr) return { msg, to: m.ciaddr, port: req.localPort === this.serverPort ? this.clientPort : req.from.port, broadcast: false };
    return { msg, to: BROADCAST, port: this.clientPort, broadcast: true };
  }

  private commit(ip: number, client: string, mac: string, now: number, secs: number): Lease {
    const lease: Lease = { ip, client, mac, start: now, end: secs === 0xffffffff ? Infinity : now + secs * 1000, state: 'active' };
    this.apply(lease);
    this.dropOffer(client);
    return lease;
  }

  /** Forgets expired offers (clients that never came back to REQUEST), at most once per offer timeout. */
  private sweepOffers(now: number): void {
    for (const [client, o] of this.offers) {
      if (o.expires <= now) {
        this.offers.delete(client);
        if (this.offeredIp.get(o.ip) === client) this.offeredIp.delete(o.ip);
      }
    }
    this.sweepAt = now + this.offerTimeoutMs;
  }

  private dropOffer(client: string): void {
    const o = this.offers.get(client);
    if (o) {
      this.offers.delete(client);
      if (this.offeredIp.get(o.ip) === client) this.offeredIp.delete(o.ip);
    }
  }

  // ------------------------------------------------------------ messages

  private discover(req: Incoming, mac: string, via: string, now: number, log: string[]): Outcome {
    log.push(`DHCPDISCOVER from ${mac} via ${via}`);
    const subnet = this.subnetOf(req);
    if (!subnet) {
      log.push(`DHCPDISCOVER from ${mac} via ${via}: unknown network segment`);
      return { log };
    }
    const client = this.clientKey(req.msg);
    const host = this.hostFor(mac, subnet);
    const first = this.effective(subnet, host, req.msg);
    const chosen = this.choose(req.msg, client, subnet, host, first, now);
    if (chosen === undefined) {
      log.push(`DHCPDISCOVER from ${mac} via ${via}: network ${subnet.label}: no free leases`);
      log.push(`no free leases on subnet ${subnet.label}`);
      return { log };
    }
    const ip = chosen.ip;
    const eff = this.effective(subnet, host, req.msg, ip);
    log.push(...eff.logs);
    this.dropOffer(client);
    const until = now + this.offerTimeoutMs;
    this.offers.set(client, { ip, expires: until });
    this.offeredIp.set(ip, client);
    const secs = this.fixedAddress(host, subnet) === ip ? Math.min(eff.defaultLeaseTime, eff.maxLeaseTime) : this.leaseTime(req.msg, eff);
    const reply = this.reply(req, MessageType.OFFER, ip, eff, subnetFor(this.config, ip), secs);
    log.push(`DHCPOFFER on ${formatIpv4(ip)} to ${mac} via ${via}`);
    const probe = chosen.fresh && eff.pingCheck ? { ip, timeoutMs: eff.pingTimeoutMs } : undefined;
    return { reply, reserve: { ip, client, mac, until }, probe, log };
  }

  private request(req: Incoming, mac: string, via: string, now: number, log: string[]): Outcome {
    const m = req.msg;
    const sid = ip4(getOption(m, Opt.SERVER_ID));
    const wanted = ip4(getOption(m, Opt.REQUESTED_ADDRESS));
    const ip = wanted ?? m.ciaddr;
    log.push(`DHCPREQUEST for ${formatIpv4(ip)} from ${mac} via ${via}`);
    const client = this.clientKey(m);
    if (sid !== undefined && sid !== req.via.address) {
      // SELECTING, and the client chose another server's offer: release ours, say nothing.
      this.dropOffer(client);
      log.push(`DHCPREQUEST for ${formatIpv4(ip)} from ${mac} via ${via}: for server ${formatIpv4(sid)}, not us`);
      return { log };
    }
    const subnet = this.subnetOf(req);
    if (!subnet) {
      log.push(`DHCPREQUEST for ${formatIpv4(ip)} from ${mac} via ${via}: unknown network segment`);
      return { log };
    }
    const host = this.hostFor(mac, subnet);
    let eff = this.effective(subnet, host, m);
    const link = linkSubnets(this.config, subnet);
    const who = this.asker(subnet, host, m, false);
    const nak = (why: string): Outcome => {
      log.push(`DHCPREQUEST for ${formatIpv4(ip)} from ${mac} via ${via}: ${why}`);
      // Only an authoritative server corrects clients (RFC 2131 4.3.2); otherwise it stays silent.
      if (!eff.authoritative && sid === undefined) return { log };
      log.push(`DHCPNAK on ${formatIpv4(ip)} to ${mac} via ${via}`);
      return { reply: this.reply(req, MessageType.NAK, 0, eff, subnet), log };
    };
    if (ip === 0) return nak('no address requested');
    if (!link.some((s) => inSubnet(ip, s.network, s.mask))) return nak('wrong network');
    const fixed = this.fixedAddress(host, subnet);
    let ok: boolean;
    if (fixed !== undefined) ok = ip === fixed;
    else if (this.fixed.has(ip)) ok = false;
    else {
      const lease = this.byIp.get(ip);
      const mine = lease !== undefined && lease.client === client && lease.state !== 'abandoned';
      const offered = this.offers.get(client);
      ok =
        (mine || (offered !== undefined && offered.ip === ip) || this.inRanges(ip, link, who)) &&
        this.available(ip, client, now) &&
        (host !== undefined || eff.allowUnknownClients);
    }
    if (!ok) return nak(fixed !== undefined ? `the address of ${mac} is ${formatIpv4(fixed)}` : 'address not available');
    eff = this.effective(subnet, host, m, ip);
    log.push(...eff.logs);
    const secs = fixed !== undefined ? Math.min(eff.defaultLeaseTime, eff.maxLeaseTime) : this.leaseTime(m, eff);
    const lease = this.commit(ip, client, mac, now, secs);
    const reply = this.reply(req, MessageType.ACK, ip, eff, subnetFor(this.config, ip), secs);
    log.push(`DHCPACK on ${formatIpv4(ip)} to ${mac} via ${via}`);
    return { reply, commit: lease, hooks: this.committed(client, ip, eff, host, m, secs), log };
  }

  private decline(req: Incoming, mac: string, via: string, now: number, log: string[]): Outcome {
    const m = req.msg;
    const ip = ip4(getOption(m, Opt.REQUESTED_ADDRESS));
    const sid = ip4(getOption(m, Opt.SERVER_ID));
    if (ip === undefined || (sid !== undefined && sid !== req.via.address)) return { log };
    const client = this.clientKey(m);
    const lease = this.byIp.get(ip);
    if (this.fixed.has(ip) || (lease && lease.client !== client && lease.state === 'active' && lease.end > now)) {
      log.push(`DHCPDECLINE of ${formatIpv4(ip)} from ${mac} via ${via}: not this client's lease, ignored`);
      return { log };
    }
    const bad: Lease = { ip, client: `declined-by-${client}`, mac, start: now, end: now + this.abandonMs, state: 'abandoned' };
    this.byClient.delete(client);
    this.apply(bad);
    this.dropOffer(client);
    log.push(`DHCPDECLINE of ${formatIpv4(ip)} from ${mac} via ${via}: abandoned`);
    return { commit: bad, log };
  }

  private release(req: Incoming, mac: string, via: string, now: number, log: string[]): Outcome {
    const ip = req.msg.ciaddr;
    const client = this.clientKey(req.msg);
    const lease = this.byIp.get(ip);
    if (!lease || lease.client !== client || lease.state !== 'active') {
      log.push(`DHCPRELEASE of ${formatIpv4(ip)} from ${mac} via ${via} (not found)`);
      return { log };
    }
    const released: Lease = { ...lease, end: now, state: 'released' };
    this.apply(released);
    log.push(`DHCPRELEASE of ${formatIpv4(ip)} from ${mac} via ${via} (found)`);
    const h = this.leaseHooks.get(client);
    this.leaseHooks.delete(client);
    const body = h && h.ip === ip ? h.hooks.get('release') : undefined;
    return { commit: released, hooks: body ? this.hookActions(body, h!, ip, req.msg) : undefined, log };
  }

  private inform(req: Incoming, mac: string, via: string, log: string[]): Outcome {
    const m = req.msg;
    log.push(`DHCPINFORM from ${formatIpv4(m.ciaddr)} via ${via}`);
    const subnet = subnetFor(this.config, m.ciaddr) ?? this.subnetOf(req);
    if (!subnet) return { log };
    const host = this.hostFor(mac, subnet);
    const eff = this.effective(subnet, host, m);
    const reply = this.reply(req, MessageType.ACK, 0, eff, subnet);
    log.push(`DHCPACK to ${formatIpv4(m.ciaddr)} (${mac}) via ${via}`);
    return { reply, log };
  }

  /** BOOTP (no option 53): fixed addresses from host declarations, or dynamic-bootp ranges; infinite leases. */
  private bootp(req: Incoming, mac: string, via: string, now: number, log: string[]): Outcome {
    log.push(`BOOTREQUEST from ${mac} via ${via}`);
    const subnet = this.subnetOf(req);
    if (!subnet) {
      log.push(`BOOTREQUEST from ${mac} via ${via}: unknown network segment`);
      return { log };
    }
    const host = this.hostFor(mac, subnet);
    let eff = this.effective(subnet, host, req.msg);
    if (!eff.allowBootp) {
      log.push(`BOOTREQUEST from ${mac} via ${via}: BOOTP from dynamic client and no dynamic leases`);
      return { log };
    }
    const client = this.clientKey(req.msg);
    let ip = this.fixedAddress(host, subnet);
    if (ip === undefined) {
      const lease = this.byClient.get(client);
      const link = linkSubnets(this.config, subnet);
      const who = this.asker(subnet, host, req.msg, true);
      if (lease && lease.end === Infinity && this.inRanges(lease.ip, link, who)) ip = lease.ip;
      else ip = this.allocate(link, client, now, who);
    }
    if (ip === undefined) {
      log.push(`BOOTREQUEST from ${mac} via ${via}: no available leases`);
      return { log };
    }
    eff = this.effective(subnet, host, req.msg, ip);
    const lease = this.commit(ip, client, mac, now, 0xffffffff);
    const r = this.reply(req, 0, ip, eff, subnetFor(this.config, ip));
    // A BOOTREPLY carries no DHCP message type, server identifier or lease times.
    r.msg.options = r.msg.options.filter((o) => o.code !== Opt.MESSAGE_TYPE && o.code !== Opt.SERVER_ID);
    if (r.msg.siaddr === 0) r.msg.siaddr = req.via.address;
    log.push(`BOOTREPLY for ${formatIpv4(ip)} to ${mac} via ${via}`);
    return { reply: r, commit: lease, log };
  }

  /** proxyDHCP (PXE spec 2.1): boot file and PXE options for PXE clients, no address; DISCOVER on 67, REQUEST on 4011. */
  private proxyDhcp(req: Incoming, t: number, mac: string, via: string, log: string[]): Outcome {
    const m = req.msg;
    const http = isHttpBootClient(m);
    if (!http && !startsWith(getOption(m, Opt.VENDOR_CLASS), PXE_CLIENT)) return { log };
    const onBinl = req.localPort !== this.serverPort;
    // UEFI HTTP Boot takes its URL from the proxy's answer to the DISCOVER; only PXE asks again on port 4011.
    if (!((t === MessageType.DISCOVER && !onBinl) || (t === MessageType.REQUEST && onBinl && !http))) return { log };
    log.push(`${MESSAGE_TYPE_NAMES[t]} from ${mac} via ${via} (proxy)`);
    const subnet = this.subnetOf(req);
    const host = this.hostFor(mac, subnet);
    const eff = this.effective(subnet, host, m);
    if (eff.filename === undefined) {
      log.push(`${MESSAGE_TYPE_NAMES[t]} from ${mac} via ${via}: no filename for this client, no proxy offer`);
      return { log };
    }
    if (http && !URL_SCHEME.test(eff.filename)) {
      log.push(`${MESSAGE_TYPE_NAMES[t]} from ${mac} via ${via}: an HTTP Boot client needs a URL, and its filename "${eff.filename}" is not one; no proxy offer`);
      return { log };
    }
    const type = t === MessageType.DISCOVER ? MessageType.OFFER : MessageType.ACK;
    const r = this.reply(req, type, 0, eff, undefined);
    r.msg.ciaddr = 0;
    r.msg.options = r.msg.options.filter((o) => o.code !== Opt.SUBNET_MASK && o.code !== Opt.ROUTERS && o.code !== Opt.DOMAIN_NAME_SERVERS);
    if (!http) r.msg.options.push({ code: Opt.VENDOR_CLASS, data: PXE_CLIENT });
    if (!http && !r.msg.options.some((o) => o.code === Opt.VENDOR_ENCAPSULATED)) {
      // PXE discovery control: bit 3, boot straight from the file in this reply (no boot server discovery).
      r.msg.options.push({ code: Opt.VENDOR_ENCAPSULATED, data: Buffer.from([6, 1, 8, 255]) });
    }
    if (onBinl) {
      r.to = m.ciaddr || req.from.address;
      r.port = req.from.port;
      r.broadcast = r.to === BROADCAST;
    }
    log.push(`${MESSAGE_TYPE_NAMES[type]} to ${mac} via ${via} (proxy, file ${eff.filename})`);
    return { reply: r, log };
  }
}

const EMPTY = new Uint8Array(0);
/** The largest message dhcpd sends, and the IP + UDP header bytes a client's maximum message size counts. */
const MAX_MTU = 1500;
const END_OF_TIME = 0x7fffffff;
const IP_UDP_HEADERS = 28;

/** Options a reply carries first whatever the client asks (dhcpd's protocol-mandatory list), when they have a value. */
const MANDATORY = [Opt.MESSAGE_TYPE, Opt.SERVER_ID, Opt.LEASE_TIME, Opt.RENEWAL_TIME, Opt.REBINDING_TIME, Opt.MESSAGE, Opt.REQUESTED_ADDRESS, 92];
const SUBNET_SELECTION = 118;
const FQDN = 81;

/**
 * The codes a reply carries and their order, as dhcpd decides (cons_options):
 * the mandatory ones; then the parameter request list (the configured
 * dhcp-parameter-request-list over the client's), FQDN when the client sent
 * one, and the subnet mask to a DISCOVER or REQUEST even unasked; a client
 * without a list gets every configured option, mask, routers, name servers
 * and host name first, option 43 last. Relay agent information is never
 * moved by a list: it is echoed at the end.
 */
function sendOrder(m: DhcpMessage, configured: ReadonlyMap<number, DhcpOption>): number[] {
  const order: number[] = [...MANDATORY];
  const prl = configured.get(Opt.PARAMETER_REQUEST_LIST)?.data ?? getOption(m, Opt.PARAMETER_REQUEST_LIST);
  if (prl && prl.length > 0) {
    if (configured.has(SUBNET_SELECTION)) order.push(SUBNET_SELECTION);
    for (const code of prl) if (code !== Opt.RELAY_AGENT_INFO) order.push(code);
    if (getOption(m, FQDN)) order.push(FQDN);
    const t = getOption(m, Opt.MESSAGE_TYPE)?.[0];
    if (t === MessageType.DISCOVER || t === MessageType.REQUEST) order.push(Opt.SUBNET_MASK);
  } else {
    order.push(Opt.SUBNET_MASK, Opt.ROUTERS, Opt.DOMAIN_NAME_SERVERS, Opt.HOST_NAME, FQDN);
    // dhcpd walks its option table newest first: the reverse of the order in which the file first set them.
    for (const code of [...configured.keys()].reverse()) if (code !== Opt.RELAY_AGENT_INFO) order.push(code);
    order.push(Opt.VENDOR_ENCAPSULATED);
  }
  const seen = new Set<number>();
  return order.filter((c) => !seen.has(c) && seen.add(c));
}

/** A packet with no options, for hooks run with no request (expiry). */
const NO_MESSAGE: DhcpMessage = {
  op: BOOTREQUEST, htype: 1, hlen: 6, hops: 0, xid: 0, secs: 0, flags: 0, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0,
  chaddr: new Uint8Array(16), sname: EMPTY, file: EMPTY, cookie: true, options: [],
};

function memberMatches(p: PoolMember, who: Asker): boolean {
  switch (p.kind) {
    case 'known-clients':
      return who.host !== undefined;
    case 'unknown-clients':
      return who.host === undefined;
    case 'class':
      return who.classes.some((c) => c.name === p.name);
    case 'dynamic-bootp':
      return who.bootp;
    case 'all-clients':
    case 'unauthenticated':
      return true;
    case 'authenticated':
      return false;
  }
}

/**
 * The key leases are held under: hex of option 61 when the client sent one
 * (and ignore-client-uids is off), else "01" + hardware address hex.
 */
export function clientKeyOf(m: DhcpMessage, ignoreClientUids = false): string {
  const id = ignoreClientUids ? undefined : getOption(m, Opt.CLIENT_ID);
  if (id && id.length > 0) return Buffer.from(id.buffer, id.byteOffset, id.length).toString('hex');
  return `01${Buffer.from(hardwareAddress(m)).toString('hex')}`;
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}

function isHttpBootClient(m: DhcpMessage): boolean {
  return startsWith(getOption(m, Opt.VENDOR_CLASS), HTTP_CLIENT);
}

function startsWith(d: Uint8Array | undefined, prefix: Buffer): boolean {
  return d !== undefined && d.length >= prefix.length && Buffer.compare(d.subarray(0, prefix.length), prefix) === 0;
}

function ip4(d: Uint8Array | undefined): number | undefined {
  if (!d || d.length !== 4) return undefined;
  return ((d[0] << 24) | (d[1] << 16) | (d[2] << 8) | d[3]) >>> 0;
}
