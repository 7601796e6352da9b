// Where a server stack's CPU went, by process and thread: every thread's
// nanoseconds on a CPU (/proc/PID/task/TID/schedstat) at two moments, the
// difference grouped by what the thread is. netboot names its worker threads
// (nfs-worker-N, tftp-xfer-N); its main thread is the one whose id is the
// process's; the threads Node leaves named after the process are V8's
// (compiler, GC) and libuv's pool. The C servers' processes go by their
// names. What the stack's total holds beyond the threads seen at both
// moments (in.tftpd's per-transfer children, threads that ended) is
// `exited`.
import { readdirSync, readFileSync } from 'node:fs';
import { threadsSchedstat } from './processes.js';

/**
 * What one thread is, as a group name: `PROCESS main`; `PROCESS NAME` for a
 * named thread (its number cut); for Node's unnamed ones `netboot helpers`
 * (V8's compiler and GC threads, libuv's pool); a C server's other threads
 * `PROCESS threads`.
 */
function groupOf(procComm, threadComm, isMain) {
  const node = procComm === 'node';
  const proc = node ? 'netboot' : procComm;
  if (isMain) return `${proc} main`;
  if (threadComm === procComm) return node ? `${proc} helpers` : `${proc} threads`;
  return `${proc} ${threadComm.replace(/[-_ ]?\d+$/, '')}`;
}

/** Every thread of the processes in these process groups: `PID/TID` -> { group, ns }. */
export function threadSnapshot(pgids) {
  const threads = new Map();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      if (!pgids.includes(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]))) continue;
      const procComm = readFileSync(`/proc/${p}/comm`, 'utf8').trim();
      for (const [t, { name, run }] of threadsSchedstat(p)) threads.set(`${p}/${t}`, { group: groupOf(procComm, name, t === p), ns: run });
    } catch {
      // the process ended while we looked
    }
  }
  return threads;
}

/**
 * CPU seconds per thread group between two snapshots (a thread born between
 * them counts from zero), plus `exited`: what `totalS` (the stack's CPU over
 * the same span, from its cgroup) holds beyond them. Groups sorted by CPU,
 * each with its thread count.
 */
export function cpuByThread(before, after, totalS) {
  const groups = new Map();
  let seen = 0;
  for (const [key, t] of after) {
    const s = (t.ns - (before.get(key)?.ns ?? 0)) / 1e9;
    seen += s;
    const g = groups.get(t.group) ?? { cpuS: 0, threads: 0 };
    g.cpuS += s;
    g.threads++;
    groups.set(t.group, g);
  }
  const out = [...groups].map(([group, g]) => ({ group, cpuS: Number(g.cpuS.toFixed(3)), threads: g.threads }));
  if (totalS !== undefined && totalS - seen > 0.005) out.push({ group: 'exited', cpuS: Number((totalS - seen).toFixed(3)), threads: 0 });
  return out.sort((a, b) => b.cpuS - a.cpuS);
}
