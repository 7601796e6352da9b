import dgram from 'node:dgram';
import { readSync } from 'node:fs';
import net from 'node:net';
import { BufferPool } from './buffer-pool.js';
import { objectArray } from './object-array.js';
import { drcKey, DuplicateRequestCache } from './duplicate-request-cache.js';
import { isWildcardAddress, localUnicastAddresses } from './local-addresses.js';
import { RateLimitedLog } from '@netboot/log-text';
import { readInto } from '@netboot/platform';
import { recordMark, RecordDecoder } from './record-marking.js';
import {
  RpcDispatcher,
  type CallDecision,
  type ProcedureHandler,
  type RpcCall,
  type RpcCallWatcher,
  type RpcEndpoint,
  type ReplyFile,
  type RpcReplyOut,
} from './rpc-dispatcher.js';
import { bindUdpSocket, defaultUdpSocketKind, type UdpSender, type UdpServerSocket, type UdpSocketKind } from './udp-socket.js';
import { XdrError } from './xdr-error.js';

export interface RpcServerOptions {
  /** Where log lines go (default: console.error). */
  log?: (line: string) => void;
  /** Largest TCP record accepted, in bytes (default 1 MiB + 64 KiB: an NFS WRITE of 1 MiB with its header). */
  maxRecordSize?: number;
  /** Calls a TCP connection may have running before the server stops reading from it (default 64). */
  maxInFlightPerConnection?: number;
  /** A TCP connection with no traffic and no call running for this long is closed (default 5 minutes). */
  idleTimeoutMs?: number;
  /** Entries in the duplicate request cache for UDP calls; 0 turns it off (default 512). */
  duplicateCacheSize?: number;
  /** TCP connections open at once; at the limit the one idle longest is closed for a newcomer (default 1024). */
  maxConnections?: number;
  /** UDP calls running at once; more are dropped and the client retransmits (default 1024). */
  maxInFlightUdp?: number;
  /**
   * Writes TCP replies straight to the connection's socket (see ReplySender) instead of through its
   * stream; undefined writes every reply through the stream.
   */
  replySender?: ReplySender;
  /**
   * How UDP sockets read: 'native' (the platform module's socket, a batch of
   * datagrams per recvmmsg; the default where it loaded) or 'dgram'.
   */
  udpSockets?: UdpSocketKind;
}

/**
 * A way to write replies to a connected socket without net.Socket's stream
 * machinery (the platform module's sendNowait): a reply batch goes out in
 * one non-blocking sendmsg from the serving thread, and only what the kernel
 * does not take at once goes through the stream (which waits for room).
 */
export interface ReplySender {
  /** The socket's file descriptor, or undefined to leave this connection on its stream. */
  fdOf(socket: net.Socket): number | undefined;
  /**
   * Sends `buffers[0..count)` in order without waiting: the bytes taken, or -1 for none (a full send
   * buffer). Throws when the connection is broken. `count` is at most SEND_BUFFERS_MAX.
   */
  send(fd: number, buffers: readonly Uint8Array[], count: number): number;
  /**
   * send() of `buffers[0..count)`, then `length` bytes of the open file `fileFd` from `position` straight
   * from the page cache (sendfile): the bytes taken, buffers' and file's together (fewer when the send buffer
   * filled or the file ended first), or -1 for none. Without it a reply's file bytes are read in first.
   */
  sendFile?(fd: number, buffers: readonly Uint8Array[], count: number, fileFd: number, position: number, length: number): number;
  /**
   * Makes the socket poll readable only once it holds `bytes` (SO_RCVLOWAT; 1 is the default), or at its end
   * or an error. Without it a large record's reader wakes for every few segments that arrive.
   */
  receiveLowWater?(fd: number, bytes: number): void;
}

export interface RpcRegisterOptions {
  /**
   * Procedures the duplicate request cache leaves alone because running them
   * twice does no harm (an NFS READ, GETATTR, LOOKUP...), as Linux nfsd's
   * RC_NOCACHE: their replies are never copied into the cache.
   */
  idempotent?: readonly number[];
  /** Told of every call of this version where its reply is built (see RpcCallWatcher). */
  watcher?: RpcCallWatcher;
}

export interface RpcListenOptions {
  host?: string;
  port?: number;
  udp?: boolean;
  tcp?: boolean;
}

type CallContext = Pick<RpcCall, 'transport' | 'remote' | 'local'>;

/** See RpcServer.handUdpTo. `msg` is valid only until the call returns: copy what must outlive it. */
export type UdpHandoff = (msg: Buffer, ctx: CallContext) => Promise<Buffer | undefined> | undefined;

/** Largest UDP payload over IPv4; a larger reply cannot be sent over UDP. */
const MAX_UDP_PAYLOAD = 65507;
const PORT_PICK_ATTEMPTS = 8;
/**
 * Replies written in one tick leave together, but at most this many to a
 * writev: a whole window of calls answered in one block makes the client
 * and the server take turns on the cores, each idle while the other works;
 * smaller blocks let the client start on the first replies while the server
 * computes the rest (measured: GETATTR, LOOKUP and 4 KiB READ at 16 in
 * flight gained 7 to 33% over one block per tick).
 */
