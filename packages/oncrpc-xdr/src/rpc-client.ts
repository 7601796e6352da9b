import dgram from 'node:dgram';
import net from 'node:net';
import { AUTH_NONE_CREDENTIAL, credentialToOpaqueAuth, type Credential } from './credential.js';
import { AUTH_NONE_AUTH, type OpaqueAuth } from './opaque-auth.js';
import { AcceptStat, MsgType, RejectStat, ReplyStat, RPC_VERSION } from './rpc-constants.js';
import { RpcAcceptError, RpcConnectionError, RpcDeniedError, RpcTimeoutError } from './rpc-errors.js';
import { decodeRpcMessage, encodeRpcMessage } from './rpc-message.js';
import { recordMark, RecordDecoder } from './record-marking.js';
import { XdrError } from './xdr-error.js';
import { XdrReader } from './xdr-reader.js';
import { XidAllocator } from './xid-allocator.js';

export interface RpcClientOptions {
  host: string;
  port: number;
  transport: 'udp' | 'tcp';
  /** Time limit of one call, retransmissions included (default 10 s). */
  timeoutMs?: number;
  /** UDP: first retransmission after this long, doubling each time (default 500 ms). */
  retransmitMs?: number;
  /** UDP: retransmissions per call at most (default 5). */
  retries?: number;
  /** Bind a source port in 600..1023 when running as root, as servers with `secure` exports require. */
  reservedPort?: boolean;
  /** Source address to bind (a loopback alias such as 127.0.0.2: servers tell clients apart by address). */
  localAddress?: string;
  /** Credential of every call unless a call gives its own (default AUTH_NONE). */
  cred?: Credential;
  /** Largest TCP reply record accepted (default 1 MiB + 64 KiB). */
  maxRecordSize?: number;
}

export interface RpcCallOptions {
  cred?: Credential;
  timeoutMs?: number;
}

interface Pending {
  resolve(r: XdrReader): void;
  reject(e: Error): void;
  /** One timer per call: over UDP it retransmits, and the last one it arms ends the call at its deadline. */
  timer: NodeJS.Timeout | undefined;
  deadlineAt: number;
  timeoutMs: number;
}

const RESERVED_LOW = 600;
const RESERVED_HIGH = 1023;
const RESERVED_ATTEMPTS = 8;

function reservedPortCandidate(): number {
  return RESERVED_LOW + Math.floor(Math.random() * (RESERVED_HIGH - RESERVED_LOW + 1));
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

function isPortTaken(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException)?.code;
  return code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' || code === 'EACCES';
}

/**
 * An ONC RPC client for one server: UDP with retransmission and exponential
 * backoff, or one TCP connection with record marking and any number of
 * calls in flight, matched to replies by xid. A closed TCP connection is not
 * reopened: calls on it fail with RpcConnectionError.
 */
export class RpcClient {
  private readonly pending = new Map<number, Pending>();
  private readonly xids = new XidAllocator();
  private readonly target: string;
  private readonly defaultCred: OpaqueAuth;
  private closed = false;
  private corked = false;

  private constructor(
    private readonly opts: RpcClientOptions,
    private readonly udp: dgram.Socket | undefined,
    private readonly tcp: net.Socket | undefined,
    reader?: TcpRecordReader,
  ) {
    this.target = `${opts.transport}://${opts.host}:${opts.port}`;
    this.defaultCred = credentialToOpaqueAuth(opts.cred ?? AUTH_NONE_CREDENTIAL);
    if (udp) {
      udp.on('message', (msg) => this.onReply(msg));
      udp.on('error', (e) => this.failAll(RpcConnectionError.from(this.target, e)));
    }
    if (tcp && reader) {
      reader.onRecord = (r) => this.onReply(r);
      reader.onError = (e) => {
        this.failAll(e);
        tcp.destroy();
      };
      tcp.on('error', (e) => this.failAll(RpcConnectionError.from(this.target, e)));
      tcp.on('close', () => {
        this.closed = true;
        this.failAll(new RpcConnectionError(`${this.target}: the connection closed`));
      });
    }
  }

