import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { closeSync } from 'node:fs';
import { native, socketFd } from '@netboot/platform';
import { printable } from '@netboot/log-text';
import { ServedRoot, type OpenedFile, type Remap } from '@netboot/tftp-wire';
import { combinedLogLine } from './access-log.js';
import { bodyMode, flushed, sendBody, type BodyMode, type BodyResult } from './body.js';
import { Connection, type ConnectionLimits, type RequestSink } from './connection.js';
import { parseRange } from './range.js';
import type { RequestHead, RequestHeadError } from './request-head.js';
import { requestedName } from './request-path.js';
import { OpenFiles, type HeldFile } from './open-files.js';
import { FileHeads, headEnd, refusalHead, type FileStat } from './response-head.js';

export type LogLevel = 'debug' | 'info' | 'warning';

export interface HttpBootServerOptions {
  /** The directory served (the TFTP root); every name resolves inside it. */
  root: string;
  address?: string;
  /** TCP port; 0 picks a free one. */
  port?: number;
  /** tftp-hpa remap rules, applied to each request's name as to a TFTP RRQ. */
  remap?: Remap;
  /** One combined-log-format line per response. */
  accessLog?: (line: string) => void;
  log?: (level: LogLevel, message: string) => void;
  /** Idle keep-alive connections are closed after this long (ms). */
  keepAliveTimeoutMs?: number;
  /** A response whose client takes no byte for this long is dropped (ms). */
  idleTimeoutMs?: number;
  /** A request head must be complete this long after its first byte (the connection's start, for the first), else 408 (ms). */
  headersTimeoutMs?: number;
  maxConnections?: number;
  /** Told of each request as it starts and as its response ends (boot monitoring). */
  onExchange?: (e: HttpExchange) => void;
  /**
   * How file bodies are sent: 'sendfile' (the default with @netboot/platform
   * loaded) or 'reads' into reused 1 MiB buffers (the default without it;
   * 'sendfile' then falls back to it).
   */
  bodies?: BodyMode;
}

/** One request as boot monitoring sees it: at its start, and at its end with what was sent. */
export type HttpExchange =
  | { phase: 'request'; client: string; method: string; target: string }
  | {
      phase: 'done';
      client: string;
      method: string;
      target: string;
      status: number;
      /** Body bytes sent. */
      bytes: number;
      seconds: number;
      /** False when the client went away before the body was sent in full. */
      complete: boolean;
      /**
       * Body bytes the page cache lacked, read into it on libuv's pool before
       * they were sent, so the event loop never waited for the disk (sendfile
       * bodies; 0 for bodies sent by reads, which all read on the pool).
       */
      uncached: number;
    };

/** Strips the IPv4-mapped prefix so logs and remap rules see 198.18.1.10, not ::ffff:198.18.1.10. */
function clientAddress(socket: Socket): string {
  return (socket.remoteAddress ?? '-').replace(/^::ffff:(?=\d+\.)/, '');
}

interface Outcome {
  status: number;
  bytes: number;
  /** False when the connection closed before the whole response left. */
  complete: boolean;
  uncached?: number;
}

const ONLY_SLASHES = /^\/+$/;

/**
 * The send buffer every connection gets from the listening socket (the
 * kernel doubles it: 1 MiB), fixed instead of grown by the kernel (to
 * net.ipv4.tcp_wmem's 4 MiB here). Bytes a connection has queued but not
 * sent go out when the client's acknowledgements open the window, within
 * the client's receive call: on loopback that call then pays for the
 * sending and for delivering the bytes to itself. A buffer that holds
 * little more than what is in flight keeps that work in this server's
 * own send calls. The curls' CPU per GiB sent fell by a fifth to a half,
 * theirs and the server's together by a fifth to a third (bench/http-read.js,
 * one and eight at once). 1 MiB in flight still fills 10 Gbit/s at a 0.8 ms
 * round trip.
 */
const SEND_BUFFER = 512 * 1024;

/** Methods this server knows and refuses with 405; any other is not implemented (501). */
const KNOWN_METHODS = new Set(['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT']);

/**
 * Serves a boot-file root read-only over HTTP/1.1: GET and HEAD, one byte
 * range, keep-alive and pipelining, no directory listing. Requests are read
 * by this package's own strict decoder on plain TCP sockets (boot clients
 * send short, plain heads; a general-purpose HTTP stack's per-request work
 * cost several times the file's). The names go through the same remap rules
 * and secure-root resolution as the TFTP server's, so a file is reachable
 * over HTTP exactly when it is over TFTP.
 */