const REPLIES_PER_WRITE = 4;
/**
 * A batch that holds this many bytes is written at once: the kernel's copy of
 * a large reply (a 64 KiB READ) costs far more than the system call saved by
 * waiting, and the client can start on it while the server reads the next.
 */
const BATCH_BYTES = 32 * 1024;
/**
 * Reply bytes a connection may have waiting for the kernel's send buffer
 * before it stops reading calls (and so starting them) until they drain:
 * room for a few of the largest replies, so a 1 MiB READ reply does not stop
 * a client that reads its replies (Node's own mark, 16 KiB, would after every
 * large reply), while one that stops reading holds at most this plus the
 * replies of its calls in flight.
 */
const SEND_BACKLOG_MAX = 4 * 1024 * 1024;
/** Buffers one ReplySender.send takes at most (sendNowait's limit). */
const SEND_BUFFERS_MAX = 64;
/** TCP records larger than this are read (or joined) into pooled buffers (an NFS WRITE of 1 MiB). */
const POOLED_RECORD_MIN = 64 * 1024;
/**
 * Pooled record buffers lent at once, over all connections. A fragment
 * header only announces a size, so beyond this many a large fragment is
 * kept as copies of the bytes that actually arrived: a client that
 * announces megabytes on many connections and sends nothing more holds
 * only what it sent.
 */
const POOLED_RECORDS_MAX = 64;
/**
 * A fragment with more than this many bytes still to come is read when all of them have arrived (see
 * ReplySender.receiveLowWater): one wake-up and one read for the body of a 1 MiB WRITE instead of one per
 * few segments, each a turn of the loop.
 */
const LOW_WATER_MIN = 64 * 1024;
/** Where a socket reads bytes that belong to no record buffer yet; shared, as each read is decoded at once. */
const SCRATCH_SIZE = 64 * 1024;

/** `::ffff:a.b.c.d` is an IPv4 peer on a dual-stack socket; report it as IPv4 so loopback checks are simple. */
function endpoint(address: string | undefined, port: number | undefined, family: string | undefined): RpcEndpoint {
  const a = address ?? '';
  if (a.startsWith('::ffff:') && net.isIPv4(a.slice(7))) return { address: a.slice(7), port: port ?? 0, family: 'IPv4' };
  return { address: a, port: port ?? 0, family: family === 'IPv6' ? 'IPv6' : 'IPv4' };
}

/**
 * Reads a reply's file bytes into place from `from` on (see ReplyFile): false when the file ended first, or
 * could not be read. The handler knew them cached, so this copy does not wait for the disk.
 */
function fillReply(file: ReplyFile, from = 0): boolean {
  const into = file.into;
  try {
    for (let done = from; done < into.length; ) {
      const n = readSync(file.fd, into, done, into.length - done, file.position + done);
      if (n === 0) return false;
      done += n;
    }
  } catch {
    return false;
  }
  return true;
}

/** Whether `tail` is a view of the last bytes of `chunk`. */
function endsWith(chunk: Uint8Array, tail: Buffer): boolean {
  return chunk.buffer === tail.buffer && tail.byteOffset + tail.length === chunk.byteOffset + chunk.length && tail.byteOffset >= chunk.byteOffset;
}

function isAddrInUse(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === 'EADDRINUSE';
}

/**
 * Binds (without SO_REUSEADDR) and closes a UDP socket to learn that the
 * port is free: SO_REUSEADDR binds would otherwise share it silently with
 * another program's socket that set it too (rpcbind's, say) instead of
 * failing with EADDRINUSE. Resolves to the port (the kernel's pick for 0).
 */
function freeUdpPort(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4' });
    probe.once('error', (e) => {
      probe.close();
      reject(e);
    });
    probe.bind({ address: host, port, exclusive: true }, () => {
      const free = probe.address().port;
      probe.close(() => resolve(free));
    });
  });
}

/**
 * An ONC RPC server (RFC 5531) over UDP and TCP on the same port number.
 * The dispatch rules live in RpcDispatcher; this adapter owns sockets,
 * framing, back-pressure, limits and the duplicate request cache.
 */
