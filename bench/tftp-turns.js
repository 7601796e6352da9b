// Where the time of a lock-step TFTP block goes, server by server: for each
// block of one curl transfer on loopback, the time from curl's ACK to the
// server's next DATA (the server's turnaround) and from that DATA to curl's
// next ACK (the client's), and whether the two were sent from the same CPU.
// The period (DATA to DATA) is given apart for blocks where server and client
// shared a CPU and where they did not: which of the two the scheduler picks
// moves the period more than any server's own work (at blksize 65464 a
// block shared one CPU in about 12-20 µs and took 25-35 µs across two), so
// a ratio is compared like with like only by placement.
//
// The times are the system calls' entries, recorded by `perf record -a` on
// the sendto tracepoint (and the reads, whose time is the server's own
// per block), so the figures include tracing's own cost, the same for every
// server.
//
//   node bench/tftp-turns.js [--size MiB] [--blksize 65464] [--runs N] [--client-cpu N] [--baseline DIR] [--json]
//
// --client-cpu N binds curl to CPU N (taskset): whether a server follows its
// client to the client's CPU, whatever the scheduler would have picked.
//
// Servers: netboot (`netboot tftp`), in.tftpd (tftpd-hpa), and with
// --baseline DIR another built checkout's netboot, each measured --runs times
// in alternating order. Needs root (perf), perf (linux-perf), curl and tftpd-hpa.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cleanups, load, sleep, which } from './lib/processes.js';
import { freePort } from './lib/free-port.js';
import { cell as jsonCell, report } from './lib/report.js';

const cli = fileURLToPath(new URL('../packages/netboot/dist/cli.js', import.meta.url));
const MiB = 1024 * 1024;
/** A period longer than this held something else (the client or server preempted): left out of the means, and counted. */
const PREEMPTED_US = 1000;

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '256' },
    blksize: { type: 'string', default: '65464' },
    runs: { type: 'string', default: '3' },
    'client-cpu': { type: 'string' },
    baseline: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});

