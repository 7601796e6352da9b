// What one NFS operation costs each server: system calls per op (all
// threads, and how many of them the event loop's thread and the others
// make), event-loop turns (epoll_wait) per op, futex calls (thread hand-offs),
// and CPU microseconds per op in user and kernel time (/proc/PID/stat), for
// netboot beside NFS-Ganesha, under the same C client (bench/c/nfs-bench.c).
//
// Each cell: the client warms up, pauses, `perf stat --per-thread` is
// attached to the server, the client makes exactly --ops calls (N in flight),
// perf is stopped. Counting does not slow the server (tracepoint counters,
// not strace), so the figures are the server's ordinary path.
//
//   node bench/nfs-cost.js [--cells seq1,seq4,seq16,read8k16,read64k8,random,getattr,lookup,lookup1,write4,write16,filesync4,walk] [--servers netboot,ganesha]
//                          [--scale 1] [--tree-entries 3000] [--baseline DIR] [--image-root] [--json]
//
// --baseline DIR adds another built checkout of netboot as server "baseline",
// to set a change beside what it changes. Servers "serve" and "status" are
// this netboot as `netboot serve` without and with --status-port (boot
// events and metrics on): `--servers serve,status` shows what events cost
// each operation, both measured in the same run. --image-root adds server
// "image": this netboot serving the same files as an image-backed node root
// (and "baseline-image", the baseline serving them so, with --baseline), to
// set the image backend's cost beside the plain export's in one run. The
// write cells are not measured on an image root (their file is made beside
// the server, in the export's directory).
//
// --scale multiplies every cell's number of calls. Needs root and perf
// (linux-perf) with the syscalls tracepoints, gcc and libnfs-dev.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildNfsBench, runNfsBench, warmUpWalks } from './lib/c-client.js';
import { startServers } from './lib/nfs-comparison.js';
import { nfsServerPid, nfsThreads } from './lib/nfs-servers.js';
import { cleanups, delayAccounting, dropPageCache, inNs, load, threadsBlockedSeconds, threadsCpuNs as cpuNs, threadsSchedstat, which } from './lib/processes.js';
import { copyRealTree } from './lib/real-tree.js';
import { cell as jsonCell, report } from './lib/report.js';

const MiB = 1024 * 1024;
const FILE = 'bench.bin';
const SIZE = 256 * MiB;
const CLK_TCK = 100;

const CELLS = {
  seq1: { label: 'READ seq 1 MiB x1', op: 'read', io: MiB, inflight: 1, ops: 3000 },
  seq4: { label: 'READ seq 1 MiB x4', op: 'read', io: MiB, inflight: 4, ops: 3000 },
  seq16: { label: 'READ seq 1 MiB x16', op: 'read', io: MiB, inflight: 16, ops: 3000 },
  read8k16: { label: 'READ seq 8 KiB x16', op: 'read', io: 8192, inflight: 16, ops: 60000 },
  read64k8: { label: 'READ seq 64 KiB x8', op: 'read', io: 65536, inflight: 8, ops: 20000 },
  read64k16: { label: 'READ seq 64 KiB x16', op: 'read', io: 65536, inflight: 16, ops: 20000 },
  random: { label: 'READ random 4 KiB x16', op: 'random', io: 4096, inflight: 16, ops: 60000 },
  getattr: { label: 'GETATTR x16', op: 'getattr', io: 4096, inflight: 16, ops: 60000 },
  lookup: { label: 'LOOKUP x16', op: 'lookup', io: 4096, inflight: 16, ops: 60000 },
  // One call in flight, as a walk makes them: every call pays a whole event-loop turn (poll, read, write).
  lookup1: { label: 'LOOKUP x1', op: 'lookup', io: 4096, inflight: 1, ops: 20000 },
  write4: { label: 'WRITE 1 MiB UNSTABLE x4', op: 'write', io: MiB, inflight: 4, ops: 1500, stable: 0 },
  write16: { label: 'WRITE 1 MiB UNSTABLE x16', op: 'write', io: MiB, inflight: 16, ops: 1500, stable: 0 },
  filesync4: { label: 'WRITE 1 MiB FILE_SYNC x4', op: 'write', io: MiB, inflight: 4, ops: 600, stable: 2 },
  filesync16: { label: 'WRITE 1 MiB FILE_SYNC x16', op: 'write', io: MiB, inflight: 16, ops: 600, stable: 2 },
  // One cold walk of a copy of part of /usr/lib in the export (page cache dropped first; no server has
  // seen the tree before, each has walked a smaller copy): per call, READDIRPLUS and LOOKUP together.
  // The count is the walk's, not --scale's.
  walk: { label: 'cold walk (nfs-ls -R)', op: 'walk', io: 4096, inflight: 1, ops: 0 },
};
const TREE = 'usr-lib';
const TREE_WARM = 'usr-lib-warm';