  static async connect(opts: RpcClientOptions): Promise<RpcClient> {
    const reserved = opts.reservedPort === true && isRoot();
    if (opts.transport === 'udp') return new RpcClient(opts, await openUdp(opts, reserved), undefined);
    if (opts.transport === 'tcp') {
      const reader = new TcpRecordReader(opts.maxRecordSize ?? 1024 * 1024 + 64 * 1024);
      return new RpcClient(opts, undefined, await openTcp(opts, reserved, reader), reader);
    }
    throw new Error(`RpcClient: transport must be 'udp' or 'tcp', not ${String(opts.transport)}`);
  }

  /** The local port the client sends from. */
  get localPort(): number {
    return this.udp ? this.udp.address().port : (this.tcp?.localPort ?? 0);
  }

  /**
   * Calls prog/vers/proc with already-encoded arguments. Resolves with a
   * reader positioned at the results; rejects with RpcAcceptError,
   * RpcDeniedError, RpcTimeoutError, RpcConnectionError or XdrError (a
   * malformed reply).
   */
  call(
    prog: number,
    vers: number,
    proc: number,
    args: Uint8Array | Uint8Array[] = [],
    opts: RpcCallOptions = {},
  ): Promise<XdrReader> {
    if (this.closed) return Promise.reject(new RpcConnectionError(`${this.target}: the client is closed`));
    const xid = this.xids.allocate(this.pending);
    const header = encodeRpcMessage({
      type: MsgType.CALL,
      xid,
      rpcvers: RPC_VERSION,
      prog,
      vers,
      proc,
      cred: opts.cred ? credentialToOpaqueAuth(opts.cred) : this.defaultCred,
      verf: AUTH_NONE_AUTH,
    });
    const chunks = [header, ...(Array.isArray(args) ? args : [args])];
    const timeoutMs = opts.timeoutMs ?? this.opts.timeoutMs ?? 10_000;
    return new Promise<XdrReader>((resolve, reject) => {
      const p: Pending = { resolve, reject, timer: undefined, deadlineAt: performance.now() + timeoutMs, timeoutMs };
      this.pending.set(xid, p);
      if (this.udp) {
        this.sendUdp(xid, chunks, this.opts.retransmitMs ?? 500, this.opts.retries ?? 5);
      } else {
        p.timer = setTimeout(() => this.expire(xid), timeoutMs);
        const s = this.tcp!;
        let size = 0;
        for (const c of chunks) size += c.length;
        if (!this.corked) {
          // Calls made in the same tick leave in one writev.
          this.corked = true;
          s.cork();
          process.nextTick(() => {
            this.corked = false;
            s.uncork();
          });
        }
        s.write(recordMark(size));
        for (const c of chunks) s.write(c);
      }
    });
  }

  /** Closes the socket; calls still waiting fail with RpcConnectionError. */
  close(): void {
    if (this.udp && !this.closed) this.udp.close();
    this.closed = true;
    this.tcp?.destroy();
    this.failAll(new RpcConnectionError(`${this.target}: the client was closed`));
  }

  private sendUdp(xid: number, chunks: Uint8Array[], wait: number, retriesLeft: number): void {
    const p = this.pending.get(xid);
    if (!p || this.closed) return;
    this.udp!.send(chunks, (e) => {
      // Only this call fails (e.g. EMSGSIZE for arguments too big for a datagram).
      if (e) this.settle(xid)?.reject(RpcConnectionError.from(this.target, e));
    });
    const left = p.deadlineAt - performance.now();
    if (retriesLeft > 0 && wait < left) p.timer = setTimeout(() => this.sendUdp(xid, chunks, wait * 2, retriesLeft - 1), wait);
    else p.timer = setTimeout(() => this.expire(xid), Math.max(0, left));
  }

  private expire(xid: number): void {
    const p = this.settle(xid);
    p?.reject(new RpcTimeoutError(xid, p.timeoutMs, this.target));
  }

  private settle(xid: number): Pending | undefined {
    const p = this.pending.get(xid);
    if (!p) return undefined;
    this.pending.delete(xid);
    clearTimeout(p.timer);
    return p;
  }

