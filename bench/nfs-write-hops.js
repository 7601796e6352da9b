// Where a stable NFS WRITE waits inside each server: the same C client
// (bench/c/nfs-bench.c) makes --ops sequential 1 MiB FILE_SYNC WRITEs
// (--inflight at once) while `perf record` takes the server's system calls
// from their tracepoints (the kernel's timestamps, not strace's stops), and
// per call:
//   disk:  from the data's write to the end of its flush: one pwritev2 with
//          RWF_SYNC or RWF_DSYNC (netboot's native backend), or a
//          pwrite/pwritev and the same thread's next fsync or fdatasync
//          (Ganesha, netboot's portable backend), on whichever thread;
//   reply: from that flush's end to the reply's sendmsg (each flush matched
//          to the first sendmsg after it not matched yet, in time order):
//          the hop back to the thread that answers, and its wait for a CPU;
//   read:  netboot only, from the read that completes the call's record (a
//          read into a record buffer of more than 64 KiB filled to what it
//          asked for) to its data's write: the hop to the thread pool.
// and the mean number of calls in their disk stage at once. A server that
// answers from the thread that flushed has no reply hop; a long one means
// the answering thread was busy or waiting for a CPU, which on a loaded
// machine is what to compare, since the disk stage is the file system's.
//
//   node bench/nfs-write-hops.js [--servers netboot,ganesha] [--baseline DIR] [--ops 2000] [--inflight 4] [--stable 2] [--json]
//
// Needs root (network namespaces, perf), linux-perf with the syscalls
// tracepoints, gcc and libnfs-dev; Ganesha is skipped when not installed.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildNfsBench } from './lib/c-client.js';
import { startServers } from './lib/nfs-comparison.js';
import { nfsServerPid } from './lib/nfs-servers.js';
import { cleanups, inNs, load, which } from './lib/processes.js';

const MiB = 1024 * 1024;
const RWF_DSYNC = 2;
const RWF_SYNC = 4;
const WRITES = ['pwrite64', 'pwritev', 'pwritev2'];
const FLUSHES = ['fsync', 'fdatasync'];
const CALLS = [...WRITES, ...FLUSHES, 'read', 'sendmsg'];

const { values } = parseArgs({
  options: {
    servers: { type: 'string', default: 'netboot,ganesha' },
    baseline: { type: 'string' },
    ops: { type: 'string', default: '2000' },
    inflight: { type: 'string', default: '4' },
    stable: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
  },
});

/** Lines of `perf script`: { tid, t (µs), enter, call, args }. */
function syscallEvents(dataFile) {
  const r = spawnSync('perf', ['script', '-i', dataFile], { encoding: 'utf8', maxBuffer: 512 * MiB });
  const out = [];
  for (const line of r.stdout.split('\n')) {
    const m = /\s(\d+)\s+\[\d+\]\s+([\d.]+):\s+syscalls:sys_(enter|exit)_(\w+):\s*(.*)$/.exec(line);
    if (m) out.push({ tid: Number(m[1]), t: Number(m[2]) * 1e6, enter: m[3] === 'enter', call: m[4], args: m[5] });
  }
  return out;
}

const arg = (args, name) => {
  const m = new RegExp(`${name}: (0x[0-9a-f]+)`).exec(args);
  return m ? Number.parseInt(m[1], 16) : undefined;
};

/** Per-call stages from the server's system calls (see the top of this file). */
function stages(evs) {
  const open = new Map();
  const pendingWrite = new Map(); // tid -> start of a write whose flush is still to come on that thread
  const disk = [];
  const writeStarts = [];
  const recordReads = [];
  const sends = [];
  for (const e of evs) {
    if (e.enter) {
      open.set(e.tid, e);
      if (e.call === 'sendmsg') sends.push(e.t);
      continue;
    }
    const s = open.get(e.tid);
    open.delete(e.tid);
    if (!s || s.call !== e.call) continue;
    const ret = Number.parseInt(e.args.trim(), 16);
    if (WRITES.includes(e.call)) {
      writeStarts.push(s.t);
      const flags = e.call === 'pwritev2' ? (arg(s.args, 'flags') ?? 0) : 0;
      if (flags & (RWF_SYNC | RWF_DSYNC)) disk.push({ start: s.t, end: e.t });
      else pendingWrite.set(e.tid, s.t);
    } else if (FLUSHES.includes(e.call) && pendingWrite.has(e.tid)) {
      disk.push({ start: pendingWrite.get(e.tid), end: e.t });
      pendingWrite.delete(e.tid);
    } else if (e.call === 'read') {
      const count = arg(s.args, 'count');
      if (count > 64 * 1024 && ret === count) recordReads.push(e.t);
    }
  }
  const fifo = (from, to) => {
    const a = [...from].sort((x, y) => x - y);
    const b = [...to].sort((x, y) => x - y);
    const gaps = [];
    let j = 0;
    for (const t of a) {
      while (j < b.length && b[j] < t) j++;
      if (j === b.length) break;
      gaps.push(b[j++] - t);
    }
    return gaps;
  };
  const span = disk.length > 1 ? Math.max(...disk.map((d) => d.end)) - Math.min(...disk.map((d) => d.start)) : 0;
  return {
    calls: disk.length,
    callsPerSecond: span > 0 ? Math.round((disk.length / span) * 1e6) : 0,
    disk: disk.map((d) => d.end - d.start),
    reply: fifo(disk.map((d) => d.end), sends),
    read: recordReads.length ? fifo(recordReads, writeStarts) : [],
    inDisk: span > 0 ? disk.reduce((sum, d) => sum + d.end - d.start, 0) / span : 0,
  };
}

