// A rack booting at once: N TFTP clients (default 100) each fetch the same
// kernel (default 10 MiB) at the same moment, lock-step at blksize 1408 as
// pxelinux does. Servers: netboot (`netboot tftp`), tftpd-hpa (in.tftpd) and
// dnsmasq's TFTP, each alone in a network namespace made for the run (port
// 69 is free there; dnsmasq's TFTP port cannot be changed), on 127.0.0.1.
// The clients are curl processes (C, lock-step: curl has no windowsize) in the
// server's namespace. Figures: aggregate MB/s (all bytes over the time from
// the first start to the last finish), the slowest client's seconds, and the
// server's peak RSS (the sum over its process group, sampled every 100 ms:
// in.tftpd forks a process per transfer), and the server's CPU time per
// block sent (its process group's threads' schedstat, in.tftpd's children
// sampled every 50 ms while they live, over clients x blocks: a cost figure
// that load disturbs less than the throughput).
//
//   node bench/tftp-storm.js [--clients N] [--size MiB] [--blksize B] [--rounds R]
//                            [--servers netboot,tftpd-hpa,dnsmasq] [--netboot-threads N] [--baseline DIR] [--profile DIR] [--json]
// With --profile DIR the netboot server runs under `node --cpu-prof`;
// --netboot-threads is netboot's --threads (its transfer threads);
// --baseline DIR adds another built checkout's netboot as server `baseline`.
//
// Needs root (network namespaces) and curl; tftpd-hpa and dnsmasq(-base) are
// skipped with the reason printed when not installed.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { addVeth, cleanups, createNetns, load, sleep, startServer, threadsCpuNs, waitFor, which } from './lib/processes.js';
import { cell as jsonCell, report } from './lib/report.js';

const cli = fileURLToPath(new URL('../packages/netboot/dist/cli.js', import.meta.url));
const MiB = 1024 * 1024;
const KERNEL = 'vmlinuz';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '100' },
    size: { type: 'string', default: '10' },
    blksize: { type: 'string', default: '1408' },
    rounds: { type: 'string', default: '1' },
    servers: { type: 'string', default: 'netboot,tftpd-hpa,dnsmasq' },
    profile: { type: 'string' },
    'netboot-threads': { type: 'string' },
    baseline: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});

/** Sum of VmRSS (MB) over the processes of a process group. */
function groupRssMB(pgid) {
  let kb = 0;
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) !== pgid) continue;
      const m = readFileSync(`/proc/${p}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
      if (m) kb += Number(m[1]);
    } catch {
      // the process ended while we looked
    }
  }
  return kb / 1024;
}

/**
 * CPU seconds of each process of a process group so far, from its threads'
 * schedstat. in.tftpd ignores SIGCHLD, so an exited child's time is counted
 * nowhere: the children are sampled while they live.
 */
function groupCpu(pgid) {
  const byPid = new Map();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) !== pgid) continue;
      byPid.set(p, threadsCpuNs(p) / 1e9);
    } catch {
      // the process ended while we looked
    }
  }
  return byPid;
}

/** CPU seconds of this process's reaped children (the curl clients: `ip netns exec` execs curl), in 10 ms ticks. */
function childrenCpu() {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / 100;
}

/** Whether something answers TFTP on 127.0.0.1:69 in `ns`: curl gets a file-not-found, not a timeout. */
async function answers(ns) {
  const r = await runClient(ns, '.probe', 512, 2);
  return r.code !== 28 && r.code !== 7;
}

function runClient(ns, name, blksize, maxSeconds = 600) {
  const t0 = performance.now();
  const child = spawn(
    'ip',
    ['netns', 'exec', ns, 'curl', '-s', '-o', '/dev/null', '-w', '%{size_download}', '--max-time', String(maxSeconds),
      '--tftp-blksize', String(blksize), `tftp://127.0.0.1/${name}`],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  return new Promise((resolve) => {
    child.on('close', (code) => resolve({ code, bytes: Number(out) || 0, seconds: (performance.now() - t0) / 1000 }));
  });
}

