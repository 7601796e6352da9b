import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BootModel, EventHistory, diagnose, type BootEvent, type BootModelOptions, type NodeState } from '@netboot/boot-events';
import type { DhcpServerOptions } from '@netboot/dhcp-wire';
import type { HttpBootServerOptions } from '@netboot/http-boot';
import type { MountdEvent } from '@netboot/mountd';
import type { NfsCallObserver } from '@netboot/nfs3';
import type { TftpServerOptions } from '@netboot/tftp-wire';
import { BootMetrics } from './boot-metrics.js';
import { dhcpEvents } from './dhcp-events.js';
import { FileEvents } from './file-events.js';
import { NfsEvents } from './nfs-events.js';
import { NfsOpStats } from './nfs-op-stats.js';
import type { NodeRow, NodeView } from './node-row.js';
import { NodeImages } from './node-images.js';

/** The optional callbacks each service takes; a service started without them pays nothing for monitoring. */
export interface ServiceHooks {
  dhcp: NonNullable<DhcpServerOptions['onExchange']>;
  tftp: NonNullable<TftpServerOptions['onTransfer']>;
  http: NonNullable<HttpBootServerOptions['onExchange']>;
  nfs: NfsCallObserver;
  mount: (e: MountdEvent) => void;
  reboot: (name: string, address: string) => void;
}


export interface BootMonitorOptions {
  /** Where boot-events.jsonl is kept; the history survives restarts there. */
  stateDir: string;
  /** The TFTP root, to read the pxelinux config a node fetched for its init=. */
  tftpRoot?: string;
  model?: BootModelOptions;
  maxEvents?: number;
  log: (line: string) => void;
}

/** Told of each change to a node: the event that made it, or none when time alone did (the node went lost). */
export type Listener = (node: NodeState, e: BootEvent | undefined) => void;

const TICK_MS = 1000;
/** The services' state read by the gauges, filled in as they start. */
export interface ServiceStats {
  leases?: () => number;
  mounts?: () => number;
}

/**
 * The one boot model of a running `netboot serve`: events from the
 * services' callbacks folded into node states, kept in the state
 * directory, counted for /metrics and passed on to live listeners (the
 * dashboard's event stream).
 */
export class BootMonitor {
  readonly model: BootModel;
  readonly metrics: BootMetrics;
  readonly hooks: ServiceHooks;
  readonly stats: ServiceStats = {};
  /** The image generations of image-backed nodes, from the state directory. */
  readonly images: NodeImages;
  private readonly listeners = new Set<Listener>();
  private readonly files: FileEvents;
  private readonly nfs: NfsEvents;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly history: EventHistory,
    opts: BootMonitorOptions,
  ) {
    this.model = new BootModel(opts.model);
    this.images = new NodeImages(opts.stateDir);
    const nfsStats = new NfsOpStats();
    this.files = new FileEvents((e) => this.emit(e), opts.tftpRoot);
    this.nfs = new NfsEvents((e) => this.emit(e), nfsStats, (ip) => this.files.initPathOf(ip));
    this.metrics = new BootMetrics(
      {
        counts: () => this.model.counts(),
        active: () => this.files.active,
        leases: () => this.stats.leases?.(),
        mounts: () => this.stats.mounts?.(),
      },
      nfsStats,
    );
    this.hooks = {
      dhcp: (request, reply) => {
        for (const e of dhcpEvents(request, reply, Date.now())) this.emit(e);
      },
      tftp: this.files.tftp,
      http: this.files.http,
      nfs: this.nfs,
      mount: (m) => {
        const ip = m.address.startsWith('::ffff:') ? m.address.slice(7) : m.address;
        this.emit({ kind: 'mount', at: Date.now(), ip, op: m.op, path: m.path, version: m.version, ok: m.granted, reason: m.why, exportsLine: m.exportsLine });
        // A MNT that (re)starts a boot's root: its init is looked for anew. A running node mounting more leaves it be.
        if (m.op === 'MNT' && m.granted && this.model.node(ip)?.stage === 'mounted') this.nfs.mounted(ip);
        // A MOUNT is an image-backed node's boot: it may run another generation now.
        if (m.op === 'MNT' && m.granted) void this.images.refresh();
      },
      reboot: (name, address) => this.emit({ kind: 'reboot', at: Date.now(), ip: address.startsWith('::ffff:') ? address.slice(7) : address, name }),
    };
    this.timer = setInterval(() => this.tick(Date.now()), TICK_MS);
    this.timer.unref();
  }

  /** Reads the history back into the model (a restart keeps what was seen) and starts the clock. */
  static async open(opts: BootMonitorOptions): Promise<BootMonitor> {
    await mkdir(opts.stateDir, { recursive: true });
    const file = join(opts.stateDir, 'boot-events.jsonl');
    const { history, events, skipped } = await EventHistory.open(file, { maxEvents: opts.maxEvents });
    const monitor = new BootMonitor(history, opts);
    for (const e of events) monitor.model.apply(e);
    await monitor.images.refresh();
    monitor.model.tick(Date.now());
    if (skipped > 0) opts.log(`status: skipped ${skipped} unreadable lines of ${file}`);
    opts.log(`status: ${events.length} boot events read back from ${file}, ${monitor.model.size} nodes`);
    return monitor;
  }

  /** Folds an event in, records it and tells the listeners. */
  emit(e: BootEvent): void {
    const change = this.model.apply(e);
    this.metrics.observe(e, change);
    // `active` comes every second from every running node: kept and passed on only when it moved the node to up.
    if (e.kind === 'nfs' && e.what === 'active' && !change?.ended) return;
    this.history.append(e);
    if (change) for (const l of this.listeners) l(change.node, e);
  }

  tick(now: number): void {
    for (const change of this.model.tick(now)) {
      this.metrics.stageChange(change);
      for (const l of this.listeners) l(change.node, undefined);
    }
  }

  /** Listens to every event from now on; returns the unsubscribe. */
  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  view(node: NodeState, now = Date.now()): NodeView {
    return { ...node, stages: node.boot?.stages ?? [], diagnosis: diagnose(node, now), image: this.images.of(node.ip) };
  }

  nodes(now = Date.now()): NodeView[] {
    return [...this.model.nodes()].map((n) => this.view(n, now));
  }

  /** A node without its waterfall and counters: what the live table needs, small enough to send on every change. */
  row(node: NodeState, now = Date.now()): NodeRow {
    return {
      key: node.key,
      mac: node.mac,
      ip: node.ip,
      name: node.name,
      firmware: node.firmware,
      stage: node.stage,
      stageSince: node.stageSince,
      lostFrom: node.lostFrom,
      lastSeen: node.lastSeen,
      bootCount: node.bootCount,
      lastError: node.lastError,
      stages: node.boot?.stages ?? [],
      diagnosis: diagnose(node, now),
      image: this.images.of(node.ip),
    };
  }

  /** The events kept for one node (by MAC or IP), newest last, at most `limit`. */
  eventsOf(id: string, limit = 500): BootEvent[] {
    const node = this.model.node(id);
    if (!node) return [];
    const out: BootEvent[] = [];
    const events = this.history.events();
    for (let i = events.length - 1; i >= 0 && out.length < limit; i--) {
      const e = events[i];
      if ((e.kind === 'dhcp' && e.mac === node.mac) || (e.kind !== 'dhcp' && (e.ip === node.ip || e.ip === node.key))) out.push(e);
    }
    return out.reverse();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.metrics.close();
    this.listeners.clear();
    await this.history.close();
  }
}
