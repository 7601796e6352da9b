// Read throughput of a TFTP RRQ over loopback: netboot's server (run as its
// own `netboot tftp` child process) against Debian's in.tftpd (tftpd-hpa, run
// by this script in the foreground on a loopback port and stopped after),
// both measured with the same clients:
//   c     curl (C) for lock-step, timed by curl itself (%{time_total}); a Node
//         client's own round trip would cap both servers; for windowsize > 1
//         (curl has none) bench/c/tftp-get.c, a C client compiled here with
//         gcc (atftp's windowed read is slower than the server it measures;
//         tftp-get takes the datagrams queued with one recvmmsg and reports
//         its own CPU per datagram, printed beside netboot's figure);
//   cgro  tftp-get again for the windowed cells, its socket asking for
//         UDP_GRO: a window netboot sends as one segmented send arrives as
//         one buffer the client cuts itself, where with c the kernel cuts
//         and queues every datagram, and that cost is on the stop-and-wait
//         path of every window. Same server, same datagrams on the wire;
//         only what the client pays to take them changes;
//   node  @netboot/tftp-wire's tftpGet, lock-step and with RFC 7440 windows.
//   node bench/tftp-read.js [--size MiB] [--blksize 512,1468] [--windowsize 1,16] [--client c,cgro,node] [--runs N] [--status-port] [--baseline DIR] [--json]
// With --runs N each cell is the best of N, alternating which server goes
// first (the machine may be busy with other work). in.tftpd does not
// implement windowsize (RFC 7440): it leaves the option out of its OACK, so
// its windowsize runs are lock-step (shown as "w=1*"); the "wN vs lock-step"
// lines set netboot's windowed figure against in.tftpd's lock-step with curl.
// With --status-port netboot runs as `netboot serve --status-port` (boot
// events, metrics and the dashboard on) instead of `netboot tftp`: a run with
// it and one without, set side by side by bench/compare.js, show what events
// cost a transfer. --baseline DIR adds another built checkout's netboot as
// server "baseline", in the same alternating rounds, with its own ratio to
// in.tftpd and netboot's to it ("vs baseline").
import { spawn, spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { tftpGet } from '@netboot/tftp-wire';
import { buildC } from './lib/c-client.js';
import { freePort } from './lib/free-port.js';
import { cell as jsonCell, report } from './lib/report.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const statusPort = args.includes('--status-port');
const sizeArg = args.indexOf('--size');
const sizeMiB = sizeArg >= 0 ? Number(args[sizeArg + 1]) : 256;
if (!(sizeMiB > 0)) {
  console.error('usage: node bench/tftp-read.js [--size MiB] [--blksize LIST] [--windowsize LIST] [--runs N] [--status-port] [--json]');
  process.exit(2);
}
const size = Math.round(sizeMiB * 1024 * 1024);
const list = (flag, fallback) => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1].split(',').map(Number) : fallback;
};
const runs = list('--runs', [1])[0];
const clientArg = args.indexOf('--client');
const clients = clientArg >= 0 ? args[clientArg + 1].split(',') : ['c', 'node'];
if (clients.some((c) => c !== 'c' && c !== 'cgro' && c !== 'node')) {
  console.error('--client: c (curl, and tftp-get for windows), cgro (tftp-get taking each window with UDP_GRO) and/or node (tftpGet)');
  process.exit(2);
}
const blksizes = list('--blksize', [512, 1468, 8192, 65464]);
const windows = list('--windowsize', [1, 8, 16]);
const tftpGetC = (clients.includes('c') || clients.includes('cgro')) && windows.some((w) => w > 1) ? buildC('tftp-get') : undefined;
if (tftpGetC?.why) {
  console.error(`tftp-read: the windowed C client cannot be built: ${tftpGetC.why}`);
  process.exit(1);
}
const cli = fileURLToPath(new URL('../packages/netboot/dist/cli.js', import.meta.url));
const baselineArg = args.indexOf('--baseline');
const baselineCli = baselineArg >= 0 ? join(args[baselineArg + 1] ?? '', 'packages/netboot/dist/cli.js') : undefined;
if (baselineCli && !existsSync(baselineCli)) {
  console.error(`--baseline: no built netboot at ${baselineCli}`);
  process.exit(2);
}