async function storm(ns, pgid, clients, blksize, size) {
  let peak = groupRssMB(pgid);
  let sampling = true;
  const cpuAtStart = groupCpu(pgid);
  const cpuSeen = new Map(cpuAtStart);
  const sampleCpu = () => {
    for (const [p, sec] of groupCpu(pgid)) cpuSeen.set(p, Math.max(sec, cpuSeen.get(p) ?? 0));
  };
  const sampler = (async () => {
    for (let i = 0; sampling; i++) {
      if (i % 2 === 0) peak = Math.max(peak, groupRssMB(pgid));
      sampleCpu();
      await sleep(50);
    }
  })();
  const clientCpu0 = childrenCpu();
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: clients }, () => runClient(ns, KERNEL, blksize)));
  const wall = (performance.now() - t0) / 1000;
  const clientCpu = childrenCpu() - clientCpu0;
  sampling = false;
  await sampler;
  sampleCpu();
  let cpu = 0;
  for (const [p, sec] of cpuSeen) cpu += sec - (cpuAtStart.get(p) ?? 0);
  const failed = results.filter((r) => r.code !== 0 || r.bytes !== size).length;
  const bytes = results.reduce((a, r) => a + r.bytes, 0);
  return {
    MBps: Number((bytes / 1e6 / wall).toFixed(1)),
    seconds: Number(wall.toFixed(2)),
    slowest: Number(Math.max(...results.map((r) => r.seconds)).toFixed(2)),
    fastest: Number(Math.min(...results.map((r) => r.seconds)).toFixed(2)),
    failed,
    peakRssMB: Math.round(peak),
    cpuSeconds: Number(cpu.toFixed(2)),
    cpuUsPerBlock: Number(((cpu * 1e6) / (clients * (Math.floor(size / blksize) + 1))).toFixed(2)),
    clientCpuUsPerBlock: Number(((clientCpu * 1e6) / (clients * (Math.floor(size / blksize) + 1))).toFixed(2)),
  };
}

