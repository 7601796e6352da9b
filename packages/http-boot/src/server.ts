import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeSync } from 'node:fs';
import type { AddressInfo, Socket } from 'node:net';
import { printable } from '@netboot/log-text';
import { ServedRoot, type Remap } from '@netboot/tftp-wire';
import { combinedLogLine } from './access-log.js';
import { bodyMode, sendBody, sendfileProgressed, sendfileUnderWay, type BodyMode } from './body.js';
import { parseRange } from './range.js';
import { requestedName } from './request-path.js';

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

const TEXT_TYPES = /\.(cfg|conf|ipxe|txt|menu)$|(^|\/)(pxelinux\.cfg|grub)\//;

/** Strips the IPv4-mapped prefix so logs and remap rules see 198.18.1.10, not ::ffff:198.18.1.10. */
function clientAddress(socket: Socket): string {
  return (socket.remoteAddress ?? '-').replace(/^::ffff:(?=\d+\.)/, '');
}

interface Outcome {
  status: number;
  bytes: number;
  uncached?: number;
}

/**
 * Serves a boot-file root read-only over HTTP/1.1 with node:http: GET and
 * HEAD, one byte range, keep-alive, no directory listing. The names go
 * through the same remap rules and secure-root resolution as the TFTP
 * server's, so a file is reachable over HTTP exactly when it is over TFTP.
 */
export class HttpBootServer {
  private readonly server: Server;
  private root: ServedRoot | undefined;
  private remap: Remap | undefined;
  /** How file bodies are sent: sendfile with @netboot/platform, pooled reads without. */
  readonly bodies: BodyMode;

