import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { closeSync } from 'node:fs';
import { printable } from '@netboot/log-text';
import { ServedRoot, type Remap } from '@netboot/tftp-wire';
import { combinedLogLine } from './access-log.js';
import { bodyMode, flushed, sendBody, type BodyMode } from './body.js';
import { Connection, type ConnectionLimits, type RequestSink } from './connection.js';
import { parseRange } from './range.js';
import type { RequestHead, RequestHeadError } from './request-head.js';
import { requestedName } from './request-path.js';
import { dateLine, FileHeads, refusalHead } from './response-head.js';

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
  /** A connection that neither sends nor takes data for this long is dropped (ms). */
  idleTimeoutMs?: number;
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
  private readonly limits: ConnectionLimits;
  private sweeper: NodeJS.Timeout | undefined;
  private root: ServedRoot | undefined;
  private remap: Remap | undefined;
  private shuttingDown = false;
  /** How file bodies are sent: sendfile with @netboot/platform, pooled reads without. */
  readonly bodies: BodyMode;

  constructor(private readonly opts: HttpBootServerOptions) {
    this.remap = opts.remap;
    this.bodies = opts.bodies === 'reads' ? 'reads' : bodyMode();
    // Headers must arrive within 10 s, so a client that trickles a request (slowloris) holds its socket for seconds, not a minute.
    this.limits = { keepAlive: opts.keepAliveTimeoutMs ?? 5000, headers: 10_000, idle: opts.idleTimeoutMs ?? 60_000 };
    // Half-open: a client may send its requests and its FIN at once, and still be answered.
    this.server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket));
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
    // The time limits are checked a few times within the shortest of them, at most once a second.
    const every = Math.max(50, Math.min(1000, Math.floor(Math.min(this.limits.keepAlive, this.limits.headers, this.limits.idle) / 4)));
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const c of this.connections) c.check(now, this.limits);
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
  private tail(conn: Connection, head: RequestHead | undefined): string {
    if (conn.closing) return `${dateLine(Date.now())}Connection: close\r\n\r\n`;
    // HTTP/1.0 keeps the connection only when asked to, and is told it was.
    return head?.minor === 0 ? `${dateLine(Date.now())}Connection: keep-alive\r\n\r\n` : `${dateLine(Date.now())}\r\n`;
  }

  refuse(conn: Connection, err: RequestHeadError): void {
    this.log('debug', `bad request from ${conn.client}: ${err.message}`);
    const text = `${err.message}\n`;
    conn.socket.write(refusalHead(err.status, text, '') + this.tail(conn, undefined) + text, 'latin1');
  }

  timedOut(conn: Connection): void {
    this.log('debug', `request head from ${conn.client} not complete within ${this.limits.headers / 1000} s`);
    const text = 'Request Timeout\n';
    conn.socket.write(refusalHead(408, text, '') + this.tail(conn, undefined) + text, 'latin1');
  }

  async answer(conn: Connection, head: RequestHead): Promise<void> {
    const who = conn.client;
    const at = Date.now();
    const { method, target } = head;
    // This server reads no request body: the connection ends after the answer instead of reading past one.
    if (head.close || head.hasBody || this.shuttingDown) conn.closing = true;
    this.opts.onExchange?.({ phase: 'request', client: who, method, target });
    let outcome: Outcome;
    try {
      outcome = await this.respond(conn, head);
    } catch (err) {
      this.log('warning', `${method} ${target} from ${who}: ${(err as Error).message}`);
      // Whatever was sent of a response, the client cannot tell where it ends now.
      conn.socket.destroy();
      outcome = { status: 500, bytes: 0, complete: false };
    }
    if (!outcome.complete) this.log('debug', `${who} went away before ${target} was sent in full`);
    this.opts.onExchange?.({
      phase: 'done',
      client: who,
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
        client: who,
        at: new Date(at),
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

  private async refusal(conn: Connection, head: RequestHead, status: number, text: string, extra = ''): Promise<Outcome> {
    const body = `${text}\n`;
    const bytes = head.method === 'HEAD' ? 0 : Buffer.byteLength(body);
    const message = refusalHead(status, body, extra) + this.tail(conn, head);
    conn.socket.write(bytes === 0 ? message : message + body, 'utf8');
    const done = flushed(conn.socket);
    return { status, bytes, complete: done === true ? true : await done };
  }

  private async respond(conn: Connection, head: RequestHead): Promise<Outcome> {
    const { method, target } = head;
    const who = conn.client;
    if (method !== 'GET' && method !== 'HEAD') {
      if (!KNOWN_METHODS.has(method)) {
        conn.closing = true;
        return this.refusal(conn, head, 501, `${method} is not a method this server implements (GET, HEAD)`);
      }
      return this.refusal(conn, head, 405, `${method} is not allowed: this server only reads files (GET, HEAD)`, 'Allow: GET, HEAD\r\n');
    }
    const wanted = requestedName(target);
    if (!wanted.ok) {
      this.log('info', `${method} ${target} from ${who} refused: ${wanted.reason}`);
      return this.refusal(conn, head, wanted.status, wanted.status === 403 ? 'Forbidden' : 'Bad Request');
    }
    let name = wanted.name;
    if (this.remap) {
      const r = this.remap.apply(name, { op: 'get', address: who });
      if (r.refused) {
        this.log('info', `${method} ${target} from ${who} refused: ${r.reason}`);
        return this.refusal(conn, head, 403, 'Forbidden');
      }
      if (r.name !== name) this.log('debug', `${target} from ${who} remapped to ${r.name}`);
      name = r.name;
    }
    // The root itself: a directory, and this server lists none.
    if (name.replace(/^\/+/, '') === '') return this.refusal(conn, head, 403, 'Forbidden (no directory listing)');
    if (!this.root) return this.refusal(conn, head, 503, 'Service Unavailable (shutting down)');
    // Opened beneath the root once: the stat, the headers and the bytes all come from this descriptor.
    const opened = await this.root.openRead(name);
    if (!opened.ok) {
      switch (opened.reason) {
        case 'not-found':
          return this.refusal(conn, head, 404, 'Not Found');
        case 'not-file':
          return opened.directory ? this.refusal(conn, head, 403, 'Forbidden (no directory listing)') : this.refusal(conn, head, 404, 'Not Found (not a regular file)');
        case 'bad-name':
          this.log('info', `${method} ${target} from ${who} refused: ${opened.detail}`);
          return this.refusal(conn, head, 400, 'Bad Request');
        case 'escape':
          this.log('info', `${method} ${target} from ${who} refused: ${opened.detail}`);
          return this.refusal(conn, head, 403, 'Forbidden');
        default:
          this.log('info', `${method} ${target} from ${who}: cannot open ${name}: ${opened.detail}`);
          return this.refusal(conn, head, 403, 'Forbidden');
      }
    }
    const { fd, stats: st } = opened;
    try {
      const range = parseRange(head.range, st.size);
      if (range.kind === 'unsatisfiable') return await this.refusal(conn, head, 416, 'Range Not Satisfiable', `Content-Range: bytes */${st.size}\r\n`);
      const partial = range.kind === 'partial';
      const [status, start, end] = partial ? [206, range.start, range.end] : [200, 0, st.size - 1];
      const length = end - start + 1;
      const fields = (partial ? this.heads.partial(name, st, start, end) : this.heads.whole(name, st)) + this.tail(conn, head);
      if (method === 'HEAD' || length === 0) {
        conn.socket.write(fields, 'latin1');
        const done = flushed(conn.socket);
        return { status, bytes: 0, complete: done === true ? true : await done };
      }
      const body = await sendBody(conn.socket, fields, fd, start, length, this.bodies);
      if (!body.complete) conn.socket.destroy();
      return { status, bytes: body.sent, complete: body.complete, uncached: body.uncached };
    } finally {
      // Every body has settled here: nothing reads the descriptor any more. Closing a regular
      // file does not wait for the disk, so it is done here rather than by a thread-pool hop.
      closeSync(fd);
    }
  }
}