// The calls named in the table; every other call is still in the total.
const SYSCALLS = ['read', 'write', 'readv', 'writev', 'pread64', 'pwrite64', 'preadv', 'pwritev', 'preadv2', 'pwritev2', 'sendmsg', 'sendfile64', 'recvmsg', 'sendto',
  'recvfrom', 'epoll_wait', 'epoll_pwait', 'epoll_ctl', 'futex', 'fsync', 'fdatasync', 'newfstat', 'newlstat', 'statx', 'openat', 'openat2', 'getdents64',
  'close', 'io_uring_enter', 'mmap', 'munmap', 'madvise', 'mprotect', 'getrusage', 'poll', 'ppoll'];

const { values } = parseArgs({
  options: {
    cells: { type: 'string', default: Object.keys(CELLS).join(',') },
    servers: { type: 'string', default: 'netboot,ganesha' },
    scale: { type: 'string', default: '1' },
    // Entries of /usr/lib copied for the walk cell: a larger tree makes more calls, so a steadier figure per call.
    'tree-entries': { type: 'string', default: '3000' },
    baseline: { type: 'string' },
    'image-root': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});

/** user and system CPU seconds of a process (all its threads), each thread's seconds blocked on block I/O, and when. */
function cpu(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]) / CLK_TCK, sys: Number(f[12]) / CLK_TCK, blkio: threadsBlockedSeconds(pid), at: process.hrtime.bigint() };
}

/** Bytes the process had read from storage (its page-cache misses), from /proc/PID/io. */
function diskRead(pid) {
  const m = /^read_bytes: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

function lineReader(stream) {
  let buf = '';
  const waiters = [];
  stream.setEncoding('utf8');
  stream.on('data', (c) => {
    buf += c;
    let i;
    while ((i = buf.indexOf('\n')) >= 0 && waiters.length) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      waiters.shift()(line);
    }
  });
  return () => new Promise((resolve) => {
    const i = buf.indexOf('\n');
    if (i >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      resolve(line);
    } else waiters.push(resolve);
  });
}

/** Whether this kernel has the syscall's tracepoint (not every architecture has every call). */
const traceable = (name) => existsSync(`/sys/kernel/tracing/events/syscalls/sys_enter_${name}`) || existsSync(`/sys/kernel/debug/tracing/events/syscalls/sys_enter_${name}`);

/**
 * Cache flushes the block device holding `path` has completed (the flush field of its /sys stat: every fsync,
 * fdatasync or O_SYNC write that reached the disk, of any process), or undefined where there is none (tmpfs).
 */
function deviceFlushes(path) {
  const dev = statSync(path, { bigint: true }).dev;
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  try {
    const f = readFileSync(`/sys/dev/block/${major}:${minor}/stat`, 'utf8').trim().split(/\s+/);
    return f.length >= 17 ? Number(f[15]) : undefined;
  } catch {
    return undefined;
  }
}