export class RpcServer {
  private readonly dispatcher: RpcDispatcher;
  private readonly logger: RateLimitedLog;
  private readonly maxRecordSize: number;
  private readonly maxInFlight: number;
  private readonly idleTimeoutMs: number;
  private readonly maxConnections: number;
  private readonly maxInFlightUdp: number;
  private readonly drc: DuplicateRequestCache;
  /** @internal See RpcServerOptions.replySender. */
  readonly replySender: ReplySender | undefined;
  /** @internal Where TCP connections read large records; a record goes back once its reply is written. */
  readonly records: BufferPool;
  /** @internal See SCRATCH_SIZE. */
  readonly scratch = Buffer.allocUnsafeSlow(SCRATCH_SIZE);
  private readonly tcpServers: net.Server[] = [];
  private readonly udpKind: UdpSocketKind;
  private readonly udpSockets: UdpServerSocket[] = [];
  private readonly connections = new Set<TcpConnection>();
  private udpInFlight = 0;
  /** See handTcpTo. */
  private tcpHandoff: ((socket: net.Socket) => boolean) | undefined;
  /** See handUdpTo. */
  private udpHandoff: UdpHandoff | undefined;
  /** prog -> vers -> procedures the duplicate request cache skips. */
  private readonly idempotent = new Map<number, Map<number, ReadonlySet<number>>>();

  constructor(opts: RpcServerOptions = {}) {
    const sink = opts.log ?? ((line: string) => console.error(line));
    this.logger = new RateLimitedLog(sink);
    this.dispatcher = new RpcDispatcher((key, line) => this.logger.log(key, line));
    this.maxRecordSize = opts.maxRecordSize ?? 1024 * 1024 + 64 * 1024;
    this.maxInFlight = Math.max(1, opts.maxInFlightPerConnection ?? 64);
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 300_000;
    this.maxConnections = opts.maxConnections ?? 1024;
    this.maxInFlightUdp = opts.maxInFlightUdp ?? 1024;
    this.drc = new DuplicateRequestCache(opts.duplicateCacheSize ?? 512);
    this.records = new BufferPool(this.maxRecordSize, 16);
    this.replySender = opts.replySender;
    this.udpKind = opts.udpSockets ?? defaultUdpSocketKind();
  }

  register(prog: number, vers: number, procs: Record<number, ProcedureHandler>, opts: RpcRegisterOptions = {}): void {
    this.dispatcher.register(prog, vers, procs, opts.watcher);
    let versions = this.idempotent.get(prog);
    if (!versions) this.idempotent.set(prog, (versions = new Map()));
    versions.set(vers, new Set(opts.idempotent ?? []));
  }

  unregister(prog: number, vers?: number): void {
    this.dispatcher.unregister(prog, vers);
    if (vers === undefined) this.idempotent.delete(prog);
    else this.idempotent.get(prog)?.delete(vers);
  }

  /**
   * Binds UDP and TCP on the same port number and resolves to it. With port
   * 0 a port free for both is picked (TCP first, then UDP on its number,
   * retrying when that UDP port is taken).
   *
   * On a wildcard host UDP also gets one socket per local unicast address
   * (see bindUdpPerAddress), so a reply leaves from the address the call
   * was sent to.
   */
  async listen(opts: RpcListenOptions = {}): Promise<number> {
    const host = opts.host ?? '0.0.0.0';
    const wantTcp = opts.tcp ?? true;
    const wantUdp = opts.udp ?? true;
    const requested = opts.port ?? 0;
    if (!wantTcp && !wantUdp) throw new Error('RpcServer.listen: enable at least one of udp and tcp');
    for (let attempt = 1; ; attempt++) {
      let tcp: net.Server | undefined;
      try {
        let port = requested;
        if (wantTcp) {
          tcp = await this.listenTcp(host, port);
          port = (tcp.address() as net.AddressInfo).port;
        }
        if (wantUdp) {
          const udp = isWildcardAddress(host) ? await this.bindUdpPerAddress(host, port) : [await this.bindUdp(host, port, false)];
          port = udp[0].local.port;
          this.udpSockets.push(...udp);
        }
        if (tcp) this.tcpServers.push(tcp);
        return port;
      } catch (e) {
        if (tcp) await new Promise<void>((resolve) => tcp!.close(() => resolve()));
        // With port 0 the number may be taken for UDP (after TCP picked it) or on one local address only: pick another.
        if (isAddrInUse(e) && requested === 0 && attempt < PORT_PICK_ATTEMPTS) continue;
        throw e;
      }
    }
  }

  /**
   * Offers each TCP connection this server accepts to `handoff` (an NFS
   * worker pool that serves it on another thread, see adopt), which returns
   * true when it took the socket; a socket it declines (no worker running)
   * is served here as before. Undefined serves every connection here.
   */
  handTcpTo(handoff: ((socket: net.Socket) => boolean) | undefined): void {
    this.tcpHandoff = handoff;
  }

  /**
   * Offers each UDP datagram this server receives to `handoff` (an NFS worker
   * pool that answers some clients on another thread, see answerDatagram),
   * which returns the reply's bytes to come (undefined in them: no reply), or
   * undefined when it leaves the datagram to be answered here.
   */
  handUdpTo(handoff: UdpHandoff | undefined): void {
    this.udpHandoff = handoff;
  }

