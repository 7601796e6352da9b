import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { BootMonitor } from './boot-monitor.js';
import { dashboardPage } from './dashboard-page.js';

export interface StatusServerOptions {
  monitor: BootMonitor;
  address: string;
  port: number;
  /** Required by every request when set (Authorization: Bearer T, or ?token=T for the browser). */
  token?: string;
}

/** Live event streams open at once; more are refused (503) so a forgotten tab cannot pile them up. */
const MAX_STREAMS = 64;
const KEEPALIVE_MS = 15_000;
const DASHBOARD_JS = fileURLToPath(new URL('../dashboard/app.js', import.meta.url));

/** Whether an address is a loopback one (where the status port may run without a token). */
export function isLoopback(address: string): boolean {
  return address === 'localhost' || address === '::1' || /^127\./.test(address) || address === '::ffff:127.0.0.1';
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * The status port: `/metrics` (Prometheus text), `/api/nodes` (JSON),
 * `/api/nodes/ID` (one node with its event log), `/api/events` (server-sent
 * events: a row on every change) and the dashboard at `/`. Read-only.
 */
export class StatusServer {
  private readonly server: Server;
  private readonly streams = new Set<ServerResponse>();
  private keepalive?: NodeJS.Timeout;
  private script?: Promise<Buffer>;
  private unsubscribe?: () => void;

  constructor(private readonly opts: StatusServerOptions) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        if (!res.headersSent) this.send(res, 500, 'text/plain', `${(e as Error).message}\n`);
        else res.destroy();
      });
    });
  }

  async listen(): Promise<{ address: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.address, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.unsubscribe = this.opts.monitor.subscribe((node, e) => {
      if (this.streams.size === 0) return;
      const data = `event: node\ndata: ${JSON.stringify({ row: this.opts.monitor.row(node), event: e ?? null })}\n\n`;
      for (const s of this.streams) s.write(data);
    });
    this.keepalive = setInterval(() => {
      for (const s of this.streams) s.write(': keepalive\n\n');
    }, KEEPALIVE_MS);
    this.keepalive.unref();
    const a = this.server.address() as AddressInfo;
    return { address: a.address, port: a.port };
  }

  async close(): Promise<void> {
    clearInterval(this.keepalive);
    this.unsubscribe?.();
    for (const s of this.streams) s.end();
    this.streams.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
  }

  private send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }

  private json(res: ServerResponse, value: unknown): void {
    this.send(res, 200, 'application/json; charset=utf-8', JSON.stringify(value));
  }

  /** The token when one is set; without one, only requests that name this host by a loopback name (no DNS rebinding). */
  private allowed(req: IncomingMessage, url: URL): boolean {
    const token = this.opts.token;
    if (token !== undefined) {
      const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? url.searchParams.get('token') ?? '';
      return timingSafeEqual(digest(given), digest(token));
    }
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
    return host === '' || isLoopback(host) || (isIP(host) !== 0 && host === this.opts.address);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://status');
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.send(res, 405, 'text/plain', 'only GET and HEAD\n');
    if (!this.allowed(req, url)) return this.send(res, 403, 'text/plain', 'forbidden: give the status token (Authorization: Bearer TOKEN or ?token=TOKEN)\n');
    const m = this.opts.monitor;
    const path = url.pathname;
    if (path === '/metrics') return this.send(res, 200, m.metrics.contentType, await m.metrics.text());
    if (path.startsWith('/api/nodes')) await m.images.refresh();
    if (path === '/api/nodes') {
      const now = Date.now();
      if (url.searchParams.get('view') === 'rows') return this.json(res, { now, nodes: [...m.model.nodes()].map((n) => m.row(n, now)) });
      return this.json(res, { now, nodes: m.nodes(now) });
    }
    if (path.startsWith('/api/nodes/')) {
      const id = decodeURIComponent(path.slice('/api/nodes/'.length));
      const node = m.model.node(id);
      if (!node) return this.send(res, 404, 'application/json', JSON.stringify({ error: `no node ${id}` }));
      return this.json(res, { now: Date.now(), node: m.view(node), events: m.eventsOf(id) });
    }
    if (path === '/api/events') return this.stream(res);
    if (path === '/' || path === '/index.html') return this.send(res, 200, 'text/html; charset=utf-8', dashboardPage);
    if (path === '/app.js') {
      this.script ??= readFile(DASHBOARD_JS);
      return this.send(res, 200, 'text/javascript; charset=utf-8', await this.script);
    }
    return this.send(res, 404, 'text/plain', 'not found: /metrics, /api/nodes, /api/events or / (the dashboard)\n');
  }

  private stream(res: ServerResponse): void {
    if (this.streams.size >= MAX_STREAMS) return this.send(res, 503, 'text/plain', `${MAX_STREAMS} event streams are open already\n`);
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
    res.write(`event: hello\ndata: ${JSON.stringify({ now: Date.now() })}\n\n`);
    this.streams.add(res);
    res.on('close', () => this.streams.delete(res));
  }
}