const exited = (child) => new Promise((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code))));

/** One cell against one server: the client's figures and what perf counted on the server. */
async function measureCell(binary, started, name, pid, def, ops) {
  let file = FILE;
  if (def.op === 'write' && name.endsWith('image')) return { error: 'not measured on an image-backed root' };
  if (def.op === 'write') {
    file = `cost-${name}-${def.stable}.bin`;
    writeFileSync(join(started.exportPath, file), '');
  }
  const args = ['--export', started.exportPath, '--file', file, '--op', def.op, '--io', String(def.io), '--inflight', String(def.inflight),
    '--size', String(def.op === 'write' ? 64 * MiB : SIZE), '--count', String(ops), '--seconds', '600', '--warm-ms', '300', '--pause',
    ...(def.op === 'write' ? ['--stable', String(def.stable)] : [])];
  if (def.op === 'walk') {
    // A running server meeting a tree it has not seen: warmed up on another tree first (its JIT, not its caches), on every NFS thread.
    const warm = warmUpWalks(started.ns, binary, started.exportPath, TREE_WARM, nfsThreads());
    if (warm.error) return { error: `warm-up walk: ${warm.error}` };
    args.splice(0, args.length, '--export', started.exportPath, '--op', 'walk', '--dir', TREE, '--pause');
    dropPageCache();
  }
  const [c, a] = inNs(started.ns, binary, args);
  const client = spawn(c, a, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  client.stderr.on('data', (d) => (stderr += d));
  const next = lineReader(client.stdout);
  // Every cell's client warms up (writes too, so the server has compiled its write path) and waits for perf.
  const ready = await Promise.race([next(), exited(client).then(() => null)]);
  if (ready !== 'ready') return { error: `client: ${stderr.trim() || 'exited before warming up'}` };
  // ext4's file syncs count an O_SYNC or RWF_SYNC write's flush too, which the syscall names hide.
  const fileSyncs = existsSync('/sys/kernel/tracing/events/ext4/ext4_sync_file_enter') ? ['ext4:ext4_sync_file_enter'] : [];
  const events = ['raw_syscalls:sys_enter', ...SYSCALLS.filter(traceable).map((s) => `syscalls:sys_enter_${s}`), ...fileSyncs];
  const perf = spawn('perf', ['stat', '--per-thread', '-x', ',', '-e', events.join(','), '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let perfOut = '';
  perf.stderr.on('data', (d) => (perfOut += d));
  await new Promise((r) => setTimeout(r, 300)); // perf attached to every thread
  const cpu0 = cpu(pid);
  const ns0 = cpuNs(pid);
  const threads0 = threadsSchedstat(pid);
  const disk0 = diskRead(pid);
  const flushes0 = def.op === 'write' ? deviceFlushes(started.exportPath) : undefined;
  client.stdin.write('go\n');
  const result = await next();
  await exited(client);
  const cpu1 = cpu(pid);
  const ns1 = cpuNs(pid);
  const threads1 = threadsSchedstat(pid);
  const disk1 = diskRead(pid);
  const flushes1 = flushes0 === undefined ? undefined : deviceFlushes(started.exportPath);
  perf.kill('SIGINT');
  await exited(perf);
  if (def.op === 'write') rmSync(join(started.exportPath, file), { force: true });
  if (def.op === 'walk') readFileSync(join(started.dataDir ?? started.exportPath, FILE)); // the read cells after it find the file cached again (an image root's on the image)
  let m;
  try {
    m = JSON.parse(result);
  } catch {
    return { error: `client: ${stderr.trim() || result}` };
  }
  const n = m.measuredOps;
  // perf --per-thread -x,: "comm-tid,count,,event,..."
  const perThread = new Map();
  const total = {};
  for (const line of perfOut.split('\n')) {
    const f = line.split(',');
    if (f.length < 4 || !f[3]) continue;
    const count = Number(f[1]);
    if (!Number.isFinite(count)) continue;
    const ev = f[3].replace(/^raw_syscalls:sys_enter$/, 'all').replace(/^syscalls:sys_enter_/, '').replace(/^ext4:ext4_sync_file_enter$/, 'ext4 file syncs');
    total[ev] = (total[ev] ?? 0) + count;
    const t = perThread.get(f[0]) ?? {};
    t[ev] = (t[ev] ?? 0) + count;
    perThread.set(f[0], t);
  }
  if (!total.all) return { error: `perf counted nothing: ${perfOut.trim().split('\n').slice(-2).join(' | ')}` };
  // The event loop's thread is the one named after the process (node's main thread; for Ganesha, the one with most epoll_wait).
  let loopThread;
  for (const [t, c] of perThread) if (!loopThread || (c.epoll_wait ?? 0) + (c.epoll_pwait ?? 0) > (perThread.get(loopThread).epoll_wait ?? 0) + (perThread.get(loopThread).epoll_pwait ?? 0)) loopThread = t;
  const loop = perThread.get(loopThread) ?? {};
  const per = (x) => Number(((x ?? 0) / n).toFixed(2));
  const named = Object.fromEntries(
    Object.entries(total)
      .filter(([k, v]) => k !== 'all' && v / n >= 0.05)
      .sort((x, y) => y[1] - x[1])
      .map(([k, v]) => [k, per(v)]),
  );
  // The thread that ran most over the calls: for netboot the NFS worker serving the connection, whose work
  // for one call is serial (the calls of a connection can go no faster than it), and how long it waited
  // for a CPU while runnable.
  let busiest = { name: '', tid: '', run: 0, wait: 0 };
  for (const [tid, t1] of threads1) {
    const t0 = threads0.get(tid) ?? { run: 0, wait: 0 };
    if (t1.run - t0.run > busiest.run) busiest = { name: t1.name, tid, run: t1.run - t0.run, wait: t1.wait - t0.wait };
  }
  // Time blocked on the disk over the calls, by thread: a thread seen at both ends, within the span (a thread
  // blocked when delay accounting was switched on reports its wait from boot).
  const span = Number(cpu1.at - cpu0.at) / 1e9;
  const blocked = (tid) => {
    const d = (cpu1.blkio.get(tid) ?? 0) - (cpu0.blkio.get(tid) ?? Infinity);
    return d >= 0 && d <= span ? d : 0;
  };
  let blockedAll = 0;
  for (const tid of cpu1.blkio.keys()) blockedAll += blocked(tid);
  const threadsBusy = [...perThread.values()].filter((t) => (t.all ?? 0) / n >= 0.05).length;
  return {
    ops: n,
    clientSeconds: m.seconds,
    opsPerSecond: m.opsPerSecond,
    syscallsPerOp: per(total.all),
    loopThreadSyscallsPerOp: per(loop.all),
    otherThreadsSyscallsPerOp: per(total.all - (loop.all ?? 0)),
    loopTurnsPerOp: per((total.epoll_wait ?? 0) + (total.epoll_pwait ?? 0)),
    futexPerOp: per(total.futex),
    threadsBusy,
    cpuUsPerOp: Number(((ns1 - ns0) / 1e3 / n).toFixed(1)),
    busiestThread: busiest.name,
    busiestThreadUsPerOp: Number((busiest.run / 1e3 / n).toFixed(1)),
    busiestThreadWaitUsPerOp: Number((busiest.wait / 1e3 / n).toFixed(1)),
    userUsPerOp: Number((((cpu1.user - cpu0.user) * 1e6) / n).toFixed(1)),
    sysUsPerOp: Number((((cpu1.sys - cpu0.sys) * 1e6) / n).toFixed(1)),
    syscalls: named,
    ...(def.op === 'walk' ? { walk: { readdirplus: m.readdirplus, lookup: m.lookup, entries: m.entries, dirs: m.dirs, seconds: m.seconds, diskKiB: Math.round((disk1 - disk0) / 1024), blockedMs: Math.round(blockedAll * 1000), busiestBlockedMs: Math.round(blocked(busiest.tid) * 1000) } } : {}),
    ...(flushes1 === undefined ? {} : { deviceFlushesPerOp: per(flushes1 - flushes0) }),
  };
}

async function main() {
  const cellNames = values.cells.split(',');
  const servers = values.servers.split(',');
  if (values['image-root']) servers.push('image');
  const scale = Number(values.scale);
  const treeEntries = Number(values['tree-entries']);
  if (!(Number.isInteger(treeEntries) && treeEntries >= 100 && treeEntries <= 100_000)) {
    console.error('nfs-cost: --tree-entries takes 100 to 100000');
    process.exit(2);
  }
  if (cellNames.some((c) => !CELLS[c]) || servers.some((s) => !['netboot', 'ganesha', 'baseline', 'serve', 'status', 'image'].includes(s)) || !(scale > 0 && scale <= 20)) {
    console.error(`usage: node bench/nfs-cost.js [--cells ${Object.keys(CELLS).join(',')}] [--servers netboot,ganesha,serve,status,image] [--scale 0-20] [--tree-entries 100-100000] [--baseline DIR] [--image-root] [--json]`);
    process.exit(2);
  }
  if (process.getuid?.() !== 0) {
    console.error('nfs-cost: needs root (network namespaces, perf attached to the servers)');
    process.exit(1);
  }
  if (!which('perf')) {
    console.error('nfs-cost: perf is not installed (apt-get install linux-perf)');
    process.exit(1);
  }
  const build = buildNfsBench();
  if (build.why) {
    console.error(`nfs-cost: the C client: ${build.why}`);
    process.exit(1);
  }
  const atExit = cleanups();
  const work = mkdtempSync(join(tmpdir(), 'nb-nfs-cost-'));
  atExit.add(() => rmSync(work, { recursive: true, force: true }));
  const dir = join(work, 'export');
  mkdirSync(dir);
  try {
    const fd = openSync(join(dir, FILE), 'w');
    const chunk = randomBytes(MiB);
    for (let at = 0; at < SIZE; at += MiB) writeSync(fd, chunk, 0, MiB, at);
    closeSync(fd);
    if (cellNames.includes('walk')) {
      // The walk's time blocked on the disk, summed over the server's threads.
      const restore = delayAccounting();
      if (restore) atExit.add(restore);
      copyRealTree('/usr/lib', join(dir, TREE), { maxEntries: treeEntries });
      copyRealTree('/usr/lib', join(dir, TREE_WARM), { maxEntries: 500 });
    }
    // add-node writes the node's etc/hostname and etc/fstab into its layer: a root has an etc.
    if (servers.includes('image')) mkdirSync(join(dir, 'etc'));
    readFileSync(join(dir, FILE)); // page cache warm
    const { started, notes } = await startServers(values.baseline && !servers.includes('baseline') ? [...servers, 'baseline', ...(servers.includes('image') ? ['baseline-image'] : [])] : servers, { dir, work, atExit, baseline: values.baseline });
    const pids = Object.fromEntries(Object.keys(started).map((n) => [n, nfsServerPid(started[n].server.pid, n)]));
    const loadAtStart = load();
    if (!values.json) {
      console.log(`per-op cost on the server, C client (bench/c/nfs-bench.c), perf stat --per-thread over a fixed number of calls; load ${loadAtStart.join(' ')}`);
      for (const [n, note] of Object.entries(notes)) console.log(`${n}: ${note}${pids[n] ? ` (server pid ${pids[n]})` : ''}`);
      console.log(
        `${'cell'.padEnd(26)}${'server'.padEnd(15)}${'ops/s'.padStart(8)}${'sys/op'.padStart(8)}${'loop'.padStart(7)}${'other'.padStart(7)}` +
          `${'turns'.padStart(7)}${'futex'.padStart(7)}${'cpu µs'.padStart(8)}${'usr µs'.padStart(8)}${'sys µs'.padStart(8)}  calls per op`,
      );
    }
    const rows = [];
    for (const c of cellNames) {
      const def = CELLS[c];
      const row = { cell: c, label: def.label };
      for (const name of Object.keys(started)) {
        row[name] = pids[name] ? await measureCell(build.path, started[name], name, pids[name], def, Math.round(def.ops * scale)) : { error: 'server pid not found' };
        if (!values.json) {
          const r = row[name];
          if (r.error) console.log(`${def.label.padEnd(26)}${name.padEnd(15)}${r.error}`);
          else {
            console.log(
              `${def.label.padEnd(26)}${name.padEnd(15)}${String(r.opsPerSecond).padStart(8)}${r.syscallsPerOp.toFixed(1).padStart(8)}` +
                `${r.loopThreadSyscallsPerOp.toFixed(1).padStart(7)}${r.otherThreadsSyscallsPerOp.toFixed(1).padStart(7)}${r.loopTurnsPerOp.toFixed(2).padStart(7)}` +
                `${r.futexPerOp.toFixed(2).padStart(7)}${r.cpuUsPerOp.toFixed(0).padStart(8)}${r.userUsPerOp.toFixed(0).padStart(8)}${r.sysUsPerOp.toFixed(0).padStart(8)}  ` +
                [`busiest thread (${r.busiestThread}) ${r.busiestThreadUsPerOp.toFixed(0)} µs (runnable ${r.busiestThreadWaitUsPerOp.toFixed(0)})`, ...(r.deviceFlushesPerOp === undefined ? [] : [`disk flushes ${r.deviceFlushesPerOp}`]), ...Object.entries(r.syscalls).map(([k, v]) => `${k} ${v}`)].join(', ') +
                (r.walk ? `; per walk: ${r.walk.readdirplus} READDIRPLUS, ${r.walk.lookup} LOOKUP (${r.walk.entries} entries, ${r.walk.dirs} directories), ${(r.walk.seconds * 1000).toFixed(0)} ms, disk read ${r.walk.diskKiB} KiB, blocked on the disk ${r.walk.busiestBlockedMs} ms (busiest thread), ${r.walk.blockedMs} ms (all threads)` : ''),
            );
          }
        }
      }
      rows.push(row);
    }
    if (values.json) {
      const cells = [];
      for (const r of rows) {
        for (const [metric, unit] of [['syscallsPerOp', 'syscalls/op'], ['cpuUsPerOp', 'cpu µs/op'], ['userUsPerOp', 'user µs/op'], ['sysUsPerOp', 'sys µs/op']]) {
          cells.push(
            jsonCell({
              key: `${r.cell}/${metric}`,
              label: `${r.label}: ${unit}`,
              unit,
              higherIsBetter: false,
              values: Object.fromEntries(Object.keys(started).map((n) => [n, r[n]?.[metric] ?? null])),
              reference: 'ganesha',
              detail: metric === 'syscallsPerOp' ? Object.fromEntries(Object.keys(started).map((n) => [n, r[n]])) : {},
            }),
          );
        }
      }
      console.log(JSON.stringify(report({ benchmark: 'nfs-cost', params: { scale, cells: cellNames }, servers: notes, loadAtStart, cells })));
    } else console.log(`load at end ${load().join(' ')}; loop = calls on the thread with most epoll_wait (the event loop), other = all other threads, turns = epoll_wait per op, cpu µs = all threads' CPU per op (schedstat; usr/sys split from 10 ms ticks), busiest thread = the CPU per op of the thread that ran most, and its time runnable waiting for a CPU`);
    for (const s of Object.values(started)) await s.server.stop();
  } finally {
    atExit.run();
  }
}

await main();