  private failAll(e: Error): void {
    for (const xid of [...this.pending.keys()]) this.settle(xid)?.reject(e);
  }

  private onReply(buf: Buffer): void {
    if (buf.length < 4) return;
    const xid = buf.readUInt32BE(0);
    if (!this.pending.has(xid)) return; // a late duplicate of an answered call
    let decoded;
    try {
      decoded = decodeRpcMessage(buf);
    } catch (e) {
      if (e instanceof XdrError) this.settle(xid)!.reject(e);
      return;
    }
    const { msg, bodyOffset } = decoded;
    if (msg.type !== MsgType.REPLY) return;
    const p = this.settle(xid)!;
    if (msg.replyStat === ReplyStat.MSG_ACCEPTED) {
      const a = msg.accepted;
      if (a.stat === AcceptStat.SUCCESS) p.resolve(new XdrReader(buf, bodyOffset));
      else if (a.stat === AcceptStat.PROG_MISMATCH) p.reject(new RpcAcceptError(a.stat, a.low, a.high));
      else p.reject(new RpcAcceptError(a.stat));
    } else {
      const j = msg.rejected;
      if (j.stat === RejectStat.RPC_MISMATCH) p.reject(new RpcDeniedError(j.stat, undefined, j.low, j.high));
      else p.reject(new RpcDeniedError(j.stat, j.why));
    }
  }
}

async function openUdp(opts: RpcClientOptions, reserved: boolean): Promise<dgram.Socket> {
  const type = net.isIPv6(opts.host) ? 'udp6' : 'udp4';
  for (let attempt = 1; ; attempt++) {
    const socket = dgram.createSocket({ type });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind({ port: reserved ? reservedPortCandidate() : 0, ...(opts.localAddress ? { address: opts.localAddress } : {}) }, () => {
          socket.connect(opts.port, opts.host, () => {
            socket.off('error', reject);
            resolve();
          });
        });
      });
      return socket;
    } catch (e) {
      socket.close();
      if (reserved && isPortTaken(e) && attempt < RESERVED_ATTEMPTS) continue;
      throw e;
    }
  }
}

/**
 * Replies off a TCP connection through net.Socket's `onread`: the socket
 * reads into a buffer the decoder names (RecordDecoder.target), so the body
 * of a large reply, a 1 MiB READ, goes from the kernel straight into the
 * buffer the caller gets, in reads as large as what is missing, with no
 * 64 KiB chunks to allocate and join.
 */
class TcpRecordReader {
  private readonly decoder: RecordDecoder;
  private readonly scratch = Buffer.allocUnsafe(64 * 1024);
  onRecord: (record: Buffer) => void = () => {};
  onError: (e: Error) => void = () => {};

  constructor(maxRecordSize: number) {
    this.decoder = new RecordDecoder(maxRecordSize);
  }

  readonly onread = {
    buffer: (): Buffer => this.decoder.target(this.scratch),
    /** Returns true: keep reading (false would pause the socket). */
    callback: (n: number, into: Uint8Array): boolean => {
      let records: Buffer[];
      try {
        records = this.decoder.wrote(into as Buffer, n);
      } catch (e) {
        this.onError(e as Error);
        return true;
      }
      for (const r of records) this.onRecord(r);
      return true;
    },
  };
}

async function openTcp(opts: RpcClientOptions, reserved: boolean, reader: TcpRecordReader): Promise<net.Socket> {
  for (let attempt = 1; ; attempt++) {
    const socket = net.connect({
      host: opts.host,
      port: opts.port,
      noDelay: true,
      onread: reader.onread,
      ...(reserved ? { localPort: reservedPortCandidate() } : {}),
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
    });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.once('connect', () => {
          socket.off('error', reject);
          resolve();
        });
      });
      return socket;
    } catch (e) {
      socket.destroy();
      if (reserved && isPortTaken(e) && attempt < RESERVED_ATTEMPTS) continue;
      throw RpcConnectionError.from(`tcp://${opts.host}:${opts.port}`, e as Error);
    }
  }
}