  /**
   * Answers a UDP datagram received elsewhere (by another thread's server)
   * as if it had come to this server's socket, duplicate request cache
   * included: the reply's bytes, or undefined when there is none (dropped,
   * or a retransmission of a call still running).
   */
  answerDatagram(msg: Buffer, ctx: CallContext): Promise<Buffer | undefined> {
    return new Promise((resolve) =>
      this.onDatagram(msg, ctx, (reply) => {
        if (!reply) return resolve(undefined);
        const bytes = Buffer.concat(reply.chunks);
        reply.onSent?.();
        resolve(bytes);
      }),
    );
  }

  /**
   * Serves a TCP connection accepted elsewhere (by another thread's server,
   * its fd handed over) as if this server had accepted it. The socket must
   * be paused and not have started reading (net.Socket's pauseOnCreate),
   * so that its records are read into pooled buffers from the first byte.
   */
  adopt(socket: net.Socket): void {
    this.accept(socket);
  }

  /** Stops listening, closes every connection and socket. Replies still being computed are dropped. */
  async close(): Promise<void> {
    const tcp = this.tcpServers.splice(0);
    const udp = this.udpSockets.splice(0);
    for (const c of this.connections) c.destroy();
    this.connections.clear();
    await Promise.all([
      ...tcp.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
      ...udp.map((s) => s.close()),
    ]);
  }

