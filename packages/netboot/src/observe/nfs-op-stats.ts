import { NfsStat, Proc } from '@netboot/nfs3';

/** Latency bucket bounds, seconds: 100 µs to 5 s. */
export const NFS_LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

const PROC_NAMES: string[] = [];
for (const [name, n] of Object.entries(Proc)) PROC_NAMES[n] = name;
const STATUS_INDEX = new Map<number, number>();
const STATUS_NAMES: string[] = [];
for (const [name, n] of Object.entries(NfsStat)) {
  STATUS_INDEX.set(n, STATUS_NAMES.length);
  STATUS_NAMES.push(n === 0 ? 'OK' : `NFS3ERR_${name}`);
}
const RPC_FAILED = STATUS_NAMES.length;
STATUS_NAMES.push('RPC_ERROR');
const OTHER = STATUS_NAMES.length;
STATUS_NAMES.push('OTHER');

/** The name of an NFS3 status, as the metrics and events spell it. */
export function nfsStatusName(status: number): string {
  return status === -1 ? STATUS_NAMES[RPC_FAILED] : STATUS_NAMES[STATUS_INDEX.get(status) ?? OTHER];
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
 * NFS calls counted by procedure and status, and their latency, in typed
 * arrays: recording a call is two array increments and a bucket search, no
 * label hashing or allocation (prom-client's own counters hash their labels
 * on every increment). Exposed to a prom-client registry as two metrics.
 */
export class NfsOpStats {
  private readonly procs = PROC_NAMES.length;
  private readonly calls = new Float64Array(this.procs * STATUS_NAMES.length);
  private readonly buckets = new Float64Array(this.procs * (NFS_LATENCY_BUCKETS.length + 1));
  private readonly sums = new Float64Array(this.procs);
  private readonly counts = new Float64Array(this.procs);

  record(proc: number, status: number, ms: number): void {
    if (proc < 0 || proc >= this.procs) return;
    const s = status === -1 ? RPC_FAILED : (STATUS_INDEX.get(status) ?? OTHER);
    this.calls[proc * STATUS_NAMES.length + s]++;
    const secs = ms / 1000;
    let b = 0;
    while (b < NFS_LATENCY_BUCKETS.length && secs > NFS_LATENCY_BUCKETS[b]) b++;
    this.buckets[proc * (NFS_LATENCY_BUCKETS.length + 1) + b]++;
    this.sums[proc] += secs;
    this.counts[proc]++;
  }

  /** Calls by procedure and status, as `netboot_requests_total` samples of protocol nfs. */
  callSamples(): Sample[] {
    const out: Sample[] = [];
    for (let p = 0; p < this.procs; p++) {
      for (let s = 0; s < STATUS_NAMES.length; s++) {
        const v = this.calls[p * STATUS_NAMES.length + s];
        if (v > 0) out.push({ labels: { protocol: 'nfs', operation: PROC_NAMES[p], status: STATUS_NAMES[s] }, value: v });
      }
    }
    return out;
  }

  /** The latency histogram's samples (buckets cumulative, sum, count) for the procedures called. */
  latencySamples(name: string): Sample[] {
    const out: Sample[] = [];
    const nb = NFS_LATENCY_BUCKETS.length + 1;
    for (let p = 0; p < this.procs; p++) {
      if (this.counts[p] === 0) continue;
      const op = PROC_NAMES[p];
      let acc = 0;
      for (let b = 0; b < nb; b++) {
        acc += this.buckets[p * nb + b];
        out.push({ labels: { op, le: b < NFS_LATENCY_BUCKETS.length ? NFS_LATENCY_BUCKETS[b] : '+Inf' }, value: acc, metricName: `${name}_bucket` });
      }
      out.push({ labels: { op }, value: this.sums[p], metricName: `${name}_sum` });
      out.push({ labels: { op }, value: this.counts[p], metricName: `${name}_count` });
    }
    return out;
  }
}
