// Child processes and network namespaces for the benchmarks: every server runs
// in its own process group (stopped by PID at the end), optionally inside a
// network namespace made for the run, and is sampled through /proc.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';

const CLK_TCK = 100;

export function sh(cmd, args, timeout = 10_000) {
  return spawnSync(cmd, args, { encoding: 'utf8', timeout });
}

/** `cmd args` as run inside `ns` (or as is without one). */
export function inNs(ns, cmd, args) {
  return ns ? ['ip', ['netns', 'exec', ns, cmd, ...args]] : [cmd, args];
}

/** Cleanup steps run in reverse order, also on SIGINT/SIGTERM. */
export function cleanups() {
  const steps = [];
  const run = () => {
    for (const f of steps.splice(0).reverse()) {
      try {
        f();
      } catch {
        // best effort: the rest must still run
      }
    }
  };
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      run();
      process.exit(130);
    });
  }
  return { add: (f) => steps.push(f), run };
}

/** A fresh network namespace with lo up, or the reason there is none. */
export function createNetns(prefix, atExit) {
  if (process.getuid?.() !== 0) return { why: 'needs root to create a network namespace' };
  const ns = `${prefix}-${randomBytes(3).toString('hex')}`;
  const r = sh('ip', ['netns', 'add', ns]);
  if (r.status !== 0) return { why: `ip netns add failed: ${r.stderr.trim()}` };
  atExit.add(() => sh('ip', ['netns', 'del', ns]));
  sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  return { ns };
}

/**
 * Gives a namespace a veth pair with a 198.18 address: programs that resolve
 * their bind address with AI_ADDRCONFIG (Ganesha, in.tftpd) find nothing in a
 * namespace that has only loopback. Returns an error message or undefined.
 */
export function addVeth(ns) {
  for (const args of [
    ['link', 'add', 'bv0', 'type', 'veth', 'peer', 'name', 'bv1'],
    ['addr', 'add', '198.18.255.1/30', 'dev', 'bv0'],
    ['link', 'set', 'bv0', 'up'],
    ['link', 'set', 'bv1', 'up'],
  ]) {
    const r = sh('ip', ['-n', ns, ...args]);
    if (r.status !== 0) return `ip -n ${ns} ${args.join(' ')}: ${r.stderr.trim()}`;
  }
  return undefined;
}

/**
 * Starts a long-running server in its own process group with its output in
 * `logFile` (a pipe nobody reads while a measurement runs could fill up and
 * stall it). `stop()` sends SIGTERM, waits up to `graceMs`, then SIGKILLs the
 * group.
 */