/** The sendto and read tracepoints of `perf script` output: who, which CPU, when (µs), what. */
function* events(text) {
  const line = /^\s*(.+?)\s+(\d+)\/(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+syscalls:(sys_enter_sendto|sys_enter_read|sys_exit_read|sys_enter_preadv2|sys_exit_preadv2):\s*(.*)$/;
  for (const l of text.split('\n')) {
    const m = line.exec(l);
    if (!m) continue;
    const length = m[6] === 'sys_enter_sendto' ? /(?:^|, )len: (0x[0-9a-f]+)/.exec(m[7]) : null;
    yield { comm: m[1], pid: Number(m[2]), tid: Number(m[3]), cpu: Number(m[4]), us: Number(m[5]) * 1e6, what: m[6], length: length ? parseInt(length[1], 16) : undefined };
  }
}

const mean = (a) => (a.length ? Number((a.reduce((s, x) => s + x, 0) / a.length).toFixed(1)) : null);
function quantile(a, q) {
  if (!a.length) return null;
  const s = [...a].sort((x, y) => x - y);
  return Number(s[Math.min(s.length - 1, Math.floor(q * s.length))].toFixed(1));
}

/** Per-block figures from one traced transfer; `serves(event)` picks the server's events. */
function analyse(text, serves) {
  let ack; // curl's last ACK: its time and CPU
  let data; // the server's last DATA
  const turnaround = [];
  const client = [];
  const together = [];
  const apart = [];
  let preempted = 0;
  const readStart = new Map();
  const reads = [];
  for (const e of events(text)) {
    if (e.comm === 'curl') {
      if (e.what === 'sys_enter_sendto' && e.length === 4) {
        if (data) client.push(e.us - data.us);
        ack = e;
      }
      continue;
    }
    if (!serves(e)) continue;
    if (e.what === 'sys_enter_sendto' && e.length > 4) {
      if (ack) turnaround.push(e.us - ack.us);
      if (data && ack) {
        const period = e.us - data.us;
        if (period > PREEMPTED_US) preempted++;
        else (ack.cpu === e.cpu ? together : apart).push(period);
      }
      data = e;
      ack = undefined;
    } else if (e.what === 'sys_enter_read' || e.what === 'sys_enter_preadv2') readStart.set(e.tid, e.us);
    else if (readStart.has(e.tid)) {
      reads.push(e.us - readStart.get(e.tid));
      readStart.delete(e.tid);
    }
  }
  const blocks = together.length + apart.length;
  return {
    blocks,
    sameCpuShare: blocks ? Number((together.length / blocks).toFixed(2)) : null,
    periodUs: mean([...together, ...apart]),
    periodSameCpuUs: mean(together),
    periodOtherCpuUs: mean(apart),
    preempted,
    turnaroundP50Us: quantile(turnaround, 0.5),
    turnaroundP90Us: quantile(turnaround, 0.9),
    clientP50Us: quantile(client, 0.5),
    clientP90Us: quantile(client, 0.9),
    readUsPerBlock: blocks ? Number((reads.reduce((s, x) => s + x, 0) / (blocks + preempted)).toFixed(2)) : null,
  };
}

/** taskset before curl when --client-cpu binds it. */
const clientPrefix = values['client-cpu'] === undefined ? [] : ['taskset', '-c', values['client-cpu']];

async function traced(port, blksize, size, serves, dir) {
  const data = join(dir, 'perf.data');
  const events = ['sendto', 'read', 'preadv2'].flatMap((s) => [`syscalls:sys_enter_${s}`, ...(s === 'sendto' ? [] : [`syscalls:sys_exit_${s}`])]);
  const r = spawnSync(
    'perf',
    ['record', '-q', '-a', '-o', data, '-e', events.join(','), '--', ...clientPrefix, 'curl', '-s', '-S', '--connect-timeout', '10', '-o', '/dev/null', '--tftp-blksize', String(blksize), '-w', '%{size_download}', `tftp://127.0.0.1:${port}/bench.bin`],
    { encoding: 'utf8', timeout: 300_000, maxBuffer: 1 << 20 },
  );
  if (r.status !== 0 || Number(r.stdout.trim()) !== size) return { error: `curl under perf: ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' | ')}` };
  const script = spawnSync('perf', ['script', '-i', data, '-F', 'comm,pid,tid,cpu,time,event,trace'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  rmSync(data, { force: true });
  if (script.status !== 0) return { error: `perf script: ${script.stderr.trim()}` };
  return analyse(script.stdout, serves);
}

async function main() {
  const sizeMiB = Number(values.size);
  const blksize = Number(values.blksize);
  const runs = Number(values.runs);
  if (!(sizeMiB >= 1 && sizeMiB <= 1024) || !(Number.isInteger(blksize) && blksize >= 8 && blksize <= 65464) || !(Number.isInteger(runs) && runs >= 1)) {
    console.error('usage: node bench/tftp-turns.js [--size MiB (1-1024)] [--blksize B] [--runs N] [--baseline DIR] [--json]');
    process.exit(2);
  }
  if (process.getuid?.() !== 0) {
    console.error('tftp-turns: needs root (perf record -a)');
    process.exit(1);
  }
  for (const [p, pkg] of [['perf', 'linux-perf'], ['curl', 'curl'], ['in.tftpd', 'tftpd-hpa']]) {
    if (!which(p)) {
      console.error(`tftp-turns: ${p} is not installed (apt-get install ${pkg})`);
      process.exit(1);
    }
  }
  const baseCli = values.baseline ? join(values.baseline, 'packages/netboot/dist/cli.js') : undefined;
  if (baseCli && !existsSync(baseCli)) {
    console.error(`--baseline: no built netboot at ${baseCli}`);
    process.exit(2);
  }
  const size = sizeMiB * MiB;
  const atExit = cleanups();
  const dir = mkdtempSync(join(tmpdir(), 'nb-tftp-turns-'));
  atExit.add(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755); // in.tftpd serves as nobody
  writeFileSync(join(dir, 'bench.bin'), randomBytes(size), { mode: 0o644 });
  readFileSync(join(dir, 'bench.bin')); // page cache warm
  const work = mkdtempSync(join(tmpdir(), 'nb-tftp-turns-perf-'));
  atExit.add(() => rmSync(work, { recursive: true, force: true }));
  const start = async (cmd, args, ready) => {
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d) => (text += d));
    child.stderr.on('data', (d) => (text += d));
    atExit.add(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    });
    let exited = false;
    child.on('exit', () => (exited = true));
    for (let i = 0; i < 100 && ready && !exited && !text.includes(ready); i++) await sleep(100);
    // A server that never came up would leave curl waiting on a dead port.
    if (exited || (ready && !text.includes(ready))) throw new Error(`${cmd} ${args.join(' ')} did not start: ${text.trim().split('\n').slice(-3).join(' | ')}`);
    return child;
  };
  try {
    const servers = [];
    const nbPort = await freePort('udp');
    const nb = await start(process.execPath, [cli, 'tftp', '--root', dir, '--listen', '127.0.0.1', '--port', String(nbPort)], 'listening on');
    // netboot: every thread of its process; in.tftpd: the child it forks for the transfer.
    servers.push({ name: 'netboot', port: nbPort, serves: (e) => e.pid === nb.pid });
    if (baseCli) {
      const port = await freePort('udp');
      const base = await start(process.execPath, [baseCli, 'tftp', '--root', dir, '--listen', '127.0.0.1', '--port', String(port)], 'listening on');
      servers.push({ name: 'baseline', port, serves: (e) => e.pid === base.pid });
    }
    const hpaPort = await freePort('udp');
    await start('in.tftpd', ['-L', '-s', dir, '-a', `127.0.0.1:${hpaPort}`]);
    servers.push({ name: 'in.tftpd', port: hpaPort, serves: (e) => e.comm === 'in.tftpd' });
    await sleep(500);
    // Warm every server (JIT, page cache) with one untraced transfer.
    for (const s of servers) spawnSync('curl', ['-s', '--connect-timeout', '10', '-o', '/dev/null', '--tftp-blksize', String(blksize), `tftp://127.0.0.1:${s.port}/bench.bin`], { timeout: 300_000 });
    const loadAtStart = load();
    const results = Object.fromEntries(servers.map((s) => [s.name, []]));
    for (let run = 0; run < runs; run++) {
      for (const s of run % 2 === 0 ? servers : [...servers].reverse()) results[s.name].push(await traced(s.port, blksize, size, s.serves, work));
    }
    // Per server: the mean over its runs of each figure (blocks weighted), and every run's for the record.
    const summary = {};
    for (const [name, rs] of Object.entries(results)) {
      const ok = rs.filter((r) => !r.error);
      const weighted = (key, weight) => {
        const w = ok.filter((r) => r[key] !== null).map((r) => [r[key], weight(r)]);
        const total = w.reduce((s, [, x]) => s + x, 0);
        return total > 0 ? Number((w.reduce((s, [v, x]) => s + v * x, 0) / total).toFixed(2)) : null;
      };
      summary[name] = ok.length
        ? {
            sameCpuShare: weighted('sameCpuShare', (r) => r.blocks),
            periodUs: weighted('periodUs', (r) => r.blocks),
            periodSameCpuUs: weighted('periodSameCpuUs', (r) => r.blocks * r.sameCpuShare),
            periodOtherCpuUs: weighted('periodOtherCpuUs', (r) => r.blocks * (1 - r.sameCpuShare)),
            turnaroundP50Us: weighted('turnaroundP50Us', () => 1),
            clientP50Us: weighted('clientP50Us', () => 1),
            readUsPerBlock: weighted('readUsPerBlock', () => 1),
            preempted: ok.reduce((s, r) => s + r.preempted, 0),
            runs: rs,
          }
        : { error: rs.map((r) => r.error).join('; '), runs: rs };
    }
    if (values.json) {
      const metrics = ['periodUs', 'periodSameCpuUs', 'periodOtherCpuUs', 'sameCpuShare', 'turnaroundP50Us', 'clientP50Us', 'readUsPerBlock'];
      const cells = metrics.map((m) =>
        jsonCell({
          key: `b${blksize}/${m}`,
          label: `lock-step blksize ${blksize}: ${m}`,
          unit: m.endsWith('Us') || m === 'readUsPerBlock' ? 'µs' : 'share',
          higherIsBetter: m === 'sameCpuShare',
          values: Object.fromEntries(Object.entries(summary).map(([k, v]) => [k, v[m] ?? null])),
          reference: 'in.tftpd',
          detail: m === 'periodUs' ? summary : {},
        }),
      );
      console.log(JSON.stringify(report({ benchmark: 'tftp-turns', params: { sizeMiB, blksize, runs, clientCpu: values['client-cpu'] ?? null, baseline: values.baseline ?? null }, loadAtStart, cells })));
    } else {
      const bound = clientPrefix.length ? `, curl bound to CPU ${values['client-cpu']}` : '';
      console.log(`lock-step RRQ (curl), blksize ${blksize}, ${sizeMiB} MiB, ${runs} traced runs each, alternating${bound}; load ${loadAtStart.join(' ')}`);
      const f = (v, w = 8) => String(v ?? '-').padStart(w);
      console.log(`${'server'.padEnd(10)}${'same CPU'.padStart(9)}${'period'.padStart(8)}${'same'.padStart(8)}${'apart'.padStart(8)}${'server'.padStart(8)}${'client'.padStart(8)}${'read'.padStart(8)}${'cut'.padStart(6)}   (µs per block)`);
      for (const [name, s] of Object.entries(summary)) {
        if (s.error) console.log(`${name.padEnd(10)}${s.error}`);
        else console.log(`${name.padEnd(10)}${f(s.sameCpuShare, 9)}${f(s.periodUs)}${f(s.periodSameCpuUs)}${f(s.periodOtherCpuUs)}${f(s.turnaroundP50Us)}${f(s.clientP50Us)}${f(s.readUsPerBlock)}${f(s.preempted, 6)}`);
      }
      console.log(
        `load at end ${load().join(' ')}; same CPU = share of blocks whose DATA and ACK left from one CPU; period = DATA to DATA (same: on one CPU, apart: across two); ` +
          `server = ACK to DATA p50, client = DATA to ACK p50; read = the server's file reads per block; cut = periods over ${PREEMPTED_US} µs left out (preempted)`,
      );
    }
  } finally {
    atExit.run();
  }
}

await main();