function summary(a) {
  if (!a.length) return undefined;
  const s = [...a].sort((x, y) => x - y);
  const at = (p) => Math.round(s[Math.floor(p * (s.length - 1))]);
  return { p50: at(0.5), p90: at(0.9), mean: Math.round(s.reduce((x, y) => x + y, 0) / s.length), n: s.length };
}

async function measure(binary, s, name, work) {
  const pid = nfsServerPid(s.server.pid, name);
  if (!pid) return { error: 'server pid not found' };
  const file = `hops-${name}.bin`;
  writeFileSync(join(s.exportPath, file), '');
  const args = ['--export', s.exportPath, '--file', file, '--op', 'write', '--io', String(MiB), '--inflight', values.inflight,
    '--size', String(64 * MiB), '--count', values.ops, '--seconds', '600', '--warm-ms', '300', '--pause', '--stable', values.stable];
  const [c, a] = inNs(s.ns, binary, args);
  const client = spawn(c, a, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  client.stdout.on('data', (d) => (out += d));
  client.stderr.on('data', (d) => (err += d));
  const exited = new Promise((r) => client.once('exit', r));
  const readyBy = Date.now() + 60_000;
  while (!out.includes('ready')) {
    if (client.exitCode !== null || Date.now() > readyBy) {
      client.kill();
      return { error: `client: ${err.trim() || 'not ready to measure within 60 s'}` };
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const data = join(work, `${name}.perf`);
  const tracepoints = CALLS.flatMap((k) => [`syscalls:sys_enter_${k}`, `syscalls:sys_exit_${k}`]).join(',');
  const perf = spawn('perf', ['record', '-q', '-e', tracepoints, '-o', data, '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise((r) => setTimeout(r, 300)); // perf attached to every thread
  client.stdin.write('go\n');
  await exited;
  perf.kill('SIGINT');
  await new Promise((r) => (perf.exitCode !== null ? r() : perf.once('exit', r)));
  rmSync(join(s.exportPath, file), { force: true });
  let m;
  try {
    m = JSON.parse(out.trim().split('\n').pop());
  } catch {
    return { error: `client: ${err.trim() || out.slice(-200)}` };
  }
  const st = stages(syscallEvents(data));
  return { opsPerSecond: m.opsPerSecond, calls: st.calls, inDisk: Number(st.inDisk.toFixed(2)), disk: summary(st.disk), reply: summary(st.reply), read: summary(st.read) };
}

async function main() {
  if (process.getuid?.() !== 0) {
    console.error('nfs-write-hops: needs root (network namespaces, perf attached to the servers)');
    process.exit(1);
  }
  if (!which('perf')) {
    console.error('nfs-write-hops: perf is not installed (apt-get install linux-perf)');
    process.exit(1);
  }
  const build = buildNfsBench();
  if (build.why) {
    console.error(`nfs-write-hops: the C client: ${build.why}`);
    process.exit(1);
  }
  const atExit = cleanups();
  const work = mkdtempSync(join(tmpdir(), 'nb-nfs-hops-'));
  atExit.add(() => rmSync(work, { recursive: true, force: true }));
  const dir = join(work, 'export');
  mkdirSync(dir);
  try {
    const names = values.servers.split(',');
    const { started, notes } = await startServers(values.baseline && !names.includes('baseline') ? [...names, 'baseline'] : names, { dir, work, atExit, baseline: values.baseline });
    const loadAtStart = load();
    const rows = {};
    for (const [name, s] of Object.entries(started)) rows[name] = await measure(build.path, s, name, work);
    if (values.json) console.log(JSON.stringify({ benchmark: 'nfs-write-hops', params: { ops: Number(values.ops), inflight: Number(values.inflight), stable: Number(values.stable) }, servers: notes, loadAtStart, loadAtEnd: load(), rows }));
    else {
      console.log(`1 MiB WRITE stable=${values.stable} x${values.inflight}, ${values.ops} calls, C client; µs per call p50/p90/mean; load ${loadAtStart.join(' ')}`);
      for (const [n, note] of Object.entries(notes)) console.log(`${n}: ${note}`);
      const f = (x) => (x ? `${x.p50}/${x.p90}/${x.mean}` : '-');
      console.log(`${'server'.padEnd(10)}${'ops/s'.padStart(7)}${'in disk'.padStart(9)}  ${'disk'.padEnd(18)}${'reply hop'.padEnd(18)}read hop`);
      for (const [n, r] of Object.entries(rows)) {
        if (r.error) console.log(`${n.padEnd(10)}${r.error}`);
        else console.log(`${n.padEnd(10)}${String(r.opsPerSecond).padStart(7)}${r.inDisk.toFixed(2).padStart(9)}  ${f(r.disk).padEnd(18)}${f(r.reply).padEnd(18)}${f(r.read)}`);
      }
      console.log(`load at end ${load().join(' ')}; in disk = calls in their disk stage at once (mean)`);
    }
    for (const s of Object.values(started)) await s.server.stop();
  } finally {
    atExit.run();
  }
}

await main();