export function startServer(ns, cmd, args, logFile, atExit) {
  const fd = openSync(logFile, 'a');
  const [c, a] = inNs(ns, cmd, args);
  const child = spawn(c, a, { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exited = false;
  child.on('exit', () => (exited = true));
  const server = {
    pid: child.pid,
    output: () => {
      try {
        return readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    },
    get exited() {
      return exited;
    },
    async stop(graceMs = 3000) {
      if (exited) return;
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch {
        return;
      }
      for (let waited = 0; !exited && waited < graceMs; waited += 50) await sleep(50);
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // the whole group is gone
      }
    },
  };
  atExit.add(() => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already stopped
    }
  });
  return server;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(predicate, what, ms = 20_000) {
  for (let waited = 0; waited < ms; waited += 100) {
    const v = await predicate();
    if (v) return v;
    await sleep(100);
  }
  throw new Error(`${what} did not come up within ${ms / 1000} s`);
}

/** CPU seconds (user + system, all threads) a process has used so far. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/**
 * `read(taskDir)` for each of a process's threads, by thread id; a thread that ends while it is read is left
 * out. Throws when the process is gone.
 */
function perThread(pid, read) {
  const threads = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      threads.set(tid, read(`/proc/${pid}/task/${tid}`));
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return threads;
}

/**
 * CPU nanoseconds a process's threads have run so far, from each one's schedstat (exact, where
 * /proc/PID/stat counts 10 ms ticks). Throws when the process is gone.
 */
export function threadsCpuNs(pid) {
  let ns = 0;
  for (const run of perThread(pid, (dir) => Number(readFileSync(`${dir}/schedstat`, 'utf8').split(' ')[0])).values()) ns += run;
  return ns;
}

/**
 * Each thread's schedstat so far, by thread id: its name, nanoseconds run and nanoseconds spent runnable on
 * a run queue, waiting for a CPU. Throws when the process is gone.
 */
export function threadsSchedstat(pid) {
  return perThread(pid, (dir) => {
    const [run, wait] = readFileSync(`${dir}/schedstat`, 'utf8').split(' ');
    return { name: readFileSync(`${dir}/comm`, 'utf8').trim(), run: Number(run), wait: Number(wait) };
  });
}

/**
 * Seconds each of a process's threads has spent blocked on block I/O so far, by thread id (delay accounting,
 * field 42 of each thread's stat, in clock ticks: a process's own stat has only its first thread's, where
 * netboot's NFS threads are others). All zero unless delay accounting is on (see delayAccounting).
 */
export function threadsBlockedSeconds(pid) {
  return perThread(pid, (dir) => {
    const stat = readFileSync(`${dir}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[39]) / CLK_TCK;
  });
}

/**
 * Turns the kernel's per-task delay accounting on (kernel.task_delayacct) for threadsBlockedSeconds, and
 * returns what puts it back as it was; undefined where the kernel has no such switch.
 */
export function delayAccounting() {
  const path = '/proc/sys/kernel/task_delayacct';
  let was;
  try {
    was = readFileSync(path, 'utf8').trim();
    if (was !== '1') writeFileSync(path, '1');
  } catch {
    return undefined;
  }
  return () => {
    if (was !== '1') writeFileSync(path, was);
  };
}

/** Peak resident set size in MB (VmHWM), or NaN when the process is gone. */
export function peakRssMB(pid) {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmHWM:\s+(\d+) kB/);
    return m ? Math.round(Number(m[1]) / 1024) : NaN;
  } catch {
    return NaN;
  }
}

/** Resident set size now in MB (VmRSS). */
export function rssMB(pid) {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
    return m ? Math.round(Number(m[1]) / 1024) : NaN;
  } catch {
    return NaN;
  }
}

export function load() {
  return loadavg().map((l) => Number(l.toFixed(2)));
}

/**
 * Runs `node script --measure JSON(cell)` (inside `ns`), bounded in time, and
 * returns its last stdout line parsed, or { error }. With `profileDir` the
 * client runs under `node --cpu-prof` too: it shares the cores with the server.
 */
export function runMeasure(ns, script, cell, timeoutMs, profileDir) {
  const prof = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=client-${cell.server}-${cell.cell}-${process.hrtime.bigint()}.cpuprofile`] : [];
  const [c, a] = inNs(ns, process.execPath, [...prof, script, '--measure', JSON.stringify(cell)]);
  const r = spawnSync(c, a, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
  if (r.status !== 0) {
    const why = (r.stderr || r.error?.message || `exit ${r.status ?? r.signal}`).trim().split('\n').slice(-3).join(' | ');
    return { error: why };
  }
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop());
  } catch {
    return { error: `unreadable output: ${r.stdout.slice(-200)}` };
  }
}

/** Where a program is installed, or undefined. */
export function which(name) {
  for (const d of ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/sbin', '/usr/local/bin']) {
    if (sh('test', ['-x', `${d}/${name}`]).status === 0) return `${d}/${name}`;
  }
  return undefined;
}

/**
 * Empties the page cache for a cold measurement: written back first (sync), since drop_caches drops only clean
 * pages, and the metadata of a tree made seconds before (its directories, its inode tables) stays dirty for up to
 * half a minute, so a walk right after would find it cached.
 */
export function dropPageCache() {
  spawnSync('sync');
  writeFileSync('/proc/sys/vm/drop_caches', '3');
}