/** Starts a server in its own process group and resolves once `ready` says it listens. */
function startServer(cmd, argv, ready) {
  const child = spawn(cmd, argv, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd} did not start: ${text}`)), 10_000);
    const check = () => {
      if (ready(text)) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout.on('data', (c) => ((text += c), check()));
    child.stderr.on('data', (c) => ((text += c), check()));
    child.on('exit', (code) => reject(new Error(`${cmd} exited with ${code}: ${text}`)));
    check();
  });
}

function stop(child) {
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    // gone
  }
}

/** A server that prints nothing when ready: poll it with a request for a missing file until it answers. */
async function waitForAnswer(port) {
  for (let i = 0; i < 50; i++) {
    try {
      await tftpGet('.bench-probe', { host: '127.0.0.1', port, retry: { initialMs: 100, maxMs: 100, maxRetries: 1 } });
      return;
    } catch (err) {
      if (err.code !== undefined) return; // an ERROR packet: it is up
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing answers on port ${port}`);
}

/** One curl transfer to /dev/null, timed by curl; lock-step (curl sends no windowsize). */
function curlOnce(port, blksize, name = 'bench.bin', expect = size) {
  const r = spawnSync(
    'curl',
    ['-s', '-S', '-o', '/dev/null', '--tftp-blksize', String(blksize), '-w', '%{time_total} %{size_download}', `tftp://127.0.0.1:${port}/${name}`],
    { encoding: 'utf8', timeout: 300_000 },
  );
  if (r.status !== 0) throw new Error(`curl: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`);
  const [secs, got] = r.stdout.trim().split(' ').map(Number);
  if (got !== expect) throw new Error(`curl got ${got} of ${expect} bytes`);
  return { mbps: expect / 1e6 / secs, window: 1 };
}
/** How a windowed row's client is named in labels. */
function clientName(client) {
  return client === 'node' ? 'node' : client === 'cgro' ? 'C tftp-get, UDP_GRO' : 'C tftp-get';
}
/** One windowed read by bench/c/tftp-get.c, timed by itself from the RRQ to the last block. */
function cWindowedOnce(port, blksize, windowsize, gro) {
  const r = spawnSync(tftpGetC.path, ['127.0.0.1', String(port), 'bench.bin', String(blksize), String(windowsize), ...(gro ? ['gro'] : [])], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`tftp-get: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`);
  const m = JSON.parse(r.stdout.trim());
  if (m.bytes !== size) throw new Error(`tftp-get got ${m.bytes} of ${size} bytes`);
  return { mbps: size / 1e6 / m.seconds, window: m.windowsize, clientUs: m.datagrams > 0 ? (m.cpuSeconds * 1e6) / m.datagrams : undefined };
}
async function measureOnce(port, blksize, windowsize, name = 'bench.bin', expect = size) {
  let bytes = 0;
  const r = await tftpGet(name, {
    host: '127.0.0.1',
    port,
    blksize,
    windowsize,
    write: (_offset, data) => {
      bytes += data.length;
    },
  });
  if (bytes !== expect) throw new Error(`got ${bytes} of ${expect} bytes`);
  return { mbps: expect / 1e6 / (r.ms / 1000), window: r.settings.windowsize };
}

