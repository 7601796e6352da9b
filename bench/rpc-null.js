// NULL calls per second to the portmapper (program 100000 version 2,
// procedure 0): ours (`@netboot/portmap` in its own process) and Debian's
// rpcbind, measured in the same run by the same client (`RpcClient`), over TCP
// with 1, 16 and 64 calls in flight and over UDP.
//
// Run after a build:  node bench/rpc-null.js [--seconds S] [--inflight 1,16,64] [--rounds R] [--json]
// With --rounds R each cell is measured R times per server, alternating which
// server goes first, and the best figure is kept (a loaded machine only ever
// makes a figure lower).
//
// As root both servers run in a network namespace created for the run (rpcbind
// always takes port 111, and gets a private /run so a system rpcbind is never
// touched); the client runs there too, in a child process per cell. Without
// root only our server is measured, on 127.0.0.1, and the output says why.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cell as jsonCell, report } from './lib/report.js';

const self = fileURLToPath(import.meta.url);
const PMAP_PROG = 100000;

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '2' },
    inflight: { type: 'string', default: '1,16,64' },
    rounds: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
    // internal modes: the server child and the measuring client child
    serve: { type: 'boolean', default: false },
    measure: { type: 'string' },
  },
});

if (values.serve) await serve();
else if (values.measure) await measure(JSON.parse(values.measure));
else await main();

/** Child: our portmapper on a free loopback port; prints the port, runs until killed. */
async function serve() {
  const { PortmapServer } = await import('@netboot/portmap');
  const server = new PortmapServer({ log: () => {} });
  const port = await server.listen({ host: '127.0.0.1', port: 0 });
  console.log(`port ${port}`);
}

/** Child: keeps `inflight` NULL calls outstanding for `seconds` after a short warm-up; prints calls/s. */
async function measure({ port, transport, inflight, seconds }) {
  const { RpcClient } = await import('@netboot/oncrpc-xdr');
  const client = await RpcClient.connect({ host: '127.0.0.1', port, transport, timeoutMs: 5000, retransmitMs: 200 });
  const warmUntil = performance.now() + 200;
  const endAt = warmUntil + seconds * 1000;
  let done = 0;
  let failed = 0;
  const loop = async () => {
    for (;;) {
      const now = performance.now();
      if (now >= endAt) return;
      try {
        await client.call(PMAP_PROG, 2, 0);
        if (now >= warmUntil) done++;
      } catch {
        failed++;
        if (failed > 1000) return;
      }
    }
  };
  await Promise.all(Array.from({ length: inflight }, loop));
  client.close();
  console.log(JSON.stringify({ callsPerSecond: Math.round(done / seconds), failed }));
}

function sh(cmd, args) {
  return spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
}

function inNs(ns, cmd, args) {
  return ns ? ['ip', ['netns', 'exec', ns, cmd, ...args]] : [cmd, args];
}

