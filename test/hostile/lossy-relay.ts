import dgram from 'node:dgram';

// The kernel here has no netem, so impairment is a userspace UDP relay
// between client and server that the test controls: each datagram, in each
// direction, is dropped, duplicated, held back behind the next one
// (reordered) or delayed, by a seeded PRNG, so a failing run can be replayed.

export interface Impairment {
  /** Probability a datagram is dropped. */
  drop?: number;
  /** Probability a datagram is sent twice. */
  duplicate?: number;
  /** Probability a datagram is held and sent after the next one (or after `delayMs` at the latest). */
  reorder?: number;
  /** Each datagram is delayed by a uniform 0..delayMs. */
  delayMs?: number;
  /** The first this many datagrams (both directions together) pass untouched, drawing no random numbers. */
  spareFirst?: number;
}

export interface RelayStats {
  received: number;
  forwarded: number;
  dropped: number;
  duplicated: number;
  reordered: number;
}

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A relay on 127.0.0.1 in front of `target` (host:port). Clients send to
 * `port`; each client gets its own upstream socket, so the server sees one
 * peer per client. A reply from another server port (a TFTP transfer's own
 * TID) comes back to the client from a relay port of its own, so the client
 * sees a distinct TID just as it would without the relay.
 */
export class LossyRelay {
  readonly stats: RelayStats = { received: 0, forwarded: 0, dropped: 0, duplicated: 0, reordered: 0 };
  private readonly random: () => number;
  private readonly fronts = new Map<number, dgram.Socket>(); // server port -> client-facing socket
  private readonly upstreams = new Map<string, dgram.Socket>(); // client "addr:port" -> server-facing socket
  private readonly held = new Map<dgram.Socket, { timer: NodeJS.Timeout; send: () => void }>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;
  port = 0;

  private constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
    public impairment: Impairment,
    seed: number,
  ) {
    this.random = prng(seed);
  }

  static async start(target: { host: string; port: number }, impairment: Impairment, seed = 1): Promise<LossyRelay> {
    const relay = new LossyRelay(target.host, target.port, impairment, seed);
    relay.port = await relay.front(target.port, 0);
    return relay;
  }

  /** The client-facing socket standing for server port `serverPort`; returns its port. */
  private async front(serverPort: number, bindPort: number): Promise<number> {
    const sock = dgram.createSocket('udp4');
    this.fronts.set(serverPort, sock);
    sock.on('message', (msg, rinfo) => {
      this.stats.received++;
      const up = this.upstream(`${rinfo.address}:${rinfo.port}`, rinfo.address, rinfo.port);
      up.then((u) => this.impair(u, msg, serverPort, this.targetHost));
    });
    sock.on('error', () => {});
    await new Promise<void>((resolve) => sock.bind(bindPort, '127.0.0.1', resolve));
    return sock.address().port;
  }

  private readonly pendingUp = new Map<string, Promise<dgram.Socket>>();
  private upstream(key: string, clientHost: string, clientPort: number): Promise<dgram.Socket> {
    const known = this.pendingUp.get(key);
    if (known) return known;
    const made = new Promise<dgram.Socket>((resolve) => {
      const sock = dgram.createSocket('udp4');
      sock.on('message', (msg, rinfo) => {
        this.stats.received++;
        void this.frontFor(rinfo.port).then((f) => this.impair(f, msg, clientPort, clientHost));
      });
      sock.on('error', () => {});
      sock.bind(0, '127.0.0.1', () => {
        this.upstreams.set(key, sock);
        resolve(sock);
      });
    });
    this.pendingUp.set(key, made);
    return made;
  }

  private readonly pendingFront = new Map<number, Promise<dgram.Socket>>();
  private frontFor(serverPort: number): Promise<dgram.Socket> {
    const s = this.fronts.get(serverPort);
    if (s) return Promise.resolve(s);
    let p = this.pendingFront.get(serverPort);
    if (!p) {
      p = this.front(serverPort, 0).then(() => this.fronts.get(serverPort)!);
      this.pendingFront.set(serverPort, p);
    }
    return p;
  }

  private impair(sock: dgram.Socket, msg: Buffer, port: number, host: string): void {
    if (this.closed) return;
    const im = this.impairment;
    if (this.stats.received <= (im.spareFirst ?? 0)) {
      this.stats.forwarded++;
      sock.send(msg, port, host);
      return;
    }
    const r = this.random;
    if (r() < (im.drop ?? 0)) {
      this.stats.dropped++;
      return;
    }
    const copies = r() < (im.duplicate ?? 0) ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    const send = () => {
      if (this.closed) return;
      for (let i = 0; i < copies; i++) {
        this.stats.forwarded++;
        sock.send(msg, port, host);
      }
    };
    const later = (fn: () => void, ms: number) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        fn();
      }, ms);
      this.timers.add(timer);
      return timer;
    };
    const release = () => {
      const h = this.held.get(sock);
      if (h) {
        this.held.delete(sock);
        clearTimeout(h.timer);
        this.timers.delete(h.timer);
        h.send();
      }
    };
    const deliver = () => {
      if (!this.held.has(sock) && r() < (im.reorder ?? 0)) {
        // Held until the next datagram on this path has gone out.
        this.stats.reordered++;
        const timer = later(release, Math.max(im.delayMs ?? 0, 20));
        this.held.set(sock, { timer, send });
        return;
      }
      send();
      release();
    };
    const delay = im.delayMs ? r() * im.delayMs : 0;
    if (delay > 0) later(deliver, delay);
    else deliver();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    for (const s of [...this.fronts.values(), ...this.upstreams.values()]) {
      await new Promise<void>((resolve) => {
        try {
          s.close(() => resolve());
        } catch {
          resolve();
        }
      });
    }
  }
}
