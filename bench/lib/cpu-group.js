// A cgroup (v1 cpuacct) that counts every CPU nanosecond of a stack's server
// processes, children that already exited included. Summing /proc/PID/stat
// misses a child whose parent ignores SIGCHLD (the kernel then drops the
// child's times instead of adding them to the parent's cutime): in.tftpd's
// per-transfer children are such, so a stack with in.tftpd looked cheaper
// than it was.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = '/sys/fs/cgroup/cpuacct';

/** A fresh cgroup, or undefined where cpuacct is not mounted or cannot be written (the caller falls back to /proc). */
export function cpuGroup(tag, atExit) {
  if (!existsSync(join(ROOT, 'cpuacct.usage'))) return undefined;
  const dir = join(ROOT, `netboot-bench-${tag}-${process.pid}`);
  try {
    mkdirSync(dir);
  } catch {
    return undefined;
  }
  const group = {
    /** Moves every process of these process groups in; their later children are born in it. */
    adopt(pgids) {
      for (const p of readdirSync('/proc')) {
        if (!/^\d+$/.test(p)) continue;
        try {
          const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
          if (pgids.includes(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]))) writeFileSync(join(dir, 'cgroup.procs'), p);
        } catch {
          // the process ended while we looked
        }
      }
    },
    /** CPU seconds used by the group so far. */
    cpu: () => Number(readFileSync(join(dir, 'cpuacct.usage'), 'utf8')) / 1e9,
    remove() {
      // Processes still in it (the stack is stopped first) go back to the root group, then it can go.
      try {
        for (const p of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) writeFileSync(join(ROOT, 'cgroup.procs'), p);
      } catch {
        // gone
      }
      try {
        rmdirSync(dir);
      } catch {
        // a process is still leaving; the directory is empty of tasks soon and harmless meanwhile
      }
    },
  };
  atExit.add(() => group.remove());
  return group;
}
