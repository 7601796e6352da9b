// Read throughput of one large file over HTTP on loopback: `netboot http`
// (its own child process) beside busybox httpd (Debian's busybox, which sends
// files with sendfile(2)), both fetched by curl to /dev/null, with curl
// reading a local copy through file:// as the ceiling. Server CPU seconds per
// GiB sent come from /proc (busybox forks a child per connection: they are
// sampled while they run).
//   node bench/http-read.js [--size MiB] [--runs N] [--parallel N] [--json]
// Each figure is the best of N runs, alternating which server goes first.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load, which } from './lib/processes.js';
import { cell, report } from './lib/report.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const opt = (flag, fallback) => {
  const i = args.indexOf(flag);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const sizeMiB = opt('--size', 512);
const runs = opt('--runs', 3);
const parallel = opt('--parallel', 1);
if (!(sizeMiB > 0 && runs > 0 && parallel > 0)) {
  console.error('usage: node bench/http-read.js [--size MiB] [--runs N] [--parallel N] [--json]');
  process.exit(2);
}
const size = Math.round(sizeMiB * 1024 * 1024);
const cli = fileURLToPath(new URL('../packages/netboot/dist/cli.js', import.meta.url));

async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/** user+system seconds of a process so far. */
function cpu(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

/**
 * CPU seconds of a server and the children it forks while `work` runs:
 * busybox httpd ignores SIGCHLD, so its children's time never reaches its
 * own cutime; they are sampled every 20 ms instead (the last few ms of each
 * child may be missed).
 */
async function serverCpu(pid, work) {
  const start = cpu(pid);
  const children = new Map();
  const sample = () => {
    let kids = [];
    try {
      kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    } catch {
      // no children file: only the server's own time counts
    }
    for (const k of kids) children.set(k, Math.max(children.get(k) ?? 0, cpu(k)));
  };
  const timer = setInterval(sample, 20);
  try {
    const result = await work();
    sample();
    return { result, secs: cpu(pid) - start + [...children.values()].reduce((a, b) => a + b, 0) };
  } finally {
    clearInterval(timer);
  }
}

function startServer(cmd, argv) {
  const child = spawn(cmd, argv, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
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

/** `parallel` curls at once; MB/s of all bytes over the slowest curl's time. */
async function fetchAll(url) {
  const one = () =>
    new Promise((resolve, reject) => {
      const c = spawn('curl', ['-s', '-S', '-o', '/dev/null', '-w', '%{time_total} %{size_download}', url], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      c.stdout.on('data', (d) => (out += d));
      c.stderr.on('data', (d) => (err += d));
      c.on('exit', (code) => {
        const [secs, got] = out.trim().split(' ').map(Number);
        if (code !== 0 || got !== size) reject(new Error(`curl ${url}: exit ${code}, ${got} of ${size} bytes ${err.trim()}`));
        else resolve(secs);
      });
    });
  const times = await Promise.all(Array.from({ length: parallel }, one));
  return (size * parallel) / 1e6 / Math.max(...times);
}

const dir = await mkdtemp(join(tmpdir(), 'http-bench-'));
const children = [];
try {
  const file = join(dir, 'initrd.img');
  const fh = await open(file, 'w');
  const chunk = randomBytes(1024 * 1024);
  for (let at = 0; at < size; at += chunk.length) await fh.write(chunk, 0, Math.min(chunk.length, size - at), at);
  await fh.close();

  const servers = {};
  const nbPort = await freePort();
  const nb = startServer(process.execPath, [cli, 'http', '--root', dir, '--listen', '127.0.0.1', '--port', String(nbPort)]);
  children.push(nb.child);
  servers.netboot = { pid: nb.child.pid, url: `http://127.0.0.1:${nbPort}/initrd.img` };
  if (which('busybox')) {
    const bbPort = await freePort();
    const bb = startServer('busybox', ['httpd', '-f', '-p', `127.0.0.1:${bbPort}`, '-h', dir]);
    children.push(bb.child);
    servers['busybox httpd'] = { pid: bb.child.pid, url: `http://127.0.0.1:${bbPort}/initrd.img` };
  }
  for (const s of Object.values(servers)) await waitForHttp(s.url);
  const loadAtStart = load();

  const best = {};
  const cpuPerGiB = {};
  for (const s of Object.values(servers)) await fetchAll(s.url).catch(() => {}); // warm: JIT, page cache
  for (let run = 0; run < runs; run++) {
    const order = run % 2 === 0 ? Object.entries(servers) : Object.entries(servers).reverse();
    for (const [name, s] of order) {
      const { result: mbps, secs } = await serverCpu(s.pid, () => fetchAll(s.url));
      if (!(best[name] >= mbps)) best[name] = Number(mbps.toFixed(0));
      const perGiB = secs / ((size * parallel) / 2 ** 30);
      if (!(cpuPerGiB[name] <= perGiB)) cpuPerGiB[name] = Number(perGiB.toFixed(3));
    }
    let local = 0;
    for (let i = 0; i < parallel; i++) {
      const r = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{speed_download}', `file://${file}`], { encoding: 'utf8' });
      local = Math.max(local, Number(r.stdout) / 1e6);
    }
    if (!(best['curl file://'] >= local)) best['curl file://'] = Number(local.toFixed(0));
  }

  const cells = [
    cell({ key: `read/p${parallel}`, label: `${sizeMiB} MiB x ${parallel} over HTTP`, unit: 'MB/s', values: { netboot: best.netboot ?? null, 'busybox httpd': best['busybox httpd'] ?? null, 'curl file://': best['curl file://'] }, reference: 'busybox httpd' }),
    cell({ key: `cpu/p${parallel}`, label: 'server CPU seconds per GiB sent', unit: 's/GiB', higherIsBetter: false, values: { netboot: cpuPerGiB.netboot ?? null, 'busybox httpd': cpuPerGiB['busybox httpd'] ?? null }, reference: 'busybox httpd' }),
  ];
  if (json) {
    console.log(JSON.stringify(report({ benchmark: 'http-read', params: { sizeMiB, runs, parallel }, loadAtStart, cells })));
  } else {
    console.log(`${sizeMiB} MiB file, ${parallel} curl at once, best of ${runs} (load at start ${loadAtStart.join(' ')})`);
    for (const name of Object.keys(servers)) {
      console.log(`  ${name.padEnd(14)} ${String(best[name]).padStart(6)} MB/s   server CPU ${cpuPerGiB[name]} s per GiB sent`);
    }
    console.log(`  ${'curl file://'.padEnd(14)} ${String(best['curl file://']).padStart(6)} MB/s   (a local copy read by curl: the ceiling)`);
    if (best['busybox httpd']) console.log(`  netboot / busybox httpd: ${(best.netboot / best['busybox httpd']).toFixed(2)}x throughput, ${(cpuPerGiB['busybox httpd'] / cpuPerGiB.netboot).toFixed(2)}x CPU efficiency`);
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