  private listenTcp(host: string, port: number): Promise<net.Server> {
    return new Promise((resolve, reject) => {
      // Half-open: a client may shut down its sending side after its last call and still wait for the replies.
      // Paused: a connection starts reading once it has chosen how (see TcpConnection).
      const server = net.createServer({ noDelay: true, allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
        if (!this.tcpHandoff?.(socket)) this.accept(socket);
      });
      server.once('error', reject);
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', reject);
        server.on('error', (e) => this.logger.log('tcp error', `rpc: TCP server error: ${e.message}`));
        resolve(server);
      });
    });
  }

  /**
   * Neither node:dgram nor the batched socket reads IP_PKTINFO, so a socket bound to the wildcard
   * address answers from whichever address the routing table picks, and a
   * client on a connected UDP socket (the kernel's NFS client, RpcClient)
   * drops a reply to a call it sent to another address of this host. As RPC
   * servers without PKTINFO do, one more socket is bound to each local
   * unicast address on the same port: Linux delivers a datagram to the
   * socket bound to its destination address in preference to the wildcard
   * one, and the reply leaves from that address. Every socket needs
   * SO_REUSEADDR for the kernel to accept the overlapping binds. The wildcard
   * socket still takes what no specific socket does, addresses that appear
   * after listen() among them (answered from the routed address, as before).
   */
  private async bindUdpPerAddress(wildcard: string, port: number): Promise<UdpServerSocket[]> {
    const bound = await freeUdpPort(wildcard, port);
    const sockets = [await this.bindUdp(wildcard, bound, true)];
    try {
      for (const address of localUnicastAddresses(wildcard)) {
        try {
          sockets.push(await this.bindUdp(address, bound, true));
        } catch (e) {
          // An IPv6 address still in duplicate address detection cannot be bound yet; the wildcard socket serves it.
          if ((e as NodeJS.ErrnoException)?.code !== 'EADDRNOTAVAIL') throw e;
          this.logger.log(`udp bind ${address}`, `rpc: cannot bind UDP ${address} port ${bound} (${(e as Error).message}); the wildcard socket answers it`);
        }
      }
    } catch (e) {
      await Promise.all(sockets.map((s) => s.close()));
      throw e;
    }
    return sockets;
  }

  private async bindUdp(host: string, port: number, reuseAddr: boolean): Promise<UdpServerSocket> {
    // A batched socket reads the next batch into the memory of this one: a call that runs on gets a copy.
    const borrowed = this.udpKind === 'native';
    const socket = await bindUdpSocket(
      this.udpKind,
      host,
      port,
      reuseAddr,
      (msg, from) => {
        const ctx: CallContext = { transport: 'udp', remote: endpoint(from.address, from.port, from.family), local: socket.local };
        const relayed = this.udpHandoff?.(msg, ctx);
        if (!relayed) return this.onDatagram(msg, ctx, (reply) => reply && this.sendDatagram(socket, reply, from), borrowed);
        relayed.then(
          (bytes) => bytes && this.sendDatagram(socket, { chunks: [bytes] }, from),
          (e: Error) => this.logger.log('udp handoff', `rpc: a UDP call from ${ctx.remote.address} was not answered: ${e.message}`),
        );
      },
      (e) => this.logger.log('udp error', `rpc: UDP socket error: ${e.message}`),
    );
    return socket;
  }

  private accept(socket: net.Socket): void {
    if (this.connections.size >= this.maxConnections && !this.makeRoom(socket)) return;
    const conn = new TcpConnection(this, socket, {
      transport: 'tcp',
      remote: endpoint(socket.remoteAddress, socket.remotePort, socket.remoteFamily),
      local: { address: endpoint(socket.localAddress, socket.localPort, undefined).address, port: socket.localPort ?? 0 },
    });
    this.connections.add(conn);
    socket.once('close', () => this.connections.delete(conn));
  }

  /**
   * At the connection limit, closes the connection idle the longest (no call
   * running or waiting), as Linux nfsd does, so that a host holding idle
   * connections open cannot lock new clients out until its connections time
   * out; a client whose idle connection is closed simply reconnects. Refuses
   * the newcomer only when every connection is busy.
   */
  private makeRoom(newcomer: net.Socket): boolean {
    let oldest: TcpConnection | undefined;
    for (const c of this.connections) {
      if (c.idleSince !== undefined && (oldest === undefined || c.idleSince < oldest.idleSince!)) oldest = c;
    }
    const who = `${newcomer.remoteAddress}:${newcomer.remotePort}`;
    if (!oldest) {
      this.logger.log('maxconn', `rpc: refused a TCP connection from ${who}: all ${this.maxConnections} connections (maxConnections) are busy`);
      newcomer.destroy();
      return false;
    }
    this.logger.log(
      'maxconn',
      `rpc: ${this.maxConnections} TCP connections (maxConnections) are open; closed the one idle longest, from ${oldest.remote}, to accept ${who}`,
    );
    this.connections.delete(oldest);
    oldest.destroy();
    return true;
  }

  /** @internal */
  get limits(): { maxRecordSize: number; maxInFlight: number; idleTimeoutMs: number } {
    return { maxRecordSize: this.maxRecordSize, maxInFlight: this.maxInFlight, idleTimeoutMs: this.idleTimeoutMs };
  }

  /** @internal */
  log(key: string, line: string): void {
    this.logger.log(key, line);
  }

  /** @internal Decides a record; replies the server answers itself come back at once. */
  decide(record: Buffer, ctx: CallContext): CallDecision {
    const d = this.dispatcher.decide(record, `${ctx.transport} ${ctx.remote.address}:${ctx.remote.port}`);
    if (d.kind === 'drop') this.logger.log(`drop ${ctx.remote.address}`, `rpc: dropped ${d.reason}`);
    return d;
  }

  /** @internal */
  invoke(d: Extract<CallDecision, { kind: 'call' }>, record: Buffer, ctx: CallContext, others?: number): RpcReplyOut | Promise<RpcReplyOut> {
    return this.dispatcher.invoke(d, record, ctx, others);
  }

  /**
   * Decides and runs one datagram's call; `send` is called once, with the reply or undefined for none.
   * A `borrowed` message is valid only until this returns: a call gets its own copy.
   */
  private onDatagram(msg: Buffer, ctx: CallContext, send: (reply: RpcReplyOut | undefined) => void, borrowed = false): void {
    const d = this.decide(msg, ctx);
    if (d.kind === 'drop') return send(undefined);
    if (d.kind === 'reply') return send(d.reply);
    let key: string | undefined;
    // Procedure 0 is NULL in every program: it does nothing, so a retransmission may run it again.
    if (this.drc.capacity > 0 && d.proc !== 0 && !this.idempotent.get(d.prog)?.get(d.vers)?.has(d.proc)) {
      key = drcKey(d.xid, ctx.remote.address, ctx.remote.port, d.prog, d.vers, d.proc, msg.subarray(d.argsOffset));
      const seen = this.drc.begin(key, Date.now());
      if (seen.kind === 'in-progress') return send(undefined);
      if (seen.kind === 'replay') return send({ chunks: [seen.reply] });
    }
    if (this.udpInFlight >= this.maxInFlightUdp) {
      if (key) this.drc.abandon(key);
      this.logger.log('udp busy', `rpc: dropped a UDP call from ${ctx.remote.address}: ${this.maxInFlightUdp} UDP calls are running`);
      return send(undefined);
    }
    this.udpInFlight++;
    const done = (reply: RpcReplyOut): void => {
      this.udpInFlight--;
      // A file that ended since the handler looked (truncated meanwhile): no reply; the client retransmits.
      if (reply.file && !fillReply(reply.file)) {
        if (key) this.drc.abandon(key);
        reply.onSent?.();
        return send(undefined);
      }
      if (key) this.drc.complete(key, reply.chunks, Date.now());
      send(reply);
    };
    const out = this.invoke(d, borrowed ? Buffer.from(msg) : msg, ctx);
    if (out instanceof Promise) void out.then(done);
    else done(out);
  }

  private sendDatagram(socket: UdpServerSocket, reply: RpcReplyOut, peer: UdpSender): void {
    let size = 0;
    for (const c of reply.chunks) size += c.length;
    if (size > MAX_UDP_PAYLOAD) {
      this.logger.log('udp size', `rpc: a ${size}-byte reply to ${peer.address} does not fit in a UDP datagram; dropped`);
      reply.onSent?.();
      return;
    }
    const onSent = reply.onSent;
    // Nothing to give back: a failed send surfaces as the socket's error (logged), and no completion callback is wired.
    if (!onSent) return socket.send(reply.chunks, size, peer);
    socket.send(reply.chunks, size, peer, (e) => {
      if (e) this.logger.log('udp send', `rpc: UDP reply to ${peer.address}:${peer.port} failed: ${e.message}`);
      onSent();
    });
  }
}

