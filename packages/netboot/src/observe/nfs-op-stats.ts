import { CALL_LATENCY_BUCKETS, NfsCallStats, NfsStat, Proc } from '@netboot/nfs3';

const PROC_NAMES: string[] = [];
for (const [name, n] of Object.entries(Proc)) PROC_NAMES[n] = name;
const STATUS_NAMES = new Map<number, string>();
for (const [name, n] of Object.entries(NfsStat)) STATUS_NAMES.set(n, n === 0 ? 'OK' : `NFS3ERR_${name}`);
STATUS_NAMES.set(-1, 'RPC_ERROR');

/** The name of an NFS3 status, as the metrics and events spell it (-1: the call failed at the RPC level). */
export function nfsStatusName(status: number | undefined): string {
  return (status !== undefined && STATUS_NAMES.get(status)) || 'OTHER';
}

export function nfsProcName(proc: number): string {
  return PROC_NAMES[proc] ?? `PROC${proc}`;
}

/** A sample in Prometheus' terms, as prom-client's registry renders a metric's `get()`. */
interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/**
 * NFS calls by procedure and status, and their latency, as two metrics for
 * a prom-client registry. The counting is done by the threads serving NFS
 * (each in its own NfsCallStats, see @netboot/nfs3's NfsCallObserver);
 * `refresh` gathers them, once per scrape.
 */
export class NfsOpStats {
  private current = new NfsCallStats();
  private source: (() => Promise<NfsCallStats>) | undefined;

  /** Where the counts come from: the NFS service, once it runs. */
  from(source: () => Promise<NfsCallStats>): void {
    this.source = source;
  }

  async refresh(): Promise<void> {
    if (this.source) this.current = await this.source();
  }

  /** Calls by procedure and status, as `netboot_requests_total` samples of protocol nfs. */
  callSamples(): Sample[] {
    const out: Sample[] = [];
    const s = this.current;
    for (let p = 0; p < NfsCallStats.procs; p++) {
      for (let col = 0; col < NfsCallStats.statusColumns; col++) {
        const v = s.calls(p, col);
        if (v > 0) out.push({ labels: { protocol: 'nfs', operation: nfsProcName(p), status: nfsStatusName(NfsCallStats.statusAt(col)) }, value: v });
      }
    }
    return out;
  }

  /** The latency histogram's samples (buckets cumulative, sum, count) for the procedures called. */
  latencySamples(name: string): Sample[] {
    const out: Sample[] = [];
    const s = this.current;
    for (let p = 0; p < NfsCallStats.procs; p++) {
      const count = s.total(p);
      if (count === 0) continue;
      const op = nfsProcName(p);
      let acc = 0;
      for (let b = 0; b <= CALL_LATENCY_BUCKETS.length; b++) {
        acc += s.bucket(p, b);
        out.push({ labels: { op, le: b < CALL_LATENCY_BUCKETS.length ? CALL_LATENCY_BUCKETS[b] : '+Inf' }, value: acc, metricName: `${name}_bucket` });
      }
      out.push({ labels: { op }, value: s.seconds(p), metricName: `${name}_sum` });
      out.push({ labels: { op }, value: count, metricName: `${name}_count` });
    }
    return out;
  }
}
