import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Gauge, Histogram, Registry, type Metric } from 'prom-client';
import { STAGES, type BootEvent, type Change, type Stage } from '@netboot/boot-events';
import type { NfsOpStats } from './nfs-op-stats.js';

/** What the gauges read at each scrape. */
export interface MetricSources {
  counts(): Record<Stage, number>;
  active(): { tftp: number; http: number };
  /** Leases the DHCP server holds, when it runs. */
  leases(): number | undefined;
  /** Mounts in mountd's list, when NFS runs. */
  mounts(): number | undefined;
}

interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** A metric whose samples are computed at scrape time, in the shape prom-client's registry renders. */
function computed(name: string, help: string, type: 'counter' | 'histogram', samples: () => Sample[]): Metric {
  return {
    name,
    help,
    type,
    get: async () => ({ name, help, type, values: samples(), aggregator: 'sum' }),
  } as unknown as Metric;
}

/**
 * The Prometheus metrics of `netboot serve --status-port`, on their own
 * registry: requests by protocol, operation and status; boot, stage, NFS
 * and transfer durations; nodes per stage, transfers under way, leases,
 * mounts, event-loop delay.
 */
export class BootMetrics {
  readonly registry = new Registry();
  /** Requests other than NFS calls, by "protocol operation status" (NFS is counted in NfsOpStats). */
  private readonly requests = new Map<string, Sample>();
  private readonly bootDuration: Histogram;
  private readonly stageDuration: Histogram<'stage'>;
  private readonly transfer: Histogram<'protocol'>;
  private readonly loop: IntervalHistogram;

  constructor(
    sources: MetricSources,
    private readonly nfs: NfsOpStats,
  ) {
    const registers = [this.registry];
    this.registry.registerMetric(
      computed('netboot_requests_total', 'Requests handled, by protocol (dhcp, tftp, http, mount, nfs, nsm), operation and status.', 'counter', () => [
        ...this.requests.values(),
        ...nfs.callSamples(),
      ]),
    );
    this.registry.registerMetric(computed('netboot_nfs_op_duration_seconds', 'NFS call latency, from dispatch to reply built, by procedure.', 'histogram', () => nfs.latencySamples('netboot_nfs_op_duration_seconds')));
    this.bootDuration = new Histogram({
      name: 'netboot_boot_duration_seconds',
      help: "A node's boot, from its first DHCP to up (NFS activity after its init was read).",
      buckets: [10, 20, 30, 45, 60, 90, 120, 180, 300, 600],
      registers,
    });
    this.stageDuration = new Histogram({
      name: 'netboot_stage_duration_seconds',
      help: 'Time nodes spent in each boot stage, counted when the stage ends.',
      labelNames: ['stage'],
      buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300],
      registers,
    });
    this.transfer = new Histogram({
      name: 'netboot_transfer_duration_seconds',
      help: 'TFTP and HTTP transfers that completed, request to last byte.',
      labelNames: ['protocol'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    });
    new Gauge({
      name: 'netboot_nodes',
      help: 'Nodes in each boot stage.',
      labelNames: ['stage'],
      registers,
      collect() {
        const c = sources.counts();
        for (const s of STAGES) this.set({ stage: s }, c[s]);
      },
    });
    new Gauge({
      name: 'netboot_active_transfers',
      help: 'TFTP and HTTP transfers under way.',
      labelNames: ['protocol'],
      registers,
      collect() {
        const a = sources.active();
        this.set({ protocol: 'tftp' }, a.tftp);
        this.set({ protocol: 'http' }, a.http);
      },
    });
    new Gauge({
      name: 'netboot_leases',
      help: 'DHCP leases held (0 when DHCP is not served).',
      registers,
      collect() {
        this.set(sources.leases() ?? 0);
      },
    });
    new Gauge({
      name: 'netboot_mounts',
      help: "Entries in mountd's mount list (0 when NFS is not served).",
      registers,
      collect() {
        this.set(sources.mounts() ?? 0);
      },
    });
    this.loop = monitorEventLoopDelay({ resolution: 20 });
    this.loop.enable();
    const loop = this.loop;
    new Gauge({
      name: 'netboot_event_loop_delay_seconds',
      help: 'Event-loop delay since the last scrape: mean, p99 and max.',
      labelNames: ['stat'],
      registers,
      collect() {
        this.set({ stat: 'mean' }, Number.isNaN(loop.mean) ? 0 : loop.mean / 1e9);
        this.set({ stat: 'p99' }, loop.percentile(99) / 1e9);
        this.set({ stat: 'max' }, loop.max / 1e9);
        loop.reset();
      },
    });
  }

  private count(protocol: string, operation: string, status: string): void {
    const key = `${protocol} ${operation} ${status}`;
    const s = this.requests.get(key);
    if (s) s.value++;
    else this.requests.set(key, { labels: { protocol, operation, status }, value: 1 });
  }

  /** An event and what it did to its node. */
  observe(e: BootEvent, change: Change | undefined): void {
    switch (e.kind) {
      case 'dhcp':
        this.count('dhcp', e.message, 'ok');
        break;
      case 'file-done':
        this.count(e.protocol, 'GET', e.outcome);
        if (e.outcome === 'complete') this.transfer.observe({ protocol: e.protocol }, Math.max(0, e.seconds));
        break;
      case 'mount':
        this.count('mount', e.op, e.ok ? 'granted' : 'refused');
        break;
      case 'reboot':
        this.count('nsm', 'NOTIFY', 'ok');
        break;
      default:
        break;
    }
    if (change) this.stageChange(change);
  }

  stageChange(change: Change): void {
    if (change.ended && change.ended.end !== null) this.stageDuration.observe({ stage: change.ended.name }, (change.ended.end - change.ended.start) / 1000);
    if (change.bootDuration !== undefined) this.bootDuration.observe(change.bootDuration / 1000);
  }

  async text(): Promise<string> {
    // The NFS counts live on the threads serving NFS: gathered once per scrape.
    await this.nfs.refresh();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  close(): void {
    this.loop.disable();
  }
}