/**
 * One TCP connection: record reassembly, a bound on calls in flight (reading
 * stops at the bound and resumes below it, and while more than
 * SEND_BACKLOG_MAX bytes of replies wait for the kernel's send buffer),
 * replies written in completion order, and an idle timer.
 */
class TcpConnection {
  private readonly decoder: RecordDecoder;
  private readonly waiting: Buffer[] = objectArray();
  private inFlight = 0;
  private draining = false;
  private paused = false;
  private corked = false;
  private batched = 0;
  private batchedBytes = 0;
  private closed = false;
  private peerEnded = false;
  private readonly idle: NodeJS.Timeout;
  private lastActive = Date.now();
  /** With a ReplySender: the socket's fd, and the replies of this tick waiting to go out in one send. */
  private readonly fd: number | undefined;
  private readonly out: Uint8Array[] = objectArray();
  /** Per reply waiting: the index in `out` after its last buffer, and what to call once it is sent. */
  private readonly outEnds: number[] = [];
  private readonly outSent: ((() => void) | undefined)[] = objectArray();
  private outBytes = 0;
  /** The file bytes that follow the last reply in `out` (see ReplyFile), sent by the next flush. */
  private outFile: ReplyFile | undefined;
  private flushQueued = false;
  /** The socket's SO_RCVLOWAT as last set (see LOW_WATER_MIN). */
  private lowWater = 1;
  private readonly flushTick = () => {
    this.flushQueued = false;
    this.flush();
  };

  constructor(
    private readonly server: RpcServer,
    private readonly socket: net.Socket,
    private readonly ctx: CallContext,
  ) {
    const { maxRecordSize, idleTimeoutMs } = server.limits;
    const records = server.records;
    this.decoder = new RecordDecoder(
      maxRecordSize,
      (n, fragment) =>
        n <= POOLED_RECORD_MIN ? Buffer.allocUnsafe(n) : !fragment || records.lentCount < POOLED_RECORDS_MAX ? records.take(n) : undefined,
      (b) => records.give(b),
    );
    this.idle = setTimeout(() => this.onIdle(), idleTimeoutMs);
    this.idle.unref();
    this.fd = server.replySender?.fdOf(socket);
    const scratch = server.scratch;
    // A 1 MiB call is read from the kernel straight into its record's buffer instead of arriving as 16 or more
    // 64 KiB buffers Node allocates per read (whose garbage collection took a third of the server's time under
    // WRITEs) and being joined.
    const inPlace = readInto(socket, () => this.decoder.target(scratch), (n, into) => {
      this.onData(into, n);
      return true;
    });
    if (!inPlace) socket.on('data', (chunk: Buffer) => this.onData(chunk, -1));
    socket.resume();
    socket.on('drain', () => {
      this.draining = false;
      this.pump();
    });
    socket.on('error', () => {
      // A reset peer; 'close' follows.
    });
    socket.once('end', () => {
      this.peerEnded = true;
      this.finishIfDone();
    });
    socket.once('close', () => {
      this.closed = true;
      clearTimeout(this.idle);
      // Records no call will run: their pooled buffers go back.
      this.decoder.discard();
      for (const r of this.waiting.splice(0)) records.give(r);
      this.dropOut();
    });
  }

  /** When the connection last carried traffic, if no call is running or waiting (it may be closed for a newcomer). */
  get idleSince(): number | undefined {
    return this.inFlight === 0 && this.waiting.length === 0 && !this.draining ? this.lastActive : undefined;
  }

  get remote(): string {
    return `${this.ctx.remote.address}:${this.ctx.remote.port}`;
  }

  destroy(): void {
    this.closed = true;
    clearTimeout(this.idle);
    this.dropOut();
    this.socket.destroy();
  }

  private onIdle(): void {
    if (this.closed) return;
    if (this.inFlight > 0 || this.waiting.length > 0) {
      this.idle.refresh();
      return;
    }
    this.destroy();
  }

  /** `n` bytes read into `chunk` (what the decoder's target() named), or with n < 0 a chunk of the socket's own. */
  private onData(chunk: Buffer, n: number): void {
    if (this.closed) return;
    this.idle.refresh();
    this.lastActive = Date.now();
    let records: Buffer[];
    try {
      records = n < 0 ? this.decoder.push(chunk) : this.decoder.wrote(chunk, n);
    } catch (e) {
      const why = e instanceof XdrError ? e.message : String(e);
      this.server.log(`record ${this.ctx.remote.address}`, `rpc: closing TCP connection from ${this.ctx.remote.address}:${this.ctx.remote.port}: ${why}`);
      this.destroy();
      return;
    }
    for (const r of records) this.waiting.push(r);
    this.setLowWater();
    this.pump();
  }

