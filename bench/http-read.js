// Read throughput of one large file over HTTP on loopback, one fetch and
// several at once: `netboot http` (its own child process, bodies by sendfile
// through @netboot/platform), the same server in portable mode
// (NETBOOT_PLATFORM=portable: bodies by reads into reused 1 MiB buffers),
// Debian's nginx with `sendfile on` and busybox httpd (which also sends with
// sendfile), all fetched by curl to /dev/null, with curl reading a local copy
// through file:// as the ceiling. Server CPU seconds per GiB sent come from
// /proc (threads' schedstat), children included (nginx's workers, busybox's
// child per connection); the curls' own CPU (getrusage of each, through the
// shell's `times`) beside it, and their sum. On loopback the kernel's work
// for one byte (the sender's TCP output, the receiver's TCP input and copy)
// falls on whichever process runs when the packet moves: a server that
// sends as soon as the socket has room pays for part of its clients'
// receive path, one whose sends go out on its clients' acknowledgements
// leaves it to them. The total is what the machine pays per GiB.
// A second cell fetches a 4 KiB file (a boot script's size) --small times
// (default 10000, under a second a server; 0 skips it) over one keep-alive connection, one curl
// (busybox httpd closes each connection; curl opens the next): requests per
// second and server CPU microseconds per request.
//   node bench/http-read.js [--size MiB] [--runs N] [--parallel 1,8] [--small N] [--servers netboot,netboot-reads,nginx,busybox] [--baseline DIR] [--syscalls] [--json]
// --baseline DIR adds another built checkout of netboot as server "netboot
// baseline" (its `netboot http`, sendfile bodies), so a change is measured
// beside what it replaces in the same run. Before the rounds every server
// serves each cell once unmeasured (JIT, page cache).
// Each figure is the best of N rounds; a round measures every server on every
// cell, alternating which server goes first. --syscalls adds one round per
// cell with `perf stat` counting each server's system calls (root and perf
// needed; that round's times are not kept; not busybox, whose child per
// connection is forked after perf attaches): calls per GiB sent, by name.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './lib/free-port.js';
import { load, threadsCpuNs, which } from './lib/processes.js';
import { cell, report } from './lib/report.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const opt = (flag, fallback) => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : fallback;
};
const sizeMiB = Number(opt('--size', '512'));
const runs = Number(opt('--runs', '3'));
const parallels = String(opt('--parallel', '1,8')).split(',').map(Number);
const wanted = String(opt('--servers', 'netboot,netboot-reads,nginx,busybox')).split(',');
const syscalls = args.includes('--syscalls');
const smallCount = Number(opt('--small', '10000'));
const baselineDir = opt('--baseline', undefined);
const SMALL_SIZE = 4096;
if (!(sizeMiB > 0 && runs > 0 && parallels.every((p) => Number.isInteger(p) && p > 0) && Number.isInteger(smallCount) && smallCount >= 0)) {
  console.error('usage: node bench/http-read.js [--size MiB] [--runs N] [--parallel 1,8] [--small N] [--servers netboot,netboot-reads,nginx,busybox] [--baseline DIR] [--syscalls] [--json]');
  process.exit(2);
}
const size = Math.round(sizeMiB * 1024 * 1024);
const cli = fileURLToPath(new URL('../packages/netboot/dist/cli.js', import.meta.url));
const NAMES = { netboot: 'netboot', 'netboot-reads': 'netboot reads', baseline: 'netboot baseline', nginx: 'nginx', busybox: 'busybox httpd' };
const baselineCli = baselineDir === undefined ? undefined : join(baselineDir, 'packages/netboot/dist/cli.js');
if (baselineCli !== undefined && !existsSync(baselineCli)) {
  console.error(`--baseline ${baselineDir}: no ${baselineCli}; build that checkout first (npx tsc -b)`);
  process.exit(2);
}

/**
 * CPU seconds of a process so far: the sum of its threads' run time from
 * /proc/PID/task/TID/schedstat (nanoseconds, where /proc/PID/stat counts
 * 10 ms ticks: a 512 MiB sendfile costs the sender a few ticks in all).
 * Falls back to stat's user+system ticks where schedstat is missing.
 */