export class HttpBootServer implements RequestSink {
  private readonly server: Server;
  private readonly connections = new Set<Connection>();
  private readonly heads = new FileHeads();
  private readonly files = new OpenFiles();
  private readonly limits: ConnectionLimits;
  private sweeper: NodeJS.Timeout | undefined;
  private root: ServedRoot | undefined;
  private remap: Remap | undefined;
  private shuttingDown = false;
  /** How file bodies are sent: sendfile with @netboot/platform, pooled reads without. */
  readonly bodies: BodyMode;
  /** Each connection's send buffer (bytes, as the kernel reports it) once listening; undefined where the kernel's own sizing is left (no platform module). */
  sendBuffer: number | undefined;

  constructor(private readonly opts: HttpBootServerOptions) {
    this.remap = opts.remap;
    this.bodies = opts.bodies === 'reads' ? 'reads' : bodyMode();
    // Headers must arrive within 10 s, so a client that trickles a request (slowloris) holds its socket for seconds, not a minute.
    this.limits = { keepAlive: opts.keepAliveTimeoutMs ?? 5000, headers: opts.headersTimeoutMs ?? 10_000, idle: opts.idleTimeoutMs ?? 60_000 };
    // Half-open: a client may send its requests and its FIN at once, and still be answered.
    // Paused: a connection starts reading once it has chosen into what (see Connection).
    this.server = createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (socket) => this.accept(socket));
    this.server.maxConnections = opts.maxConnections ?? 1024;
  }

  /** New remap rules (SIGHUP) for requests from now on. */
  setRemap(remap: Remap | undefined): void {
    this.remap = remap;
  }

  async listen(): Promise<{ address: string; port: number }> {
    this.root = await ServedRoot.start(this.opts.root, (message) => this.log('warning', message));
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port ?? 80, this.opts.address, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    // Before the first accept: every connection inherits it. A runtime that hides the listener's
    // descriptor leaves the kernel's sizing, which serves as well, only at more of the clients' CPU.
    if (native) {
      try {
        this.sendBuffer = native.setSendBuffer(socketFd(this.server), SEND_BUFFER);
      } catch (err) {
        this.log('warning', `the kernel sizes each connection's send buffer: ${(err as Error).message}`);
      }
    }
    // The time limits are checked a few times within the shortest of them, at most once a second.
    const every = Math.max(50, Math.min(1000, Math.floor(Math.min(this.limits.keepAlive, this.limits.headers, this.limits.idle) / 4)));
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const c of this.connections) c.check(now, this.limits);
      this.files.sweep(now);
    }, every);
    this.sweeper.unref();
    const a = this.server.address() as AddressInfo;
    return { address: a.address, port: a.port };
  }

  /** Stops accepting; idle connections close at once, responses under way get `graceMs` to finish. */
  async close(graceMs = 2000): Promise<void> {
    if (!this.server.listening) return;
    this.shuttingDown = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.connections) {
      if (c.idle) c.socket.destroy();
      else c.closing = true;
    }
    const timer = setTimeout(() => {
      for (const c of this.connections) c.socket.destroy();
    }, graceMs);
    await closed;
    clearTimeout(timer);
    clearInterval(this.sweeper);
    this.files.close();
    this.root?.close();
    this.root = undefined;
  }

  private accept(socket: Socket): void {
    if (this.shuttingDown) {
      socket.destroy();
      return;
    }
    const conn = new Connection(socket, clientAddress(socket), this, Date.now());
    this.connections.add(conn);
    socket.once('close', () => this.connections.delete(conn));
  }

  /** Messages carry request targets, which are bytes a client chose (read as Latin-1: 0x9b is a C1 CSI). */
  private log(level: LogLevel, message: string): void {
    this.opts.log?.(level, printable(message));
  }

  /** The Date and Connection fields and the empty line that end every head. */
  private tail(conn: Connection, head: RequestHead | undefined, at: number): string {
    if (conn.closing) return headEnd(at, 'close');
    // HTTP/1.0 keeps the connection only when asked to, and is told it was.
    return headEnd(at, head?.minor === 0 ? 'keep-alive' : 'plain');
  }

  refuse(conn: Connection, err: RequestHeadError): void {
    this.log('debug', `bad request from ${conn.client}: ${err.message}`);
    const text = `${err.message}\n`;
    conn.socket.write(refusalHead(err.status, text, '') + this.tail(conn, undefined, Date.now()) + text, 'latin1');
  }

  timedOut(conn: Connection): void {
    this.log('debug', `request head from ${conn.client} not complete within ${this.limits.headers / 1000} s`);
    const text = 'Request Timeout\n';
    conn.socket.write(refusalHead(408, text, '') + this.tail(conn, undefined, Date.now()) + text, 'latin1');
  }

  /**
   * Answers one request. A file the page cache holds is answered within
   * this call, without a promise (the open, fstat, read and write are all
   * calls that do not wait); anything that waits (a body too big for one
   * write, a full socket, a name realpath must check) returns a promise.
   */
  answer(conn: Connection, head: RequestHead): Promise<void> | undefined {
    const at = Date.now();
    // This server reads no request body: the connection ends after the answer instead of reading past one.
    if (head.close || head.hasBody || this.shuttingDown) conn.closing = true;
    this.opts.onExchange?.({ phase: 'request', client: conn.client, method: head.method, target: head.target });
    let outcome: Outcome | Promise<Outcome>;
    try {
      outcome = this.respond(conn, head, at);
    } catch (err) {
      outcome = this.failed(conn, head, err);
    }
    if (!(outcome instanceof Promise)) {
      this.done(conn, head, at, outcome);
      return undefined;
    }
    return outcome.then(
      (o) => this.done(conn, head, at, o),
      (err: unknown) => this.done(conn, head, at, this.failed(conn, head, err)),
    );
  }

  private failed(conn: Connection, head: RequestHead, err: unknown): Outcome {
    this.log('warning', `${head.method} ${head.target} from ${conn.client}: ${(err as Error).message}`);
    // Whatever was sent of a response, the client cannot tell where it ends now.
    conn.socket.destroy();
    return { status: 500, bytes: 0, complete: false };
  }

  /** Tells of a finished exchange: boot monitoring's event and the access log line. */
  private done(conn: Connection, head: RequestHead, at: number, outcome: Outcome): void {
    const { method, target } = head;
    if (!outcome.complete) this.log('debug', `${conn.client} went away before ${target} was sent in full`);
    this.opts.onExchange?.({
      phase: 'done',
      client: conn.client,
      method,
      target,
      status: outcome.status,
      bytes: outcome.bytes,
      seconds: (Date.now() - at) / 1000,
      complete: outcome.complete,
      uncached: outcome.uncached ?? 0,
    });
    this.opts.accessLog?.(
      combinedLogLine({
        client: conn.client,
        at,
        method,
        target,
        httpVersion: head.minor === 0 ? '1.0' : '1.1',
        status: outcome.status,
        bytes: outcome.bytes,
        referer: head.referer,
        userAgent: head.userAgent,
      }),
    );
  }

  /** Writes `message` and tells, at once where the kernel took it whole, whether all of it left. */
  private sent(conn: Connection, message: string, status: number, bytes: number, encoding: BufferEncoding): Outcome | Promise<Outcome> {
    conn.socket.write(message, encoding);
    const out = flushed(conn.socket);
    if (out === true) return { status, bytes, complete: true };
    return out.then((complete) => ({ status, bytes: complete ? bytes : 0, complete }));
  }

  private refusal(conn: Connection, head: RequestHead, at: number, status: number, text: string, extra = ''): Outcome | Promise<Outcome> {
    const body = `${text}\n`;
    const bytes = head.method === 'HEAD' ? 0 : Buffer.byteLength(body);
    const message = refusalHead(status, body, extra) + this.tail(conn, head, at);
    return this.sent(conn, bytes === 0 ? message : message + body, status, bytes, 'utf8');
  }

  private respond(conn: Connection, head: RequestHead, at: number): Outcome | Promise<Outcome> {
    const { method, target } = head;
    const who = conn.client;
    if (method !== 'GET' && method !== 'HEAD') {
      if (!KNOWN_METHODS.has(method)) {
        conn.closing = true;
        return this.refusal(conn, head, at, 501, `${method} is not a method this server implements (GET, HEAD)`);
      }
      return this.refusal(conn, head, at, 405, `${method} is not allowed: this server only reads files (GET, HEAD)`, 'Allow: GET, HEAD\r\n');
    }
    const wanted = requestedName(target);
    if (!wanted.ok) {
      this.log('info', `${method} ${target} from ${who} refused: ${wanted.reason}`);
      return this.refusal(conn, head, at, wanted.status, wanted.status === 403 ? 'Forbidden' : 'Bad Request');
    }
    let name = wanted.name;
    if (this.remap) {
      const r = this.remap.apply(name, { op: 'get', address: who });
      if (r.refused) {
        this.log('info', `${method} ${target} from ${who} refused: ${r.reason}`);
        return this.refusal(conn, head, at, 403, 'Forbidden');
      }
      if (r.name !== name) this.log('debug', `${target} from ${who} remapped to ${r.name}`);
      name = r.name;
    }
    // The root itself: a directory, and this server lists none.
    if (name === '' || (name.charCodeAt(0) === 0x2f && ONLY_SLASHES.test(name))) return this.refusal(conn, head, at, 403, 'Forbidden (no directory listing)');
    const root = this.root;
    if (!root) return this.refusal(conn, head, at, 503, 'Service Unavailable (shutting down)');
    // A descriptor held from an earlier request, when the name still leads to its file.
    const held = this.files.use(root, name, at);
    if (held) return this.respondHeld(conn, head, at, name, held);
    // Opened beneath the root once: the stat, the headers and the bytes all come from this descriptor.
    const opened = root.openReadNow(name);
    if (opened) return this.respondOpened(conn, head, at, name, opened);
    return root.openRead(name).then((o) => this.respondOpened(conn, head, at, name, o));
  }

  private respondOpened(conn: Connection, head: RequestHead, at: number, name: string, opened: OpenedFile): Outcome | Promise<Outcome> {
    const { method, target } = head;
    const who = conn.client;
    if (!opened.ok) {
      switch (opened.reason) {
        case 'not-found':
          return this.refusal(conn, head, at, 404, 'Not Found');
        case 'not-file':
          return opened.directory ? this.refusal(conn, head, at, 403, 'Forbidden (no directory listing)') : this.refusal(conn, head, at, 404, 'Not Found (not a regular file)');
        case 'bad-name':
          this.log('info', `${method} ${target} from ${who} refused: ${opened.detail}`);
          return this.refusal(conn, head, at, 400, 'Bad Request');
        case 'escape':
          this.log('info', `${method} ${target} from ${who} refused: ${opened.detail}`);
          return this.refusal(conn, head, at, 403, 'Forbidden');
        default:
          this.log('info', `${method} ${target} from ${who}: cannot open ${name}: ${opened.detail}`);
          return this.refusal(conn, head, at, 403, 'Forbidden');
      }
    }
    const held = this.files.hold(name, opened.fd, at);
    if (held) return this.respondHeld(conn, head, at, name, held);
    const { fd, stats: st } = opened;
    let result: Outcome | Promise<Outcome>;
    try {
      result = this.respondFile(conn, head, at, name, fd, st);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    // Closed once nothing reads the descriptor any more. Closing a regular file does not wait
    // for the disk, so it is done here rather than by a thread-pool hop.
    if (!(result instanceof Promise)) {
      closeSync(fd);
      return result;
    }
    return result.finally(() => closeSync(fd));
  }

  /** respondFile from a held descriptor, given back once nothing reads it any more. */
  private respondHeld(conn: Connection, head: RequestHead, at: number, name: string, held: HeldFile): Outcome | Promise<Outcome> {
    let result: Outcome | Promise<Outcome>;
    try {
      result = this.respondFile(conn, head, at, name, held.fd, held.stat);
    } catch (err) {
      this.files.release(held);
      throw err;
    }
    if (!(result instanceof Promise)) {
      this.files.release(held);
      return result;
    }
    return result.finally(() => this.files.release(held));
  }

  private respondFile(conn: Connection, head: RequestHead, at: number, name: string, fd: number, st: FileStat): Outcome | Promise<Outcome> {
    const range = parseRange(head.range, st.size);
    if (range.kind === 'unsatisfiable') return this.refusal(conn, head, at, 416, 'Range Not Satisfiable', `Content-Range: bytes */${st.size}\r\n`);
    const partial = range.kind === 'partial';
    const start = partial ? range.start : 0;
    const end = partial ? range.end : st.size - 1;
    const status = partial ? 206 : 200;
    const length = end - start + 1;
    const fields = partial ? this.heads.partial(name, st, start, end) : this.heads.whole(name, st);
    const tail = this.tail(conn, head, at);
    if (head.method === 'HEAD' || length === 0) return this.sent(conn, fields + tail, status, 0, 'latin1');
    const body = sendBody(conn.socket, fields, tail, fd, start, length, this.bodies);
    if (!(body instanceof Promise)) return this.bodyOutcome(conn, status, body);
    return body.then((b) => this.bodyOutcome(conn, status, b));
  }

  private bodyOutcome(conn: Connection, status: number, body: BodyResult): Outcome {
    if (!body.complete) conn.socket.destroy();
    return { status, bytes: body.sent, complete: body.complete, uncached: body.uncached };
  }
}
