// What a garbage datagram costs a server: CPU microseconds of all its threads
// (schedstat) per datagram it received, while a flooder sends the RPC fuzz
// target's inputs (random bytes and mutations of valid calls, what
// test/hostile/flood-udp.test.ts sends) at a fixed rate to the portmapper's
// UDP port on loopback. The rate stays below what the server can take, so the
// figure is per datagram handled; datagrams the kernel dropped at the socket
// (its receive queue full, /proc/net/udp) are reported and not counted.
//
//   node bench/udp-garbage-cost.js [--rate N] [--seconds S] [--rounds R] [--baseline DIR] [--json]
//
// Servers, in the same run: `netboot portmap` as built (the platform
// module's batched socket where it loaded), the same with
// NETBOOT_PLATFORM=portable (node:dgram), and with --baseline DIR another
// built checkout. With --rounds R each server is measured R times in
// alternating order and the lowest cost is kept (load only ever adds to it).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cleanups, load, startServer, threadsCpuNs as cpuNs, waitFor } from './lib/processes.js';
import { freePort } from './lib/free-port.js';
import { cell as jsonCell, report } from './lib/report.js';

const self = fileURLToPath(import.meta.url);
const repo = fileURLToPath(new URL('..', import.meta.url));

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    baseline: { type: 'string' },
    json: { type: 'boolean', default: false },
    flood: { type: 'string' }, // internal: the flooder child
  },
});

if (values.flood) await flood(JSON.parse(values.flood));
else await main();

/** Child: sends `rate` datagrams a second for `seconds` to 127.0.0.1:`port`; prints how many it sent. */
async function flood({ port, rate, seconds }) {
  const dgram = await import('node:dgram');
  const { prng, nextInput } = await import(new URL('fuzz/engine.js', `file://${repo}`).href);
  const { rpcTargets } = await import(new URL('fuzz/targets.js', `file://${repo}`).href);
  const target = rpcTargets.find((t) => t.name === 'rpc-message');
  const rng = prng(87);
  const inputs = Array.from({ length: 4096 }, () => nextInput(rng, target));
  const sock = dgram.createSocket('udp4');
  sock.on('error', () => {}); // ECONNREFUSED and the like: the server's business
  await new Promise((r) => sock.bind(0, '127.0.0.1', r));
  const start = performance.now();
  const end = start + seconds * 1000;
  let sent = 0;
  while (performance.now() < end) {
    const due = Math.min(rate * seconds, Math.floor(((performance.now() - start) / 1000) * rate));
    // Sent in runs, then a turn of the loop so the completions come back.
    for (let k = 0; sent < due && k < 256; k++, sent++) sock.send(inputs[sent % inputs.length], port, '127.0.0.1');
    await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setTimeout(r, 200)); // the last sends leave
  sock.close();
  console.log(JSON.stringify({ sent, seconds: (performance.now() - start) / 1000 }));
}

/** Datagrams dropped so far by the UDP sockets bound to `port` (the last column of /proc/net/udp). */
function drops(port) {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let n = 0;
  for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1]?.endsWith(hex)) n += Number(f[f.length - 1]);
  }
  return n;
}

async function measure(server, rate, seconds) {
  const cpu0 = cpuNs(server.pid);
  const drop0 = drops(server.port);
  const child = spawn(process.execPath, [self, '--flood', JSON.stringify({ port: server.port, rate, seconds })], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const code = await new Promise((r) => child.on('exit', r));
  if (code !== 0) throw new Error(`the flooder exited with ${code}`);
  const { sent } = JSON.parse(out.trim().split('\n').pop());
  const cpu = cpuNs(server.pid) - cpu0;
  const dropped = drops(server.port) - drop0;
  const received = sent - dropped;
  return { sent, dropped, received, cpuMs: cpu / 1e6, usPerDatagram: received > 0 ? cpu / 1e3 / received : null };
}

async function main() {
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  const atExit = cleanups();
  const dir = mkdtempSync(join(tmpdir(), 'udp-garbage-'));
  atExit.add(() => rmSync(dir, { recursive: true, force: true }));
  const loadAtStart = load();
  const kinds = [
    { name: 'netboot', cli: join(repo, 'packages/netboot/dist/cli.js'), env: {} },
    { name: 'portable', cli: join(repo, 'packages/netboot/dist/cli.js'), env: { NETBOOT_PLATFORM: 'portable' } },
  ];
  if (values.baseline) {
    const cli = join(values.baseline, 'packages/netboot/dist/cli.js');
    if (!existsSync(cli)) throw new Error(`--baseline: no built netboot at ${cli}`);
    kinds.push({ name: 'baseline', cli, env: {} });
  }
  const servers = [];
  try {
    for (const k of kinds) {
      const port = await freePort();
      const log = join(dir, `${k.name}.log`);
      const env = { ...process.env, ...k.env };
      const s = startServer(undefined, 'env', [...Object.entries(env).map(([a, b]) => `${a}=${b}`), process.execPath, k.cli, 'portmap', '--listen', '127.0.0.1', '--port', String(port)], log, atExit);
      await waitFor(() => /listening on/.test(s.output()), `${k.name} portmap`);
      servers.push({ ...k, pid: s.pid, port, stop: () => s.stop() });
    }
    const best = {};
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? servers : [...servers].reverse();
      for (const s of order) {
        const m = await measure(s, rate, seconds);
        if (!values.json) console.log(`round ${r + 1} ${s.name}: ${m.sent} sent, ${m.dropped} dropped, ${m.cpuMs.toFixed(0)} ms CPU, ${m.usPerDatagram?.toFixed(2)} µs a datagram`);
        if (m.usPerDatagram !== null && (best[s.name] === undefined || m.usPerDatagram < best[s.name].usPerDatagram)) best[s.name] = m;
      }
    }
    const cost = Object.fromEntries(servers.map((s) => [s.name, best[s.name] ? Number(best[s.name].usPerDatagram.toFixed(3)) : null]));
    if (values.json) {
      const cells = [
        jsonCell({ key: 'garbage/rpc', label: 'CPU µs per garbage datagram at the portmapper', unit: 'µs', higherIsBetter: false, values: cost, reference: values.baseline ? 'baseline' : 'portable', detail: best }),
      ];
      console.log(JSON.stringify(report({ benchmark: 'udp-garbage-cost', params: { rate, seconds, rounds, baseline: values.baseline ?? null }, loadAtStart, cells })));
    } else {
      for (const s of servers) console.log(`${s.name}: ${cost[s.name]} µs CPU per garbage datagram (best of ${rounds})`);
      console.log(`load at start ${loadAtStart.join(' ')}, at end ${load().join(' ')}`);
    }
  } finally {
    for (const s of servers) await s.stop();
    atExit.run();
  }
}