function cpu(pid) {
  try {
    return threadsCpuNs(pid) / 1e9;
  } catch {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      return 0;
    }
  }
}

function childrenOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * CPU seconds of a server and its children while `work` runs. Neither
 * busybox httpd (it ignores SIGCHLD) nor nginx (its workers live on) lets
 * children's time reach its own cutime, so children are sampled every 20 ms:
 * a child's time counts from its first sample, from 0 for one born during the
 * run (the last few ms of a short-lived child may be missed).
 */
async function serverCpu(pid, work) {
  const start = cpu(pid);
  const before = new Map(childrenOf(pid).map((k) => [k, cpu(k)]));
  const latest = new Map();
  const sample = () => {
    for (const k of childrenOf(pid)) latest.set(k, Math.max(latest.get(k) ?? 0, cpu(k)));
  };
  const timer = setInterval(sample, 20);
  try {
    const result = await work();
    sample();
    let kids = 0;
    for (const [k, secs] of latest) kids += secs - (before.get(k) ?? 0);
    return { result, secs: cpu(pid) - start + kids };
  } finally {
    clearInterval(timer);
  }
}

function startServer(cmd, argv, env = process.env) {
  const child = spawn(cmd, argv, { detached: true, stdio: ['ignore', 'ignore', 'pipe'], env });
  let err = '';
  child.stderr.on('data', (c) => (err += c));
  return { child, err: () => err };
}

