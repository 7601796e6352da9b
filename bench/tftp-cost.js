// What one lock-step TFTP block costs each server: system calls per block
// (all threads), event-loop turns (epoll waits), futex calls, context
// switches, CPU microseconds per block in user and kernel time, netboot
// (`netboot tftp`) beside in.tftpd (tftpd-hpa), one curl transfer (a C
// client) at a time on loopback.
//
// perf stat --per-thread is attached to the process that serves the
// transfer: netboot's server (its transfer threads included), and for
// in.tftpd the child it forks for the request (attached once it appears, so
// its first blocks are not counted: the figures are per block counted).
//
//   node bench/tftp-cost.js [--size MiB] [--blksize 1468] [--windowsize N] [--threads N] [--baseline DIR] [--json]
//
// --baseline DIR adds another built checkout of netboot as server
// "baseline", measured in the same run, to set a change beside what it changes.
// --threads is netboot's --threads (transfer threads; 0 = main thread only).
// --windowsize N > 1 reads with bench/c/tftp-get.c (RFC 7440 windows; curl
// has none) instead of curl: per block is then per datagram sent. in.tftpd
// ignores windowsize, so its figures stay lock-step.
// NETBOOT_PLATFORM=portable in the environment runs netboot on node:dgram.
// Needs root (perf), perf (linux-perf), curl and tftpd-hpa.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, constants, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cleanups, load, sleep, threadsCpuNs, which } from './lib/processes.js';
import { freePort } from './lib/free-port.js';
import { cell as jsonCell, report } from './lib/report.js';
import { buildC } from './lib/c-client.js';

const cli = fileURLToPath(new URL('../packages/netboot/dist/cli.js', import.meta.url));
const MiB = 1024 * 1024;
const CLK_TCK = 100;
const SYSCALLS = ['recvmsg', 'recvmmsg', 'recvfrom', 'sendmsg', 'sendmmsg', 'sendto', 'epoll_wait', 'epoll_pwait', 'epoll_ctl', 'futex',
  'read', 'write', 'pread64', 'preadv', 'poll', 'select', 'pselect6', 'alarm', 'setitimer', 'rt_sigaction', 'rt_sigprocmask', 'sigreturn',
  'rt_sigreturn', 'timerfd_settime', 'mprotect', 'madvise', 'preadv2'];

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '32' },
    blksize: { type: 'string', default: '1468' },
    windowsize: { type: 'string', default: '1' },
    threads: { type: 'string' },
    baseline: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});

function cpu(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(f[11]) / CLK_TCK, sys: Number(f[12]) / CLK_TCK };
  } catch {
    return undefined;
  }
}

/** CPU nanoseconds of all the process's threads (threadsCpuNs), undefined once it is gone. */
function cpuNs(pid) {
  try {
    return threadsCpuNs(pid);
  } catch {
    return undefined;
  }
}

function children(pid) {
  const out = [];
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      const kids = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim();
      if (kids) out.push(...kids.split(' ').map(Number));
    }
  } catch {
    // gone
  }
  return out;
}

/** Whether this kernel has the syscall's tracepoint (not every architecture has every call). */
const traceable = (name) => existsSync(`/sys/kernel/tracing/events/syscalls/sys_enter_${name}`) || existsSync(`/sys/kernel/debug/tracing/events/syscalls/sys_enter_${name}`);

/**
 * perf's control FIFOs (`perf stat --control fifo:ctl,ack`): send() writes a
 * command and resolves on perf's ack, or after 2 s without one (perf gone).
 * Both are opened read-write, so neither open waits for perf.
 */
