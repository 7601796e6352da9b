import type { Socket } from 'node:dgram';
import type { DhcpConfig } from './config-model.js';
import { DhcpWireError } from './dhcp-wire-error.js';
import { formatIpv4, inSubnet, parseIpv4 } from './ipv4.js';
import type { Lease } from './lease.js';
import { LeasePolicy, type Link, type Outcome } from './lease-policy.js';
import { LeaseStore } from './lease-store.js';
import { decode, encodeInto, encodingLength } from './message.js';

export interface DhcpServerOptions {
  config: DhcpConfig;
  link: Link;
  /** Bound sockets by local port: 67 (or --port) and, for proxyDHCP, 4011. */
  sockets: Map<number, Socket>;
  serverPort: number;
  leasesPath?: string;
  proxy?: boolean;
  log?: (line: string) => void;
}

const MALFORMED_LOG_INTERVAL_MS = 10_000;

/**
 * The adapter: datagrams from the sockets into the policy, leases to the
 * store, replies out only after their lease is durable.
 */
export class DhcpServer {
  private policy: LeasePolicy;
  private store?: LeaseStore;
  private lastMalformedLog = 0;
  private suppressed = 0;
  private readonly log: (line: string) => void;

  constructor(private readonly opts: DhcpServerOptions) {
    this.log = opts.log ?? ((l) => process.stdout.write(`${l}\n`));
    this.policy = this.policyFor(opts.config);
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
    const now = Date.now();
    if (now - this.lastMalformedLog < MALFORMED_LOG_INTERVAL_MS) {
      this.suppressed++;
      return;
    }
    const more = this.suppressed ? ` (${this.suppressed} more since the last report)` : '';
    this.suppressed = 0;
    this.lastMalformedLog = now;
    this.log(`dropped a malformed datagram from ${from}: ${err.message}${more}`);
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
    let outcome: Outcome;
    try {
      outcome = this.policy.handle({ msg, via: link, from: { address: from, port }, localPort }, Date.now());
    } catch (e) {
      if (e instanceof DhcpWireError) return this.malformed(`${address}:${port}`, e);
      throw e;
    }
    if (outcome.commit && this.store) {
      // The reply's own line ("DHCPACK on ...") is printed only once the lease is durable and the reply goes out.
      const sentLine = outcome.reply ? outcome.log.pop() : undefined;
      for (const line of outcome.log) this.log(line);
      this.store.commit(outcome.commit).then(
        () => {
          if (sentLine) this.log(sentLine);
          this.send(socket, outcome);
        },
        (err: Error) => this.log(`lease file ${this.opts.leasesPath}: ${err.message}; not answering until it can be written`),
      );
    } else {
      for (const line of outcome.log) this.log(line);
      this.send(socket, outcome);
    }
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
    socket.send(bytes, r.port, formatIpv4(r.to));
  }

  private policyFor(config: DhcpConfig): LeasePolicy {
    return new LeasePolicy(config, { proxy: this.opts.proxy, serverPort: this.opts.serverPort, clientPort: this.opts.serverPort + 1 });
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
  }

  /** Leases currently held (for tests and tools). */
  leases(): Lease[] {
    return [...this.policy.leases()];
  }

  async close(): Promise<void> {
    for (const s of this.opts.sockets.values()) await new Promise<void>((res) => s.close(() => res()));
    await this.store?.close();
  }
}