async function startTftp(name, dir, work, atExit) {
  const { ns, why } = createNetns(`nbtftp`, atExit);
  if (!ns) return { why };
  const vethError = addVeth(ns); // in.tftpd resolves -a with AI_ADDRCONFIG
  if (vethError) return { why: vethError };
  let server;
  if (name === 'netboot' || name === 'baseline') {
    const prof = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${values.profile}`] : [];
    const entry = name === 'baseline' ? join(values.baseline, 'packages/netboot/dist/cli.js') : cli;
    server = startServer(ns, process.execPath, [...prof, entry, 'tftp', '--root', dir, '--listen', '127.0.0.1', '--port', '69', ...(values['netboot-threads'] ? ['--threads', values['netboot-threads']] : [])], join(work, `${name}.log`), atExit);
  } else if (name === 'tftpd-hpa') {
    const bin = which('in.tftpd');
    if (!bin) return { why: 'not installed (apt-get install tftpd-hpa)' };
    // -L: stay in the foreground; every transfer is a forked child in its process group.
    server = startServer(ns, bin, ['-L', '-s', dir, '-a', '127.0.0.1:69'], join(work, `${name}.log`), atExit);
  } else {
    const bin = which('dnsmasq');
    if (!bin) return { why: 'not installed (apt-get install dnsmasq-base)' };
    server = startServer(
      ns,
      bin,
      ['--no-daemon', '--conf-file=/dev/null', '--port=0', '--user=root', '--group=root', '--pid-file=', '--listen-address=127.0.0.1',
        '--bind-interfaces', '--enable-tftp', `--tftp-root=${dir}`, '--tftp-max=1000', '--log-facility=-'],
      join(work, `${name}.log`),
      atExit,
    );
  }
  try {
    await waitFor(async () => server.exited || (await answers(ns)), name);
  } catch (e) {
    return { why: `${e.message}: ${server.output().trim().split('\n').slice(-2).join(' | ')}` };
  }
  if (server.exited) return { why: `did not start: ${server.output().trim().split('\n').slice(-2).join(' | ')}` };
  return { ns, server };
}

async function main() {
  const clients = Number(values.clients);
  const sizeMiB = Number(values.size);
  const blksize = Number(values.blksize);
  const rounds = Number(values.rounds);
  const servers = values.servers.split(',');
  if (values.baseline && !servers.includes('baseline')) servers.splice(1, 0, 'baseline');
  if (
    !(Number.isInteger(clients) && clients >= 1 && clients <= 500) ||
    !(sizeMiB > 0 && sizeMiB <= 1024) ||
    !(Number.isInteger(blksize) && blksize >= 8 && blksize <= 65464) ||
    !(Number.isInteger(rounds) && rounds >= 1 && rounds <= 10) ||
    servers.some((s) => !['netboot', 'tftpd-hpa', 'dnsmasq', 'baseline'].includes(s)) ||
    (servers.includes('baseline') && !values.baseline)
  ) {
    console.error('usage: node bench/tftp-storm.js [--clients N (1-500)] [--size MiB] [--blksize B] [--rounds R] [--servers netboot,tftpd-hpa,dnsmasq] [--baseline DIR] [--json]');
    process.exit(2);
  }
  if (process.getuid?.() !== 0) {
    console.error('tftp-storm: needs root: each server runs in a network namespace of its own (port 69)');
    process.exit(1);
  }
  if (!which('curl')) {
    console.error('tftp-storm: the clients are curl processes: apt-get install curl');
    process.exit(1);
  }
  const size = Math.round(sizeMiB * MiB);
  const atExit = cleanups();
  const work = mkdtempSync(join(tmpdir(), 'nb-tftp-storm-'));
  atExit.add(() => rmSync(work, { recursive: true, force: true }));
  try {
    chmodSync(work, 0o755); // in.tftpd serves as nobody
    const dir = join(work, 'root');
    mkdirSync(dir, { mode: 0o755 });
    writeFileSync(join(dir, KERNEL), randomBytes(size), { mode: 0o644 });
    readFileSync(join(dir, KERNEL)); // page cache warm
    const rows = [];
    if (!values.json) {
      console.log(`${clients} curl clients at once, each fetching a ${sizeMiB} MiB file, blksize ${blksize} lock-step, ${rounds > 1 ? `best of ${rounds} rounds` : '1 round'}`);
      console.log(`${'server'.padEnd(11)}${'MB/s'.padStart(8)}${'wall s'.padStart(8)}${'slowest s'.padStart(11)}${'fastest s'.padStart(11)}${'failed'.padStart(8)}${'peak RSS MB'.padStart(13)}${'cpu s'.padStart(8)}${'µs/blk'.padStart(8)}${'curl µs/blk'.padStart(13)}  load`);
    }
    for (const name of servers) {
      const s = await startTftp(name, dir, work, atExit);
      const row = { server: name };
      if (s.why) row.error = `not measured: ${s.why}`;
      else {
        for (let round = 0; round < rounds; round++) {
          const m = await storm(s.ns, s.server.pid, clients, blksize, size);
          if (!row.MBps || (m.failed <= (row.failed ?? Infinity) && m.MBps > row.MBps)) Object.assign(row, m);
        }
        await s.server.stop();
      }
      row.load = load();
      rows.push(row);
      if (!values.json) {
        if (row.error) console.log(`${name.padEnd(11)}${row.error}`);
        else {
          console.log(
            `${name.padEnd(11)}${String(row.MBps).padStart(8)}${String(row.seconds).padStart(8)}${String(row.slowest).padStart(11)}` +
              `${String(row.fastest).padStart(11)}${String(row.failed).padStart(8)}${String(row.peakRssMB).padStart(13)}${String(row.cpuSeconds).padStart(8)}${String(row.cpuUsPerBlock).padStart(8)}${String(row.clientCpuUsPerBlock).padStart(13)}  ${row.load.join(' ')}`,
          );
        }
      }
    }
    if (values.json) {
      const of = (name, f) => {
        const r = rows.find((x) => x.server === name);
        return r && !r.error ? f(r) : null;
      };
      const values3 = (f) => Object.fromEntries(servers.map((n) => [n === 'tftpd-hpa' ? 'in.tftpd' : n, of(n, f)]));
      const cells = [
        jsonCell({ key: 'aggregate', label: `${clients} x ${sizeMiB} MiB at blksize ${blksize}: aggregate`, unit: 'MB/s', values: values3((r) => r.MBps), reference: 'in.tftpd' }),
        jsonCell({ key: 'slowest', label: 'slowest client', unit: 's', higherIsBetter: false, values: values3((r) => r.slowest), reference: 'in.tftpd' }),
        jsonCell({ key: 'cpu-per-block', label: 'server CPU per block sent (process group, children included)', unit: 'µs', higherIsBetter: false, values: values3((r) => r.cpuUsPerBlock), reference: 'in.tftpd' }),
        jsonCell({ key: 'client-cpu-per-block', label: 'the curl clients\' CPU per block received (all of them, 10 ms ticks)', unit: 'µs', higherIsBetter: false, values: values3((r) => r.clientCpuUsPerBlock), reference: 'in.tftpd' }),
        jsonCell({ key: 'peak-rss', label: 'server peak RSS (process group)', unit: 'MB', higherIsBetter: false, values: values3((r) => r.peakRssMB), reference: 'in.tftpd' }),
      ];
      console.log(JSON.stringify(report({ benchmark: 'tftp-storm', params: { clients, sizeMiB, blksize, rounds, client: 'curl', netbootThreads: values['netboot-threads'] ?? null, baseline: values.baseline ?? null }, cells, detail: { rows } })));
    }
  } finally {
    atExit.run();
  }
}

await main();