  /** The socket wakes this reader when the rest of a large fragment is there (LOW_WATER_MIN), else for any byte. */
  private setLowWater(): void {
    const sender = this.server.replySender;
    if (!sender?.receiveLowWater || this.fd === undefined) return;
    const missing = this.decoder.missing;
    const want = missing > LOW_WATER_MIN ? missing : 1;
    if (want === this.lowWater) return;
    this.lowWater = want;
    try {
      sender.receiveLowWater(this.fd, want);
    } catch {
      // A socket gone already: its close follows. One that refuses the option wakes as before.
    }
  }

  private pump(): void {
    const { maxInFlight } = this.server.limits;
    // Calls already read wait too while replies wait for the kernel: one socket read holds hundreds of
    // small calls, each of which may answer with a megabyte.
    while (!this.closed && !this.draining && this.inFlight < maxInFlight && this.waiting.length > 0) {
      this.start(this.waiting.shift()!);
    }
    this.updateFlow();
    this.finishIfDone();
  }

  /** Once the peer has stopped sending and every call is answered, our side ends too. */
  private finishIfDone(): void {
    if (this.peerEnded && !this.closed && this.inFlight === 0 && this.waiting.length === 0) {
      this.flush();
      if (!this.closed) this.socket.end();
    }
  }

  private start(record: Buffer): void {
    const d = this.server.decide(record, this.ctx);
    if (d.kind === 'drop') {
      this.server.records.give(record);
      return;
    }
    if (d.kind === 'reply') {
      this.write(d.reply, record);
      return;
    }
    this.inFlight++;
    const out = this.server.invoke(d, record, this.ctx, this.inFlight - 1 + this.waiting.length);
    if (out instanceof Promise) {
      void out.then((reply) => {
        this.inFlight--;
        this.write(reply, record);
        this.pump();
      });
    } else {
      this.inFlight--;
      this.write(out, record);
    }
  }

  /** Writes the reply to `record`; a pooled record goes back once the reply is out, in case the reply views it. */
  private write(reply: RpcReplyOut, record: Buffer): void {
    const records = this.server.records;
    const onSent = records.isLent(record)
      ? () => {
          reply.onSent?.();
          records.give(record);
        }
      : reply.onSent;
    if (this.closed) {
      onSent?.();
      return;
    }
    const chunks = reply.chunks;
    let size = 0;
    for (const c of chunks) size += c.length;
    let mark: Buffer;
    try {
      mark = recordMark(size);
    } catch (e) {
      this.server.log('tcp size', `rpc: cannot send a ${size}-byte reply to ${this.ctx.remote.address}: ${(e as Error).message}`);
      onSent?.();
      this.destroy();
      return;
    }
    const head = chunks[0];
    let parts: Uint8Array[] = chunks;
    if ((reply.headroom ?? 0) >= 4 && head.byteOffset >= 4) {
      // The mark goes into the room in front of the reply: one buffer fewer.
      const framed = Buffer.from(head.buffer, head.byteOffset - 4, 4 + head.length);
      mark.copy(framed, 0);
      parts = chunks.length === 1 ? [framed] : [framed, ...chunks.slice(1)];
    } else parts = [mark, ...chunks];
    const file = reply.file;
    if (file && this.fd !== undefined && this.server.replySender!.sendFile && parts.length <= SEND_BUFFERS_MAX && endsWith(parts[parts.length - 1], file.into)) {
      // Its head waits with the others of this turn; the file's bytes follow it in the same flush.
      const last = parts[parts.length - 1];
      parts = parts === chunks ? chunks.slice() : parts;
      parts[parts.length - 1] = last.subarray(0, last.length - file.into.length);
      this.enqueue(parts, size - file.into.length, onSent, file);
    } else if (file && !fillReply(file)) {
      onSent?.();
      this.fileEnded();
      return;
    } else if (this.fd !== undefined && parts.length <= SEND_BUFFERS_MAX) this.enqueue(parts, size, onSent);
    else {
      this.flush();
      if (!this.closed) this.writeToStream(parts, onSent);
    }
    this.idle.refresh();
    this.lastActive = Date.now();
  }

  /**
   * Through the stream: replies that complete in the same tick (many calls in flight) leave together
   * (see REPLIES_PER_WRITE).
   */
  private writeToStream(parts: Uint8Array[], onSent: (() => void) | undefined): void {
    const s = this.socket;
    if (!this.corked) {
      this.corked = true;
      s.cork();
      process.nextTick(() => {
        if (!this.corked) return;
        this.corked = false;
        this.batched = 0;
        this.batchedBytes = 0;
        s.uncork();
      });
    }
    const last = parts.length - 1;
    for (let i = 0; i < last; i++) {
      this.batchedBytes += parts[i].length;
      s.write(parts[i]);
    }
    this.batchedBytes += parts[last].length;
    s.write(parts[last], onSent && (() => onSent()));
    this.finishWrite();
  }