async function waitForHttp(url) {
  for (let i = 0; i < 100; i++) {
    const r = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', url], { encoding: 'utf8' });
    if (r.stdout !== '000') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing answers at ${url}`);
}

/** Seconds in `times` output ("0m0.123s 0m0.456s"): user + system. */
function timesSeconds(line) {
  const m = /(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/.exec(line ?? '');
  return m ? Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]) : NaN;
}

/**
 * `parallel` curls at once: MB/s of all bytes over the slowest curl's time,
 * and the curls' CPU seconds (each run by a shell whose `times` reports its
 * waited-for child's, from getrusage).
 */
async function fetchAll(url, parallel) {
  const one = () =>
    new Promise((resolve, reject) => {
      const c = spawn('bash', ['-c', 'curl -s -S -o /dev/null -w "%{time_total} %{size_download}\\n" "$1" && times', 'fetch', url], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      c.stdout.on('data', (d) => (out += d));
      c.stderr.on('data', (d) => (err += d));
      // 'close', not 'exit': curl's output may still be in the pipe when it exits.
      c.on('close', (code) => {
        const [first, , children] = out.trim().split('\n');
        const [secs, got] = (first ?? '').split(' ').map(Number);
        if (code !== 0 || got !== size) reject(new Error(`curl ${url}: exit ${code}, ${got} of ${size} bytes ${err.trim()}`));
        else resolve({ secs, cpu: timesSeconds(children) });
      });
    });
  const runs = await Promise.all(Array.from({ length: parallel }, one));
  return { mbps: (size * parallel) / 1e6 / Math.max(...runs.map((r) => r.secs)), clientSecs: runs.reduce((a, r) => a + r.cpu, 0) };
}

/**
 * One curl fetching `count` times the small file over one connection (a
 * config file of url/output pairs): requests per second over the curl's
 * wall time, and its CPU seconds.
 */
async function fetchSmall(configFile, count) {
  const started = process.hrtime.bigint();
  const out = await new Promise((resolve, reject) => {
    const c = spawn('bash', ['-c', 'curl -s -S -K "$1" && times', 'fetch', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    let err = '';
    c.stdout.on('data', (d) => (text += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`curl -K ${configFile}: exit ${code} ${err.trim()}`))));
  });
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  return { rps: count / secs, clientSecs: timesSeconds(out.trim().split('\n')[1]) };
}

/** Syscall names counted one by one with --syscalls (where this kernel has their tracepoints); the rest count in the total. */
const SYSCALLS = ['sendfile64', 'epoll_wait', 'epoll_pwait', 'epoll_ctl', 'preadv2', 'pread64', 'read', 'write', 'writev', 'sendmsg', 'openat', 'openat2', 'statx', 'newfstat', 'futex', 'setsockopt', 'ioctl', 'accept4', 'close'];
const traceable = (name) => existsSync(`/sys/kernel/tracing/events/syscalls/sys_enter_${name}`) || existsSync(`/sys/kernel/debug/tracing/events/syscalls/sys_enter_${name}`);

/**
 * `work` with `perf stat` counting the system calls of `pids` (processes
 * there when it attaches: not busybox's child per connection). Counts come
 * every 100 ms (-I), so the work starts once the first interval shows perf
 * attached, and the intervals are summed.
 */
async function countSyscalls(pids, work) {
  const events = ['raw_syscalls:sys_enter', ...SYSCALLS.filter(traceable).map((n) => `syscalls:sys_enter_${n}`)];
  const perf = spawn('perf', ['stat', '-I', '100', '-x', ',', '-e', events.join(','), '-p', pids.join(',')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let text = '';
  let attached = () => {};
  const counting = new Promise((r) => (attached = r));
  perf.stderr.on('data', (d) => {
    text += d;
    if (text.includes('raw_syscalls:sys_enter')) attached();
  });
  const gone = new Promise((r) => perf.once('exit', r));
  const waited = await Promise.race([counting.then(() => true), gone.then(() => false), new Promise((r) => setTimeout(() => r(false), 10_000))]);
  if (!waited) {
    perf.kill('SIGINT');
    throw new Error(`perf did not start counting: ${text.trim().split('\n').slice(-2).join(' | ')}`);
  }
  try {
    await work();
  } finally {
    perf.kill('SIGINT');
    await gone;
  }
  // Interval lines: time,count,unit,event,...
  const counts = {};
  for (const line of text.split('\n')) {
    const f = line.split(',');
    const n = Number(f[1]);
    if (f.length < 4 || !Number.isFinite(n)) continue;
    const name = f[3].replace(/^raw_syscalls:sys_enter$/, 'all').replace(/^syscalls:sys_enter_/, '');
    counts[name] = (counts[name] ?? 0) + n;
  }
  if (counts.all === undefined) throw new Error(`perf counted nothing: ${text.trim().split('\n').slice(-2).join(' | ')}`);
  return counts;
}

const dir = await mkdtemp(join(tmpdir(), 'http-bench-'));
const children = [];
const skipped = {};
try {
  const root = join(dir, 'root');
  await mkdir(root);
  const file = join(root, 'initrd.img');
  const fh = await open(file, 'w');
  const chunk = randomBytes(1024 * 1024);
  for (let at = 0; at < size; at += chunk.length) await fh.write(chunk, 0, Math.min(chunk.length, size - at), at);
  await fh.close();
  await writeFile(join(root, 'boot.cfg'), randomBytes(SMALL_SIZE));

  const servers = {};
  const serve = async (key, cmd, argv, env) => {
    const port = await freePort('tcp');
    const s = startServer(cmd, await argv(port), env);
    children.push(s.child);
    const smallConfig = join(dir, `small-${key}.curlrc`);
    await writeFile(smallConfig, `url = "http://127.0.0.1:${port}/boot.cfg"\noutput = "/dev/null"\n`.repeat(smallCount));
    servers[NAMES[key]] = { pid: s.child.pid, url: `http://127.0.0.1:${port}/initrd.img`, smallConfig, err: s.err };
  };
  const netbootArgs = (port) => [cli, 'http', '--root', root, '--listen', '127.0.0.1', '--port', String(port)];
  if (wanted.includes('netboot')) await serve('netboot', process.execPath, netbootArgs, process.env);
  if (wanted.includes('netboot-reads')) await serve('netboot-reads', process.execPath, netbootArgs, { ...process.env, NETBOOT_PLATFORM: 'portable' });
  if (baselineCli !== undefined) await serve('baseline', process.execPath, (port) => [baselineCli, ...netbootArgs(port).slice(1)], process.env);
  if (wanted.includes('nginx')) {
    const nginx = which('nginx');
    if (!nginx) skipped.nginx = 'not installed (apt-get install nginx-light)';
    else {
      // Debian's nginx.conf as far as a static file goes: sendfile and tcp_nopush on, one worker per core, and
      // its access log (a combined-format line per request, as netboot writes one), to a file here.
      const conf = join(dir, 'nginx.conf');
      await serve('nginx', nginx, async (port) => {
        const text =
          `daemon off;\n${process.getuid?.() === 0 ? 'user root;\n' : ''}worker_processes auto;\npid ${dir}/nginx.pid;\nerror_log ${dir}/nginx-error.log;\n` +
          `events { worker_connections 1024; }\n` +
          `http {\n  access_log ${dir}/nginx-access.log;\n  sendfile on;\n  tcp_nopush on;\n  keepalive_timeout 65;\n  default_type application/octet-stream;\n` +
          `  client_body_temp_path ${dir}/nginx-body;\n  proxy_temp_path ${dir}/nginx-proxy;\n  fastcgi_temp_path ${dir}/nginx-fastcgi;\n` +
          `  uwsgi_temp_path ${dir}/nginx-uwsgi;\n  scgi_temp_path ${dir}/nginx-scgi;\n` +
          `  server { listen 127.0.0.1:${port}; root ${root}; }\n}\n`;
        await writeFile(conf, text);
        return ['-c', conf, '-e', join(dir, 'nginx-error.log')];
      });
    }
  }
  if (wanted.includes('busybox')) {
    if (!which('busybox')) skipped['busybox httpd'] = 'not installed (apt-get install busybox)';
    else await serve('busybox', 'busybox', (port) => ['httpd', '-f', '-p', `127.0.0.1:${port}`, '-h', root]);
  }
  for (const [name, s] of Object.entries(servers)) {
    await waitForHttp(s.url).catch((e) => {
      throw new Error(`${name}: ${e.message} ${s.err().trim()}`);
    });
  }
  const loadAtStart = load();

  const best = {};
  const cpuPerGiB = {};
  const clientCpuPerGiB = {};
  const totalCpuPerGiB = {};
  const keep = (table, p, name, value, higher) => {
    table[p] ??= {};
    const old = table[p][name];
    if (old === undefined || (higher ? value > old : value < old)) table[p][name] = value;
  };
  for (const p of parallels) for (const s of Object.values(servers)) await fetchAll(s.url, p).catch(() => {}); // warm: JIT, page cache
  if (smallCount > 0) for (const s of Object.values(servers)) await fetchSmall(s.smallConfig, smallCount).catch(() => {});
  for (let run = 0; run < runs; run++) {
    for (const p of parallels) {
      const order = run % 2 === 0 ? Object.entries(servers) : Object.entries(servers).reverse();
      for (const [name, s] of order) {
        const { result, secs } = await serverCpu(s.pid, () => fetchAll(s.url, p));
        const gib = (size * p) / 2 ** 30;
        keep(best, p, name, Number(result.mbps.toFixed(0)), true);
        keep(cpuPerGiB, p, name, Number((secs / gib).toFixed(4)), false);
        keep(clientCpuPerGiB, p, name, Number((result.clientSecs / gib).toFixed(4)), false);
        keep(totalCpuPerGiB, p, name, Number(((secs + result.clientSecs) / gib).toFixed(4)), false);
      }
      let local = 0;
      for (let i = 0; i < p; i++) {
        const r = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{speed_download}', `file://${file}`], { encoding: 'utf8' });
        local = Math.max(local, Number(r.stdout) / 1e6);
      }
      keep(best, p, 'curl file://', Number(local.toFixed(0)), true);
    }
    if (smallCount > 0) {
      const order = run % 2 === 0 ? Object.entries(servers) : Object.entries(servers).reverse();
      for (const [name, s] of order) {
        const { result, secs } = await serverCpu(s.pid, () => fetchSmall(s.smallConfig, smallCount));
        keep(best, 'small', name, Number(result.rps.toFixed(0)), true);
        keep(cpuPerGiB, 'small', name, Number(((secs * 1e6) / smallCount).toFixed(1)), false);
      }
    }
  }

  // Syscalls per GiB sent: one more round under perf, not timed.
  const syscallsPerGiB = {};
  let syscallsSkipped;
  if (syscalls && process.getuid?.() !== 0) syscallsSkipped = 'needs root (perf attached to the servers)';
  else if (syscalls && !which('perf')) syscallsSkipped = 'perf is not installed (apt-get install linux-perf)';
  else if (syscalls) {
    for (const p of parallels) {
      for (const [name, s] of Object.entries(servers)) {
        // busybox forks a child per connection, after perf has attached: it would count nothing.
        if (name === 'busybox httpd') continue;
        // nginx's master only waits: its workers serve.
        const pids = name === 'nginx' ? childrenOf(s.pid) : [String(s.pid)];
        const counts = await countSyscalls(pids, () => fetchAll(s.url, p));
        const gib = (size * p) / 2 ** 30;
        syscallsPerGiB[p] ??= {};
        syscallsPerGiB[p][name] = Object.fromEntries(
          Object.entries(counts)
            .filter(([, v]) => v > 0)
            .sort((a, b) => b[1] - a[1])
            .map(([k, v]) => [k, Math.round(v / gib)]),
        );
      }
    }
    if (smallCount > 0) {
      syscallsPerGiB.small = {};
      for (const [name, s] of Object.entries(servers)) {
        if (name === 'busybox httpd') continue;
        const pids = name === 'nginx' ? childrenOf(s.pid) : [String(s.pid)];
        const counts = await countSyscalls(pids, () => fetchSmall(s.smallConfig, smallCount));
        syscallsPerGiB.small[name] = Object.fromEntries(
          Object.entries(counts)
            .filter(([, v]) => v > 0)
            .sort((a, b) => b[1] - a[1])
            .map(([k, v]) => [k, Number((v / smallCount).toFixed(2))]),
        );
      }
    }
  }

  const names = Object.keys(servers);
  const ratio = (a, b) => (typeof a === 'number' && typeof b === 'number' && a > 0 && b > 0 ? Number((a / b).toFixed(3)) : null);
  const cells = [];
  for (const p of parallels) {
    const mbps = Object.fromEntries(names.map((n) => [n, best[p][n] ?? null]));
    const cpus = Object.fromEntries(names.map((n) => [n, cpuPerGiB[p][n] ?? null]));
    const totals = Object.fromEntries(names.map((n) => [n, totalCpuPerGiB[p][n] ?? null]));
    cells.push(
      cell({
        key: `read/p${p}`,
        label: `${sizeMiB} MiB x ${p} over HTTP`,
        unit: 'MB/s',
        values: { ...mbps, 'curl file://': best[p]['curl file://'] },
        reference: 'nginx',
        detail: {
          'netboot / busybox httpd': ratio(mbps.netboot, mbps['busybox httpd']),
          'netboot reads / nginx': ratio(mbps['netboot reads'], mbps.nginx),
          'netboot / netboot reads': ratio(mbps.netboot, mbps['netboot reads']),
        },
      }),
      cell({
        key: `cpu/p${p}`,
        label: `server CPU seconds per GiB sent, ${p} at once`,
        unit: 's/GiB',
        higherIsBetter: false,
        values: cpus,
        reference: 'nginx',
        detail: {
          'busybox httpd / netboot': ratio(cpus['busybox httpd'], cpus.netboot),
          'nginx / netboot reads': ratio(cpus.nginx, cpus['netboot reads']),
        },
      }),
      cell({
        key: `cpu-total/p${p}`,
        label: `server and client CPU seconds per GiB sent, ${p} at once`,
        unit: 's/GiB',
        higherIsBetter: false,
        values: totals,
        reference: 'nginx',
        detail: { clients: Object.fromEntries(names.map((n) => [n, clientCpuPerGiB[p][n] ?? null])) },
      }),
    );
    if (syscallsPerGiB[p]) {
      cells.push(
        cell({
          key: `syscalls/p${p}`,
          label: `server system calls per GiB sent, ${p} at once`,
          unit: 'calls/GiB',
          higherIsBetter: false,
          values: Object.fromEntries(names.map((n) => [n, syscallsPerGiB[p][n]?.all ?? null])),
          reference: 'nginx',
          detail: syscallsPerGiB[p],
        }),
      );
    }
  }
  const serverInfo = Object.fromEntries([...Object.entries(servers).map(([n, s]) => [n, { pid: s.pid }]), ...Object.entries(skipped).map(([n, why]) => [n, { why }])]);
  if (smallCount > 0) {
    cells.push(
      cell({
        key: 'small/keepalive',
        label: `a ${SMALL_SIZE / 1024} KiB file ${smallCount} times over one keep-alive connection`,
        unit: 'req/s',
        values: Object.fromEntries(names.map((n) => [n, best.small?.[n] ?? null])),
        reference: 'nginx',
      }),
      cell({
        key: 'small-cpu/keepalive',
        label: `server CPU microseconds per request, a ${SMALL_SIZE / 1024} KiB file`,
        unit: 'us/req',
        higherIsBetter: false,
        values: Object.fromEntries(names.map((n) => [n, cpuPerGiB.small?.[n] ?? null])),
        reference: 'nginx',
      }),
    );
    if (syscallsPerGiB.small) {
      cells.push(
        cell({
          key: 'small-syscalls/keepalive',
          label: `server system calls per request, a ${SMALL_SIZE / 1024} KiB file`,
          unit: 'calls/req',
          higherIsBetter: false,
          values: Object.fromEntries(names.map((n) => [n, syscallsPerGiB.small[n]?.all ?? null])),
          reference: 'nginx',
          detail: syscallsPerGiB.small,
        }),
      );
    }
  }
  if (syscallsSkipped) console.error(`http-read: no syscall counts: ${syscallsSkipped}`);
  if (json) {
    console.log(JSON.stringify(report({ benchmark: 'http-read', params: { sizeMiB, runs, parallel: parallels, small: smallCount }, servers: serverInfo, loadAtStart, cells })));
  } else {
    console.log(`${sizeMiB} MiB file, best of ${runs} alternating rounds (load at start ${loadAtStart.join(' ')}, at end ${load().join(' ')})`);
    for (const [n, why] of Object.entries(skipped)) console.log(`  ${n}: skipped, ${why}`);
    for (const p of parallels) {
      console.log(`  ${p} curl at once`);
      for (const n of names) {
        console.log(
          `    ${n.padEnd(14)} ${String(best[p][n]).padStart(6)} MB/s   CPU s per GiB sent: server ${cpuPerGiB[p][n]}, curls ${clientCpuPerGiB[p][n]}, both ${totalCpuPerGiB[p][n]}`,
        );
        const calls = syscallsPerGiB[p]?.[n];
        if (calls) console.log(`    ${''.padEnd(14)} syscalls per GiB: ${Object.entries(calls).map(([k, v]) => `${k} ${v}`).join(', ')}`);
      }
      console.log(`    ${'curl file://'.padEnd(14)} ${String(best[p]['curl file://']).padStart(6)} MB/s   (a local copy read by curl: the ceiling)`);
      for (const ref of ['nginx', 'busybox httpd']) {
        if (best[p][ref] && best[p].netboot) {
          console.log(
            `    netboot / ${ref}: ${ratio(best[p].netboot, best[p][ref])}x throughput, ${ratio(cpuPerGiB[p][ref], cpuPerGiB[p].netboot)}x server CPU efficiency, ${ratio(totalCpuPerGiB[p][ref], totalCpuPerGiB[p].netboot)}x with the curls'`,
          );
        }
      }
    }
    if (smallCount > 0) {
      console.log(`  a ${SMALL_SIZE / 1024} KiB file ${smallCount} times over one keep-alive connection`);
      for (const n of names) {
        console.log(`    ${n.padEnd(14)} ${String(best.small?.[n]).padStart(6)} req/s   server CPU ${cpuPerGiB.small?.[n]} us per request`);
        const calls = syscallsPerGiB.small?.[n];
        if (calls) console.log(`    ${''.padEnd(14)} syscalls per request: ${Object.entries(calls).map(([k, v]) => `${k} ${v}`).join(', ')}`);
      }
      if (best.small?.netboot && best.small?.nginx) {
        console.log(`    netboot / nginx: ${ratio(best.small.netboot, best.small.nginx)}x requests/s, ${ratio(cpuPerGiB.small.nginx, cpuPerGiB.small.netboot)}x server CPU efficiency`);
      }
      if (cpuPerGiB.small?.netboot && cpuPerGiB.small?.['netboot baseline']) {
        console.log(`    netboot / netboot baseline: ${ratio(cpuPerGiB.small['netboot baseline'], cpuPerGiB.small.netboot)}x server CPU efficiency`);
      }
    }
  }
} finally {
  for (const c of children) {
    try {
      process.kill(-c.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await rm(dir, { recursive: true, force: true });
}
