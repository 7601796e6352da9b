// Read throughput of a TFTP RRQ over loopback: netboot's server (run as its
// own `netboot tftp` child process) against Debian's in.tftpd (tftpd-hpa, run
// by this script in the foreground on a loopback port and stopped after),
// both measured with the same client, @netboot/tftp-wire's tftpGet.
//   node bench/tftp-read.js [--size MiB] [--blksize 512,1468] [--windowsize 1,16] [--runs N] [--json]
// With --runs N each cell is the best of N (the machine may be busy with other work).
// in.tftpd does not implement windowsize (RFC 7440): it leaves the option out
// of its OACK, so its windowsize runs are lock-step (shown as "w=1*").
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { chmod, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { tftpGet } from '@netboot/tftp-wire';

const args = process.argv.slice(2);
const json = args.includes('--json');
const sizeArg = args.indexOf('--size');
const sizeMiB = sizeArg >= 0 ? Number(args[sizeArg + 1]) : 256;
if (!(sizeMiB > 0)) {
  console.error('usage: node bench/tftp-read.js [--size MiB] [--blksize LIST] [--windowsize LIST] [--runs N] [--json]');
  process.exit(2);
}
const size = Math.round(sizeMiB * 1024 * 1024);
const list = (flag, fallback) => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1].split(',').map(Number) : fallback;
};
const runs = list('--runs', [1])[0];
const blksizes = list('--blksize', [512, 1468, 8192, 65464]);
const windows = list('--windowsize', [1, 8, 16]);
const cli = fileURLToPath(new URL('../packages/netboot/dist/cli.js', import.meta.url));

async function freePort() {
  const s = createSocket('udp4');
  await new Promise((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
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

async function measure(port, blksize, windowsize) {
  let best;
  for (let i = 0; i < runs; i++) {
    const m = await measureOnce(port, blksize, windowsize);
    if (!best || m.mbps > best.mbps) best = m;
  }
  return best;
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

  const oursPort = await freePort();
  children.push(
    await startServer(process.execPath, [cli, 'tftp', '--root', dir, '--listen', '127.0.0.1', '--port', String(oursPort)], (t) =>
      t.includes('listening on'),
    ),
  );
  const hpaPort = await freePort();
  children.push(await startServer('in.tftpd', ['-L', '-s', dir, '-a', `127.0.0.1:${hpaPort}`], () => true));
  await waitForAnswer(hpaPort);
  // Warm both servers and the client (JIT, page cache) before measuring.
  for (const port of [oursPort, hpaPort]) {
    for (const b of blksizes) for (const w of windows) await measureOnce(port, b, w, 'warm.bin', 1024 * 1024);
  }

  const rows = [];
  for (const blksize of blksizes) {
    for (const windowsize of windows) {
      const row = { blksize, windowsize };
      for (const [name, port] of [['netboot', oursPort], ['in.tftpd', hpaPort]]) {
        try {
          const m = await measure(port, blksize, windowsize);
          row[name] = Number(m.mbps.toFixed(1));
          row[`${name}Window`] = m.window;
        } catch (err) {
          row[name] = null;
          row[`${name}Error`] = err.message;
        }
      }
      row.ratio = row.netboot && row['in.tftpd'] ? Number((row.netboot / row['in.tftpd']).toFixed(2)) : null;
      rows.push(row);
      if (!json) {
        const hpa = row['in.tftpd'] === null ? `failed: ${row['in.tftpdError']}` : `${row['in.tftpd']}`;
        const note = row['in.tftpdWindow'] !== undefined && row['in.tftpdWindow'] !== windowsize ? ` (w=${row['in.tftpdWindow']}*)` : '';
        console.log(
          `blksize ${String(blksize).padStart(5)}  windowsize ${String(windowsize).padStart(2)}  ` +
            `netboot ${String(row.netboot ?? `failed: ${row.netbootError}`).padStart(7)} MB/s  ` +
            `in.tftpd ${hpa.padStart(7)} MB/s${note}  ratio ${row.ratio ?? '-'}`,
        );
      }
    }
  }
  if (json) console.log(JSON.stringify({ sizeBytes: size, runs, unit: 'MB/s (10^6 bytes)', rows }, null, 2));
  else console.log(`${sizeMiB} MiB file, best of ${runs}, loopback, client @netboot/tftp-wire tftpGet; * = in.tftpd ignored windowsize (no RFC 7440)`);
} finally {
  for (const c of children) stop(c);
  await rm(dir, { recursive: true, force: true });
}