const dir = await mkdtemp(join(tmpdir(), 'tftp-bench-'));
const stateDir = await mkdtemp(join(tmpdir(), 'tftp-bench-state-'));
const children = [];
try {
  await chmod(dir, 0o755); // in.tftpd drops to "nobody"
  const file = join(dir, 'bench.bin');
  const fh = await open(file, 'w');
  const chunk = randomBytes(1024 * 1024);
  for (let at = 0; at < size; at += chunk.length) await fh.write(chunk, 0, Math.min(chunk.length, size - at), at);
  await fh.close();
  await chmod(file, 0o644);
  const warm = join(dir, 'warm.bin');
  await writeFile(warm, chunk.subarray(0, 1024 * 1024));
  await chmod(warm, 0o644);

  const oursPort = await freePort('udp');
  // The same TFTP server either way; serve adds boot events and metrics (its state beside the root, not in it).
  const [argv, ready] = statusPort
    ? [
        ['serve', '--tftp-root', dir, '--listen', '127.0.0.1', '--tftp-port', String(oursPort), '--state-dir', stateDir, '--status-port', String(await freePort('tcp'))],
        'status: dashboard and /metrics on',
      ]
    : [['tftp', '--root', dir, '--listen', '127.0.0.1', '--port', String(oursPort)], 'listening on'];
  children.push(await startServer(process.execPath, [cli, ...argv], (t) => t.includes(ready)));
  const basePort = baselineCli ? await freePort('udp') : undefined;
  if (baselineCli) {
    const baseArgv = argv.map((a) => (a === String(oursPort) ? String(basePort) : a));
    children.push(await startServer(process.execPath, [baselineCli, ...baseArgv], (t) => t.includes(ready)));
  }
  const hpaPort = await freePort('udp');
  children.push(await startServer('in.tftpd', ['-L', '-s', dir, '-a', `127.0.0.1:${hpaPort}`], () => true));
  await waitForAnswer(hpaPort);
  // Warm both servers and the client (JIT, page cache) before measuring.
  for (const port of [oursPort, ...(basePort ? [basePort] : []), hpaPort]) {
    for (const b of blksizes) for (const w of windows) await measureOnce(port, b, w, 'warm.bin', 1024 * 1024);
  }

  const loadAtStart = loadavg().map((l) => Number(l.toFixed(2)));
  const servers = [['netboot', oursPort], ...(basePort ? [['baseline', basePort]] : []), ['in.tftpd', hpaPort]];
  const rows = [];
  for (const client of clients) {
    for (const blksize of blksizes) {
      for (const windowsize of windows) {
        // cgro differs from c only in how tftp-get takes a window: lock-step is curl's either way.
        if (client === 'cgro' && windowsize === 1) continue;
        const row = { client, blksize, windowsize };
        // Best of `runs`, alternating which server goes first.
        for (let run = 0; run < runs; run++) {
          for (const [name, port] of run % 2 === 0 ? servers : [...servers].reverse()) {
            try {
              const m =
                client === 'node' ? await measureOnce(port, blksize, windowsize) : windowsize === 1 ? curlOnce(port, blksize) : cWindowedOnce(port, blksize, windowsize, client === 'cgro');
              if (!(row[name] >= m.mbps)) {
                row[name] = Number(m.mbps.toFixed(1));
                row[`${name}Window`] = m.window;
                if (m.clientUs !== undefined) row[`${name}ClientUsPerDatagram`] = Number(m.clientUs.toFixed(2));
              }
            } catch (err) {
              row[name] ??= null;
              row[`${name}Error`] = err.message;
            }
          }
        }
        row.ratio = row.netboot && row['in.tftpd'] ? Number((row.netboot / row['in.tftpd']).toFixed(2)) : null;
        if (basePort) {
          row.baselineRatio = row.baseline && row['in.tftpd'] ? Number((row.baseline / row['in.tftpd']).toFixed(2)) : null;
          row.vsBaseline = row.netboot && row.baseline ? Number((row.netboot / row.baseline).toFixed(2)) : null;
        }
        rows.push(row);
        if (!json) {
          const hpa = row['in.tftpd'] === null ? `failed: ${row['in.tftpdError']}` : `${row['in.tftpd']}`;
          const note = row['in.tftpdWindow'] !== undefined && row['in.tftpdWindow'] !== windowsize ? ` (w=${row['in.tftpdWindow']}*)` : '';
          console.log(
            `${client === 'node' ? 'node' : windowsize === 1 ? 'curl' : client === 'cgro' ? 'cgro' : 'cget'}  blksize ${String(blksize).padStart(5)}  windowsize ${String(windowsize).padStart(2)}  ` +
              `netboot ${String(row.netboot ?? `failed: ${row.netbootError}`).padStart(7)} MB/s  ` +
              `in.tftpd ${hpa.padStart(7)} MB/s${note}  ratio ${row.ratio ?? '-'}  ` +
              (basePort ? `baseline ${String(row.baseline ?? `failed: ${row.baselineError}`).padStart(7)} MB/s (ratio ${row.baselineRatio ?? '-'}, vs baseline ${row.vsBaseline ?? '-'})  ` : '') +
              `load ${loadavg()[0].toFixed(2)}` +
              (row.netbootClientUsPerDatagram !== undefined ? `  client CPU ${row.netbootClientUsPerDatagram} µs/datagram` : ''),
          );
        }
      }
    }
  }
  // netboot's windowed transfer against in.tftpd lock-step read by curl (a C client).
  const windowed = [];
  for (const r of rows) {
    if (r.windowsize === 1 || !r.netboot) continue;
    const lock = rows.find((x) => x.client === 'c' && x.blksize === r.blksize);
    if (!lock?.['in.tftpd']) continue;
    const w = { client: r.client, blksize: r.blksize, windowsize: r.windowsize, netboot: r.netboot, inTftpdLockStep: lock['in.tftpd'], ratio: Number((r.netboot / lock['in.tftpd']).toFixed(2)) };
    windowed.push(w);
    if (!json) console.log(`blksize ${String(w.blksize).padStart(5)}  netboot w${w.windowsize} (${clientName(w.client)}) ${w.netboot} MB/s vs in.tftpd lock-step (curl) ${w.inTftpdLockStep} MB/s: ${w.ratio}x`);
  }
  if (json) {
    const cells = [
      ...rows.map((r) =>
        jsonCell({
          key: `b${r.blksize}-w${r.windowsize}/${r.client}`,
          label: `RRQ blksize ${r.blksize} windowsize ${r.windowsize} (${r.client === 'node' ? 'node tftpGet' : r.windowsize === 1 ? 'curl' : clientName(r.client)})`,
          unit: 'MB/s',
          values: { netboot: r.netboot ?? null, ...(basePort && { baseline: r.baseline ?? null }), 'in.tftpd': r['in.tftpd'] ?? null },
          reference: 'in.tftpd',
          detail: { netbootWindow: r.netbootWindow, inTftpdWindow: r['in.tftpdWindow'], errors: { netboot: r.netbootError, 'in.tftpd': r['in.tftpdError'] } },
        }),
      ),
      ...windowed.map((w) =>
        jsonCell({
          key: `b${w.blksize}-w${w.windowsize}-vs-lockstep${w.client === 'node' ? '' : `/${w.client}`}`,
          label: `netboot blksize ${w.blksize} windowsize ${w.windowsize} (${clientName(w.client)}) vs in.tftpd lock-step (curl)`,
          unit: 'MB/s',
          values: { netboot: w.netboot, 'in.tftpd': w.inTftpdLockStep },
          reference: 'in.tftpd',
        }),
      ),
    ];
    console.log(JSON.stringify(report({ benchmark: 'tftp-read', params: { sizeBytes: size, runs, clients, blksizes, windows, statusPort, baseline: baselineArg >= 0 ? args[baselineArg + 1] : null }, loadAtStart, cells })));
  } else console.log(`${sizeMiB} MiB file, best of ${runs} alternating, loopback${statusPort ? ', netboot with --status-port (boot events and metrics on)' : ''}; * = in.tftpd ignored windowsize (no RFC 7440); load at start ${loadAtStart.join(' ')}`);
} finally {
  for (const c of children) stop(c);
  await rm(dir, { recursive: true, force: true });
  await rm(stateDir, { recursive: true, force: true });
}