  /**
   * With a ReplySender: the reply waits for the others of this tick, up to the same limits as corked
   * stream writes (REPLIES_PER_WRITE, BATCH_BYTES), then they leave in one send.
   */
  private enqueue(parts: Uint8Array[], size: number, onSent: (() => void) | undefined, file?: ReplyFile): void {
    if (this.out.length + parts.length > SEND_BUFFERS_MAX) this.flush();
    for (const p of parts) this.out.push(p);
    this.outEnds.push(this.out.length);
    this.outSent.push(onSent);
    this.outBytes += size + 4;
    // A reply with file bytes leaves at once: the file's descriptor is the handler's only for this turn.
    this.outFile = file;
    if (file || this.outEnds.length >= REPLIES_PER_WRITE || this.outBytes >= BATCH_BYTES) this.flush();
    else if (!this.flushQueued) {
      this.flushQueued = true;
      process.nextTick(this.flushTick);
    }
  }

  /**
   * Sends the replies waiting in `out`: straight to the socket while its stream has nothing queued (else
   * the bytes would overtake it), and what the kernel did not take through the stream, which waits for
   * room. A reply sent whole is done at once; the others when the stream has written their last byte.
   */
  private flush(): void {
    const out = this.out;
    const replies = this.outEnds.length;
    if (replies === 0 || this.closed) return;
    const s = this.socket;
    const file = this.outFile;
    this.outFile = undefined;
    const sender = this.server.replySender!;
    let sent = 0;
    if (s.writableLength === 0) {
      try {
        sent = Math.max(0, file ? sender.sendFile!(this.fd!, out, out.length, file.fd, file.position, file.into.length) : sender.send(this.fd!, out, out.length));
      } catch (e) {
        // The peer is gone (EPIPE, ECONNRESET): the socket says so too; nothing more goes to it.
        this.destroy();
        return;
      }
    }
    let corked = false;
    let at = 0;
    for (let r = 0; r < replies; r++) {
      const end = this.outEnds[r];
      // The last reply's file bytes follow its buffers: it is done once they are.
      const onSent = file && r === replies - 1 ? undefined : this.outSent[r];
      for (; at < end; at++) {
        const b = out[at];
        if (sent >= b.length) {
          sent -= b.length;
          if (at === end - 1) onSent?.();
          continue;
        }
        if (!corked) {
          corked = true;
          s.cork();
        }
        const rest = sent > 0 ? b.subarray(sent) : b;
        sent = 0;
        if (at === end - 1 && onSent) s.write(rest, () => onSent());
        else s.write(rest);
      }
    }
    const fileSent = this.outSent[replies - 1];
    out.length = 0;
    this.outEnds.length = 0;
    this.outSent.length = 0;
    this.outBytes = 0;
    if (file) {
      // `sent` is what the socket took of the file's bytes. The rest is read in and queued behind the rest.
      if (sent < file.into.length) {
        if (!fillReply(file, sent)) {
          if (corked) s.uncork();
          fileSent?.();
          this.fileEnded();
          return;
        }
        if (!corked) {
          corked = true;
          s.cork();
        }
        const rest = file.into.subarray(sent);
        if (fileSent) s.write(rest, () => fileSent());
        else s.write(rest);
      } else fileSent?.();
    }
    if (corked) {
      s.uncork();
      this.checkBacklog();
    }
  }

  /**
   * A reply's file ended before its promised bytes were read (truncated since its handler looked): part of
   * its record may be on the wire already, and the rest cannot be what its head announced. The connection
   * closes; the client retries the call on a new one and is answered from the file as it is now.
   */
  private fileEnded(): void {
    this.server.log(`file ${this.ctx.remote.address}`, `rpc: closing TCP connection from ${this.remote}: a file a reply was sending ended first (truncated meanwhile); the client retries`);
    this.destroy();
  }

  /** Replies that will not be sent (the connection closed): their buffers go back. */
  private dropOut(): void {
    this.outFile = undefined;
    const sent = this.outSent.splice(0);
    this.out.length = 0;
    this.outEnds.length = 0;
    this.outBytes = 0;
    for (const onSent of sent) onSent?.();
  }

  /** After a reply's last write to the stream: the batch limits and back-pressure. */
  private finishWrite(): void {
    if (++this.batched >= REPLIES_PER_WRITE || this.batchedBytes >= BATCH_BYTES) {
      this.corked = false;
      this.batched = 0;
      this.batchedBytes = 0;
      this.socket.uncork();
    }
    this.checkBacklog();
  }

  private checkBacklog(): void {
    const s = this.socket;
    // What the kernel has not taken yet, corked replies included. Past Node's high-water mark the stream
    // has asked for 'drain' already (write() said false), so 'drain' ends the wait.
    if (s.writableLength >= Math.max(SEND_BACKLOG_MAX, s.writableHighWaterMark)) this.draining = true;
  }

  private updateFlow(): void {
    if (this.closed) return;
    const stop = this.draining || this.inFlight >= this.server.limits.maxInFlight || this.waiting.length > 0;
    if (stop && !this.paused) {
      this.paused = true;
      this.socket.pause();
    } else if (!stop && this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }
}