  constructor(private readonly opts: HttpBootServerOptions) {
    this.remap = opts.remap;
    this.bodies = opts.bodies === 'reads' ? 'reads' : bodyMode();
    const idleMs = opts.idleTimeoutMs ?? 60_000;
    // Headers must arrive within 10 s, checked every 2 s (Node's default check is every 30 s), so a
    // client that trickles a request (slowloris) holds its socket for seconds, not a minute.
    const limits = { keepAliveTimeout: opts.keepAliveTimeoutMs ?? 5000, headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 2000 };
    this.server = createServer(limits, (req, res) => {
      void this.handle(req, res);
    });
    this.server.maxConnections = opts.maxConnections ?? 1024;
    this.server.setTimeout(idleMs, (socket: Socket) => {
      // A sendfile body's bytes bypass Node, whose idle timer cannot see them: a body still moving re-arms it.
      if (sendfileProgressed(socket)) socket.setTimeout(idleMs);
      else socket.destroy();
    });
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      this.log('debug', `bad request from ${clientAddress(socket)}: ${err.code ?? err.message}`);
      const status =
        err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      // A bad pipelined request while a sendfile body is under way: an answer now would land inside the body.
      if (socket.writable && err.code !== 'ECONNRESET' && !sendfileUnderWay(socket)) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      else socket.destroy();
    });
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
    const a = this.server.address() as AddressInfo;
    return { address: a.address, port: a.port };
  }

  /** Stops accepting; idle connections close at once, responses under way get `graceMs` to finish. */
  async close(graceMs = 2000): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const timer = setTimeout(() => this.server.closeAllConnections(), graceMs);
    await closed;
    clearTimeout(timer);
    this.root?.close();
    this.root = undefined;
  }

  /** Messages carry request targets, which are bytes a client chose (Node reads them as Latin-1: 0x9b is a C1 CSI). */
  private log(level: LogLevel, message: string): void {
    this.opts.log?.(level, printable(message));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const who = clientAddress(req.socket);
    const at = new Date();
    this.opts.onExchange?.({ phase: 'request', client: who, method: req.method ?? '-', target: req.url ?? '-' });
    const closed = new Promise<boolean>((resolve) => res.on('close', () => resolve(res.writableFinished)));
    let outcome: Outcome;
    try {
      outcome = await this.respond(req, res, who);
    } catch (err) {
      this.log('warning', `${req.method} ${req.url} from ${who}: ${(err as Error).message}`);
      if (res.headersSent) {
        res.destroy();
        outcome = { status: res.statusCode, bytes: 0 };
      } else {
        outcome = this.refuse(res, 500, 'Internal Server Error');
      }
    }
    const complete = await closed;
    if (!complete) this.log('debug', `${who} went away before ${req.url} was sent in full`);
    this.opts.onExchange?.({
      phase: 'done',
      client: who,
      method: req.method ?? '-',
      target: req.url ?? '-',
      status: outcome.status,
      bytes: outcome.bytes,
      seconds: (Date.now() - at.getTime()) / 1000,
      complete,
      uncached: outcome.uncached ?? 0,
    });
    this.opts.accessLog?.(
      combinedLogLine({
        client: who,
        at,
        method: req.method ?? '-',
        target: req.url ?? '-',
        httpVersion: req.httpVersion,
        status: outcome.status,
        bytes: outcome.bytes,
        referer: req.headers.referer,
        userAgent: req.headers['user-agent'],
      }),
    );
  }

  private refuse(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): Outcome {
    const body = `${text}\n`;
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...headers });
    res.end(res.req.method === 'HEAD' ? undefined : body);
    return { status, bytes: res.req.method === 'HEAD' ? 0 : Buffer.byteLength(body) };
  }

  private async respond(req: IncomingMessage, res: ServerResponse, who: string): Promise<Outcome> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return this.refuse(res, 405, `${req.method} is not allowed: this server only reads files (GET, HEAD)`, { Allow: 'GET, HEAD' });
    }
    const wanted = requestedName(req.url ?? '');
    if (!wanted.ok) {
      this.log('info', `${req.method} ${req.url} from ${who} refused: ${wanted.reason}`);
      return this.refuse(res, wanted.status, wanted.status === 403 ? 'Forbidden' : 'Bad Request');
    }
    let name = wanted.name;
    if (this.remap) {
      const r = this.remap.apply(name, { op: 'get', address: who });
      if (r.refused) {
        this.log('info', `${req.method} ${req.url} from ${who} refused: ${r.reason}`);
        return this.refuse(res, 403, 'Forbidden');
      }
      if (r.name !== name) this.log('debug', `${req.url} from ${who} remapped to ${r.name}`);
      name = r.name;
    }
    // The root itself: a directory, and this server lists none.
    if (name.replace(/^\/+/, '') === '') return this.refuse(res, 403, 'Forbidden (no directory listing)');
    if (!this.root) return this.refuse(res, 503, 'Service Unavailable (shutting down)');
    // Opened beneath the root once: the stat, the headers and the bytes all come from this descriptor.
    const opened = await this.root.openRead(name);
    if (!opened.ok) {
      switch (opened.reason) {
        case 'not-found':
          return this.refuse(res, 404, 'Not Found');
        case 'not-file':
          return opened.directory ? this.refuse(res, 403, 'Forbidden (no directory listing)') : this.refuse(res, 404, 'Not Found (not a regular file)');
        case 'bad-name':
          this.log('info', `${req.method} ${req.url} from ${who} refused: ${opened.detail}`);
          return this.refuse(res, 400, 'Bad Request');
        case 'escape':
          this.log('info', `${req.method} ${req.url} from ${who} refused: ${opened.detail}`);
          return this.refuse(res, 403, 'Forbidden');
        default:
          this.log('info', `${req.method} ${req.url} from ${who}: cannot open ${name}: ${opened.detail}`);
          return this.refuse(res, 403, 'Forbidden');
      }
    }
    const { fd, stats: st } = opened;
    try {
      const headers: Record<string, string | number> = {
        'Content-Type': TEXT_TYPES.test(name) ? 'text/plain; charset=utf-8' : 'application/octet-stream',
        'Accept-Ranges': 'bytes',
        'Last-Modified': st.mtime.toUTCString(),
      };
      const range = parseRange(req.headers.range, st.size);
      if (range.kind === 'unsatisfiable') {
        return this.refuse(res, 416, 'Range Not Satisfiable', { 'Content-Range': `bytes */${st.size}` });
      }
      const [status, start, end] = range.kind === 'partial' ? [206, range.start, range.end] : [200, 0, st.size - 1];
      if (status === 206) headers['Content-Range'] = `bytes ${start}-${end}/${st.size}`;
      const length = end - start + 1;
      headers['Content-Length'] = length;
      res.writeHead(status, headers);
      if (req.method === 'HEAD' || length === 0) {
        res.end();
        return { status, bytes: 0 };
      }
      const body = await sendBody(req, res, fd, start, length, this.bodies);
      // Complete: the response ends with no more bytes and the connection serves the next request.
      if (body.complete) res.end();
      else res.destroy();
      return { status, bytes: body.sent, uncached: body.uncached };
    } finally {
      // Every body has settled here: nothing reads the descriptor any more. Closing a regular
      // file does not wait for the disk, so it is done here rather than by a thread-pool hop.
      closeSync(fd);
    }
  }
}