function perfControl() {
  const dir = mkdtempSync(join(tmpdir(), 'nb-tftp-cost-perf-'));
  const ctl = join(dir, 'ctl');
  const ack = join(dir, 'ack');
  for (const f of [ctl, ack]) if (spawnSync('mkfifo', [f]).status !== 0) throw new Error(`mkfifo ${f} failed`);
  const ctlFd = openSync(ctl, constants.O_RDWR);
  const ackFd = openSync(ack, constants.O_RDWR | constants.O_NONBLOCK);
  const acked = async () => {
    const buf = Buffer.alloc(64);
    for (let i = 0; i < 400; i++) {
      try {
        if (readSync(ackFd, buf, 0, buf.length, null) > 0) return;
      } catch (err) {
        if (err.code !== 'EAGAIN') throw err;
      }
      await sleep(5);
    }
  };
  return {
    ctl,
    ack,
    async send(command) {
      writeSync(ctlFd, `${command}\n`);
      await acked();
    },
    close() {
      closeSync(ctlFd);
      closeSync(ackFd);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const exited = (child) => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

/** One curl transfer with perf attached to the serving process (`servingPid()` may wait for a fork). */
async function measure(port, file, blksize, size, servingPid) {
  const curl = windowed
    ? spawn(windowed.path, ['127.0.0.1', String(port), file, String(blksize), values.windowsize], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn('curl', ['-s', '-S', '-o', '/dev/null', '--tftp-blksize', String(blksize), '-w', '%{time_total}', `tftp://127.0.0.1:${port}/${file}`], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
  let out = '';
  let errText = '';
  curl.stdout.on('data', (d) => (out += d));
  curl.stderr.on('data', (d) => (errText += d));
  const pid = await servingPid();
  if (!pid) {
    await exited(curl);
    return { error: 'the serving process was not found' };
  }
  const events = ['raw_syscalls:sys_enter', 'context-switches', ...SYSCALLS.filter(traceable).map((s) => `syscalls:sys_enter_${s}`)];
  // perf starts with its counters off and is told when to count, so the
  // system calls are counted over the same span as the CPU time and the blocks.
  const control = perfControl();
  const perf = spawn('perf', ['stat', '--per-thread', '-x', ',', '-D', '-1', '--control', `fifo:${control.ctl},${control.ack}`, '-e', events.join(','), '-p', String(pid)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let perfOut = '';
  perf.stderr.on('data', (d) => (perfOut += d));
  await sleep(200);
  await control.send('enable');
  const cpu0 = cpu(pid);
  const ns0 = cpuNs(pid);
  const countFrom = Date.now();
  // in.tftpd's child exits with the transfer: its CPU time is sampled while it lives, the last sample kept.
  let cpu1 = cpu0;
  let ns1 = ns0;
  const sampler = setInterval(() => {
    cpu1 = cpu(pid) ?? cpu1;
    ns1 = cpuNs(pid) ?? ns1;
  }, 10);
  await exited(curl);
  clearInterval(sampler);
  cpu1 = cpu(pid) ?? cpu1;
  ns1 = cpuNs(pid) ?? ns1;
  const countedMs = Date.now() - countFrom;
  await control.send('disable');
  perf.kill('SIGINT');
  await exited(perf);
  control.close();
  // tftp-get prints {"seconds": ..., "bytes": ...}; curl its time_total.
  const secs = windowed ? (JSON.parse(out.trim() || '{}').seconds ?? NaN) : Number(out.trim());
  if (!(secs > 0)) return { error: `curl: ${errText.trim() || out}` };
  // The counted part of the transfer is its tail: countedMs of secs at an even rate.
  const blocks = Math.round((size / blksize) * Math.min(1, countedMs / 1000 / secs));
  // perf attaches 200 ms into the transfer: a fast one leaves too little counted to divide by.
  if (countedMs < 100 || blocks < 1000) return { error: `the transfer (${secs.toFixed(2)} s) ended before enough of it was counted: use a larger --size` };
  const total = {};
  const threads = new Set();
  for (const line of perfOut.split('\n')) {
    const f = line.split(',');
    if (f.length < 4 || !f[3]) continue;
    const count = Number(f[1]);
    if (!Number.isFinite(count)) continue;
    const ev = f[3].replace(/^raw_syscalls:sys_enter$/, 'all').replace(/^syscalls:sys_enter_/, '');
    total[ev] = (total[ev] ?? 0) + count;
    if (ev === 'all' && count / blocks >= 0.05) threads.add(f[0]);
  }
  if (!total.all) return { error: `perf counted nothing: ${perfOut.trim().split('\n').slice(-2).join(' | ')}` };
  const per = (x) => Number(((x ?? 0) / blocks).toFixed(2));
  return {
    MBps: Number((size / 1e6 / secs).toFixed(1)),
    blocksCounted: blocks,
    syscallsPerBlock: per(total.all),
    loopTurnsPerBlock: per((total.epoll_wait ?? 0) + (total.epoll_pwait ?? 0) + (total.poll ?? 0) + (total.select ?? 0) + (total.pselect6 ?? 0)),
    futexPerBlock: per(total.futex),
    contextSwitchesPerBlock: per(total['context-switches']),
    busyThreads: threads.size,
    cpuUsPerBlock: ns0 !== undefined ? Number(((ns1 - ns0) / 1e3 / blocks).toFixed(2)) : null,
    userUsPerBlock: cpu0 ? Number((((cpu1.user - cpu0.user) * 1e6) / blocks).toFixed(2)) : null,
    sysUsPerBlock: cpu0 ? Number((((cpu1.sys - cpu0.sys) * 1e6) / blocks).toFixed(2)) : null,
    syscalls: Object.fromEntries(
      Object.entries(total)
        .filter(([k, v]) => k !== 'all' && k !== 'context-switches' && v / blocks >= 0.05)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => [k, per(v)]),
    ),
  };
}

const windowed = Number(values.windowsize) > 1 ? buildC('tftp-get') : undefined;

async function main() {
  if (windowed?.why) {
    console.error(`tftp-cost: ${windowed.why}`);
    process.exit(1);
  }
  const sizeMiB = Number(values.size);
  const blksize = Number(values.blksize);
  if (!(sizeMiB >= 1 && sizeMiB <= 1024) || !(Number.isInteger(blksize) && blksize >= 8 && blksize <= 65464)) {
    console.error('usage: node bench/tftp-cost.js [--size MiB (1-1024)] [--blksize B] [--threads N] [--json]');
    process.exit(2);
  }
  if (process.getuid?.() !== 0) {
    console.error('tftp-cost: needs root (perf attached to the servers)');
    process.exit(1);
  }
  for (const [p, pkg] of [['perf', 'linux-perf'], ['curl', 'curl'], ['in.tftpd', 'tftpd-hpa']]) {
    if (!which(p)) {
      console.error(`tftp-cost: ${p} is not installed (apt-get install ${pkg})`);
      process.exit(1);
    }
  }
  const size = sizeMiB * MiB;
  const atExit = cleanups();
  const dir = mkdtempSync(join(tmpdir(), 'nb-tftp-cost-'));
  atExit.add(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755); // in.tftpd serves as nobody
  writeFileSync(join(dir, 'bench.bin'), randomBytes(size), { mode: 0o644 });
  readFileSync(join(dir, 'bench.bin')); // page cache warm
  const started = [];
  const start = (cmd, args) => {
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d) => (text += d));
    child.stderr.on('data', (d) => (text += d));
    started.push(child);
    atExit.add(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    });
    return { child, output: () => text };
  };
  try {
    const nbPort = await freePort('udp');
    const nb = start(process.execPath, [cli, 'tftp', '--root', dir, '--listen', '127.0.0.1', '--port', String(nbPort), ...(values.threads !== undefined ? ['--threads', values.threads] : [])]);
    for (let i = 0; i < 100 && !nb.output().includes('listening on'); i++) await sleep(100);
    const threadArgs = values.threads !== undefined ? ['--threads', values.threads] : [];
    let base;
    let basePort;
    if (values.baseline) {
      const baseCli = join(values.baseline, 'packages/netboot/dist/cli.js');
      if (!existsSync(baseCli)) throw new Error(`--baseline: no built netboot at ${baseCli}`);
      basePort = await freePort('udp');
      base = start(process.execPath, [baseCli, 'tftp', '--root', dir, '--listen', '127.0.0.1', '--port', String(basePort), ...threadArgs]);
      for (let i = 0; i < 100 && !base.output().includes('listening on'); i++) await sleep(100);
    }
    const hpaPort = await freePort('udp');
    const hpa = start('in.tftpd', ['-L', '-s', dir, '-a', `127.0.0.1:${hpaPort}`]);
    await sleep(500);
    const loadAtStart = load();
    const rows = {};
    // Warm both (JIT, page cache), then measure.
    for (const port of [nbPort, hpaPort]) await measure(port, 'bench.bin', blksize, size, async () => (port === nbPort ? nb.child.pid : hpa.child.pid));
    if (base) await measure(basePort, 'bench.bin', blksize, size, async () => base.child.pid);
    rows.netboot = await measure(nbPort, 'bench.bin', blksize, size, async () => nb.child.pid);
    if (base) rows.baseline = await measure(basePort, 'bench.bin', blksize, size, async () => base.child.pid);
    rows['in.tftpd'] = await measure(hpaPort, 'bench.bin', blksize, size, async () => {
      for (let i = 0; i < 200; i++) {
        const kids = children(hpa.child.pid);
        if (kids.length) return kids[0];
        await sleep(5);
      }
      return undefined;
    });
    if (values.json) {
      const cells = ['syscallsPerBlock', 'loopTurnsPerBlock', 'contextSwitchesPerBlock', 'cpuUsPerBlock', 'userUsPerBlock', 'sysUsPerBlock'].map((m) =>
        jsonCell({
          key: windowed ? `b${blksize}w${values.windowsize}/${m}` : `b${blksize}/${m}`,
          label: `${windowed ? `windowsize ${values.windowsize}` : 'lock-step'} blksize ${blksize}: ${m}`,
          unit: m,
          higherIsBetter: false,
          values: { netboot: rows.netboot[m] ?? null, ...(rows.baseline && { baseline: rows.baseline[m] ?? null }), 'in.tftpd': rows['in.tftpd'][m] ?? null },
          reference: 'in.tftpd',
          detail: m === 'syscallsPerBlock' ? rows : {},
        }),
      );
      console.log(JSON.stringify(report({ benchmark: 'tftp-cost', params: { sizeMiB, blksize, windowsize: Number(values.windowsize), threads: values.threads ?? null, baseline: values.baseline ?? null }, loadAtStart, cells })));
    } else {
      const how = windowed ? `an RRQ at windowsize ${values.windowsize} (C tftp-get; in.tftpd ignores it: lock-step)` : 'a lock-step RRQ (curl)';
      console.log(`per-block cost of ${how}, blksize ${blksize}, ${sizeMiB} MiB, perf stat --per-thread on the serving process; load ${loadAtStart.join(' ')}`);
      console.log(`${'server'.padEnd(10)}${'MB/s'.padStart(7)}${'sys/blk'.padStart(9)}${'turns'.padStart(7)}${'futex'.padStart(7)}${'cs'.padStart(6)}${'cpu µs'.padStart(8)}${'usr µs'.padStart(8)}${'sys µs'.padStart(8)}  calls per block`);
      for (const [name, r] of Object.entries(rows)) {
        if (r.error) {
          console.log(`${name.padEnd(10)}${r.error}`);
          continue;
        }
        console.log(
          `${name.padEnd(10)}${r.MBps.toFixed(1).padStart(7)}${r.syscallsPerBlock.toFixed(2).padStart(9)}${r.loopTurnsPerBlock.toFixed(2).padStart(7)}` +
            `${r.futexPerBlock.toFixed(2).padStart(7)}${r.contextSwitchesPerBlock.toFixed(2).padStart(6)}${(r.cpuUsPerBlock ?? NaN).toFixed(2).padStart(8)}${(r.userUsPerBlock ?? NaN).toFixed(1).padStart(8)}` +
            `${(r.sysUsPerBlock ?? NaN).toFixed(1).padStart(8)}  ${Object.entries(r.syscalls).map(([k, v]) => `${k} ${v}`).join(', ')}`,
        );
      }
      console.log(`load at end ${load().join(' ')}; turns = epoll/poll/select waits per block, cs = context switches per block, cpu µs = all threads' CPU per block (schedstat; usr/sys split from 10 ms ticks)`);
    }
  } finally {
    for (const c of started) {
      try {
        process.kill(-c.pid, 'SIGTERM');
      } catch {
        // gone
      }
    }
    atExit.run();
  }
}

await main();