/** Starts a long-running child in its own process group, so stopping it stops everything it forked. */
function startChild(ns, cmd, args) {
  const [c, a] = inNs(ns, cmd, args);
  const child = spawn(c, a, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return {
    child,
    output: () => out,
    stop() {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    },
  };
}

function runMeasure(ns, cell) {
  const [c, a] = inNs(ns, process.execPath, [self, '--measure', JSON.stringify(cell)]);
  const r = spawnSync(c, a, { encoding: 'utf8', timeout: (cell.seconds + 30) * 1000 });
  if (r.status !== 0) return { error: (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').pop() };
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

async function waitFor(predicate, what) {
  for (let i = 0; i < 100; i++) {
    const v = await predicate();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not come up within 10 s`);
}

async function main() {
  const seconds = Number(values.seconds);
  const inflights = values.inflight.split(',').map(Number);
  const rounds = Number(values.rounds);
  if (
    !(seconds > 0 && seconds <= 60) ||
    inflights.some((n) => !Number.isInteger(n) || n < 1 || n > 1024) ||
    !(Number.isInteger(rounds) && rounds >= 1 && rounds <= 10)
  ) {
    console.error('usage: node bench/rpc-null.js [--seconds S (0-60)] [--inflight N,N,...] [--rounds R (1-10)] [--json]');
    process.exit(2);
  }

  const cleanups = [];
  const cleanup = () => {
    for (const f of cleanups.splice(0).reverse()) f();
  };
  process.on('SIGINT', () => {
    cleanup();
    process.exit(130);
  });

  let ns;
  let rpcbindNote = 'measured (Debian rpcbind in a private network namespace and /run)';
  const rpcbindPath = ['/usr/sbin/rpcbind', '/sbin/rpcbind'].find((p) => sh('test', ['-x', p]).status === 0);
  if (process.getuid?.() !== 0) rpcbindNote = 'not measured: needs root to run rpcbind in its own network namespace';
  else if (!rpcbindPath) rpcbindNote = 'not measured: rpcbind is not installed (apt-get install rpcbind)';
  else {
    ns = `nbbench-${randomBytes(3).toString('hex')}`;
    if (sh('ip', ['netns', 'add', ns]).status !== 0) {
      rpcbindNote = 'not measured: could not create a network namespace';
      ns = undefined;
    } else {
      cleanups.push(() => sh('ip', ['netns', 'del', ns]));
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
  }

  let rpcbindPort;
  try {
    const ours = startChild(ns, process.execPath, [self, '--serve']);
    cleanups.push(() => ours.stop());
    const started = await waitFor(() => ours.output().match(/port (\d+)/) || ours.child.exitCode !== null, 'our portmapper');
    if (started === true) throw new Error(`our portmapper failed to start:\n${ours.output()}`);
    const ourPort = Number(started[1]);

    if (ns) {
      const rb = startChild(ns, 'unshare', ['-m', 'sh', '-c', `mount -t tmpfs tmpfs /run && exec ${rpcbindPath} -f`]);
      cleanups.push(() => rb.stop());
      try {
        await waitFor(() => sh('ip', ['netns', 'exec', ns, 'rpcinfo', '-T', 'tcp', '127.0.0.1', '100000', '2']).status === 0, 'rpcbind');
        rpcbindPort = 111;
      } catch {
        rpcbindNote = `not measured: rpcbind did not start (${rb.output().trim() || 'no output'})`;
      }
    }

    const cells = [];
    for (const transport of ['tcp', 'udp']) {
      for (const inflight of inflights) {
        const cell = { transport, inflight, seconds };
        let netboot;
        let rpcbind;
        for (let round = 0; round < rounds; round++) {
          const ourTurn = () => (netboot = best(netboot, runMeasure(ns, { ...cell, port: ourPort })));
          const theirTurn = () => rpcbindPort && (rpcbind = best(rpcbind, runMeasure(ns, { ...cell, port: rpcbindPort })));
          for (const turn of round % 2 === 0 ? [ourTurn, theirTurn] : [theirTurn, ourTurn]) turn();
        }
        const ratio =
          netboot.callsPerSecond && rpcbind?.callsPerSecond ? Number((netboot.callsPerSecond / rpcbind.callsPerSecond).toFixed(2)) : null;
        cells.push({ transport, inflight, netboot, rpcbind, ratio });
        if (!values.json) printRow(cells.length === 1, cells.at(-1), seconds, rounds, rpcbindNote);
      }
    }
    if (values.json) {
      const out = cells.map((c) =>
        jsonCell({
          key: `${c.transport}${c.inflight}`,
          label: `NULL ${c.transport.toUpperCase()} x${c.inflight}`,
          unit: 'calls/s',
          values: { netboot: c.netboot?.callsPerSecond ?? null, rpcbind: c.rpcbind?.callsPerSecond ?? null },
          reference: 'rpcbind',
          detail: { netboot: c.netboot, rpcbind: c.rpcbind },
        }),
      );
      console.log(JSON.stringify(report({ benchmark: 'rpc-null', params: { program: PMAP_PROG, version: 2, procedure: 0, seconds, rounds }, servers: { rpcbind: rpcbindNote }, cells: out })));
    }
  } finally {
    cleanup();
  }
}

/** The better of two measurements; an error only when there is nothing better. */
function best(a, b) {
  if (!a || a.error) return b;
  if (b.error) return a;
  return b.callsPerSecond > a.callsPerSecond ? b : a;
}

function printRow(first, c, seconds, rounds, rpcbindNote) {
  const fmt = (r) => (r === undefined ? '-' : r.error ? `error: ${r.error}` : `${r.callsPerSecond}${r.failed ? ` (${r.failed} failed)` : ''}`);
  if (first) {
    const per = rounds > 1 ? `best of ${rounds} rounds of ${seconds} s` : `${seconds} s`;
    console.log(`NULL calls/s to program 100000 version 2, ${per} per cell, same RpcClient for both servers`);
    console.log(`rpcbind: ${rpcbindNote}`);
    console.log(`${'transport'.padEnd(10)}${'in flight'.padStart(10)}${'netboot'.padStart(12)}${'rpcbind'.padStart(12)}${'ratio'.padStart(8)}`);
  }
  console.log(
    `${c.transport.padEnd(10)}${String(c.inflight).padStart(10)}${fmt(c.netboot).padStart(12)}${fmt(c.rpcbind).padStart(12)}${(c.ratio === null ? '-' : String(c.ratio)).padStart(8)}`,
  );
}
