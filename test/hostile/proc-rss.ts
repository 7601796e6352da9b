import { readFileSync } from 'node:fs';

/** Resident set size of process `pid` in MiB (from /proc), or NaN when it is gone. */
export function rssMiB(pid: number): number {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}
