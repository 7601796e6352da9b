// NFSv3 write speed: netboot's server (`netboot nfs`, its own process, a
// `sync` export so FILE_SYNC means what it says) beside NFS-Ganesha (VFS
// FSAL), both written by the same clients, each cell in a fresh client
// process inside the server's network namespace: `c` (bench/c/nfs-bench.c,
// libnfs' raw async API, built with gcc when the bench runs; it writes a file
// the bench creates in the export) and `node` (@netboot/nfs3's NfsClient,
// which CREATEs and REMOVEs its file over NFS):
//   sequential 1 MiB UNSTABLE WRITEs (4 and 16 in flight) followed by a COMMIT,
//     timed up to the COMMIT's reply,
//   sequential 1 MiB FILE_SYNC WRITEs (4 in flight).
// The writes cycle through the first --size MiB of a new file in the export.
// Columns: MB/s, ratio to Ganesha, server CPU seconds per GiB written, and
// each server's peak RSS. Beside a stable cell, its local limit: the same
// writes made by a C program (bench/c/sync-write.c) with as many threads as
// the cell has calls in flight, each write one pwritev2 with RWF_SYNC into a
// file in the export's directory, best of the same number of rounds: what
// the disk and file system give with no network and no RPC.
//
//   node bench/nfs-write.js [--size MiB] [--seconds S] [--rounds R] [--servers netboot,ganesha]
//                           [--cells unstable4,unstable16,filesync4] [--client c,node] [--profile DIR] [--json]
//
// Needs root (network namespaces); Ganesha is skipped with the reason printed
// when it is not installed. With --profile DIR the netboot server and each
// client process run under `node --cpu-prof`.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildC, buildNfsBench, runNfsBench } from './lib/c-client.js';
import { bestOfRounds, finish, startServers } from './lib/nfs-comparison.js';
import { cleanups, load } from './lib/processes.js';
import { cell as jsonCell, report } from './lib/report.js';
import { mountExport } from './lib/nfs-servers.js';
import { StableHow } from '@netboot/nfs3';

const self = fileURLToPath(import.meta.url);
const MiB = 1024 * 1024;

const CELLS = {
  unstable4: { label: 'WRITE 1 MiB UNSTABLE x4 + COMMIT', stable: StableHow.UNSTABLE, inflight: 4 },
  unstable16: { label: 'WRITE 1 MiB UNSTABLE x16 + COMMIT', stable: StableHow.UNSTABLE, inflight: 16 },
  filesync4: { label: 'WRITE 1 MiB FILE_SYNC x4', stable: StableHow.FILE_SYNC, inflight: 4 },
};

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '256' },
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '1' },
    servers: { type: 'string', default: 'netboot,ganesha' },
    cells: { type: 'string', default: Object.keys(CELLS).join(',') },
    client: { type: 'string', default: 'c,node' },
    profile: { type: 'string' },
    baseline: { type: 'string' },
    json: { type: 'boolean', default: false },
    measure: { type: 'string' },
  },
});

if (values.measure) await measure(JSON.parse(values.measure));
else await main();

/** Child: one cell against one server; prints { MBps, bytes }. */
async function measure(cell) {
  const { client, root } = await mountExport({ exportPath: cell.exportPath, timeoutMs: 60_000 });
  const name = `write-${cell.server}-${cell.cell}.bin`;
  const made = await client.create(root, name);
  if (made.status !== 0) throw new Error(`CREATE ${name} failed with status ${made.status}`);
  const fh = made.object;
  const data = randomBytes(MiB);
  let next = 0;
  let bytes = 0;
  const t0 = performance.now();
  const endAt = t0 + cell.seconds * 1000;
  const worker = async () => {
    while (performance.now() < endAt) {
      const offset = next;
      next += MiB;
      if (next >= cell.size) next = 0;
      const r = await client.write(fh, BigInt(offset), data, cell.stable);
      if (r.status !== 0) throw new Error(`WRITE status ${r.status}`);
      if (r.count !== MiB) throw new Error(`WRITE at ${offset} took ${r.count} bytes`);
      bytes += MiB;
    }
  };
  await Promise.all(Array.from({ length: cell.inflight }, worker));
  if (cell.stable === StableHow.UNSTABLE) {
    const c = await client.commit(fh);
    if (c.status !== 0) throw new Error(`COMMIT status ${c.status}`);
  }
  const s = (performance.now() - t0) / 1000;
  await client.remove(root, name);
  client.close();
  console.log(JSON.stringify({ MBps: Math.round(bytes / 1e6 / s), bytes, seconds: Number(s.toFixed(2)) }));
}

async function main() {
  const sizeMiB = Number(values.size);
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  const servers = values.servers.split(',');
  const cellNames = values.cells.split(',');
  const clients = values.client.split(',');
  if (
    clients.some((c) => c !== 'c' && c !== 'node') ||
    !(sizeMiB >= 16 && sizeMiB <= 16384) ||
    !(seconds > 0 && seconds <= 60) ||
    !(Number.isInteger(rounds) && rounds >= 1 && rounds <= 10) ||
    cellNames.some((c) => !CELLS[c]) ||
    servers.some((s) => s !== 'netboot' && s !== 'ganesha' && s !== 'baseline')
  ) {
    console.error(`usage: node bench/nfs-write.js [--size MiB (16-16384)] [--seconds S (0-60)] [--rounds R (1-10)]
       [--servers netboot,ganesha] [--cells ${Object.keys(CELLS).join(',')}] [--client c,node] [--profile DIR] [--json]`);
    process.exit(2);
  }
  if (process.getuid?.() !== 0) {
    console.error('nfs-write: needs root: each server runs in a network namespace of its own (ip netns add)');
    process.exit(1);
  }
  const atExit = cleanups();
  const work = mkdtempSync(join(tmpdir(), 'nb-nfs-write-'));
  atExit.add(() => rmSync(work, { recursive: true, force: true }));
  const dir = join(work, 'export');
  mkdirSync(dir);
  try {
    const { started, notes } = await startServers(values.baseline ? [...servers, 'baseline'] : servers, { dir, work, profileDir: values.profile, atExit, baseline: values.baseline });
    const cBuild = clients.includes('c') ? buildNfsBench() : undefined;
    if (cBuild?.why) notes['c client'] = `not run: ${cBuild.why}`;
    const localBuild = cellNames.some((c) => CELLS[c].stable !== StableHow.UNSTABLE) ? buildC('sync-write', { libs: ['pthread'] }) : undefined;
    if (localBuild?.why) notes['local limit'] = `not run: ${localBuild.why}`;
    const locals = {};
    const loadAtStart = load();
    if (!values.json) {
      console.log(
        `writes cycle through ${sizeMiB} MiB of a new file in ${dir}, ${rounds > 1 ? `best of ${rounds} alternating rounds of ` : ''}${seconds} s per cell, ` +
          `clients: ${clients.map((c) => (c === 'c' ? 'c = bench/c/nfs-bench.c (libnfs raw async)' : 'node = @netboot/nfs3 NfsClient')).join(', ')}`,
      );
      for (const [n, note] of Object.entries(notes)) console.log(`${n}: ${note}`);
      console.log(`load average at start ${loadAtStart.join(' ')}`);
      console.log(`${'cell'.padEnd(35)}${'client'.padStart(7)}${'netboot'.padStart(9)}${'ganesha'.padStart(9)}  unit${'/ganesha'.padStart(9)}${'cpu nb'.padStart(8)}${'cpu gan'.padStart(9)}  cpu unit`);
    }
    const rows = [];
    for (const c of cellNames) {
      for (const client of clients) {
        const def = CELLS[c];
        if (client === 'c' && !cBuild?.path) continue;
        if (def.stable !== StableHow.UNSTABLE && localBuild?.path && !locals[c]) locals[c] = localLimit(localBuild.path, dir, def, sizeMiB * MiB, seconds, rounds);
        const row = {
          cell: c,
          client,
          label: def.label,
          ...bestOfRounds({
            started,
            rounds,
            script: self,
            cell: { ...def, cell: c, size: sizeMiB * MiB, seconds },
            timeoutMs: (seconds + 120) * 1000,
            profileDir: values.profile,
            run: client === 'c' ? (s, name) => runC(cBuild.path, s, name, c, def, sizeMiB * MiB, seconds) : undefined,
            rate: (x) => x.MBps,
            account: (m, cpu) => (m.cpuPerGiB = Number((cpu / (m.bytes / 2 ** 30)).toFixed(3))),
          }),
        };
        const rate = (x) => (!x || x.error ? undefined : x.MBps);
        row.netbootRate = rate(row.netboot);
        row.ganeshaRate = rate(row.ganesha);
        row.baselineRate = rate(row.baseline);
        row.ratioToGanesha = row.netbootRate && row.ganeshaRate ? Number((row.netbootRate / row.ganeshaRate).toFixed(2)) : undefined;
        row.local = locals[c];
        const ofLocal = (x) => (x && row.local?.MBps ? Number((x / row.local.MBps).toFixed(2)) : undefined);
        row.netbootToLocal = ofLocal(row.netbootRate);
        row.ganeshaToLocal = ofLocal(row.ganeshaRate);
        row.load = load();
        rows.push(row);
        if (!values.json) printRow(row);
      }
    }
    const peakRss = await finish(started, values.profile);
    if (values.json) {
      const cells = rows.map((r) =>
        jsonCell({
          key: `${r.cell}/${r.client}`,
          label: `${r.label} (${r.client} client)`,
          unit: 'MB/s',
          values: { netboot: r.netbootRate ?? null, ganesha: r.ganeshaRate ?? null, ...(values.baseline ? { baseline: r.baselineRate ?? null } : {}) },
          reference: 'ganesha',
          detail: { netboot: r.netboot, ganesha: r.ganesha, baseline: r.baseline, ...(r.local ? { local: r.local, netbootToLocal: r.netbootToLocal ?? null, ganeshaToLocal: r.ganeshaToLocal ?? null } : {}) },
        }),
      );
      console.log(JSON.stringify(report({ benchmark: 'nfs-write', params: { sizeMiB, seconds, rounds, clients }, servers: notes, loadAtStart, cells, detail: { peakRssMB: peakRss } })));
    } else {
      console.log(`server peak RSS: ${Object.entries(peakRss).map(([n, v]) => `${n} ${v} MB`).join(', ')}   (load average ${load().join(' ')})`);
      if (values.profile) console.log(`netboot CPU profile written to ${values.profile}`);
    }
  } finally {
    atExit.run();
  }
}

/**
 * One C client run: it writes a file this script creates in the export (the
 * C client only LOOKUPs), removed after.
 */
function runC(binary, s, server, cellName, def, size, seconds) {
  const name = `write-${server}-${cellName}-c.bin`;
  const path = join(s.exportPath, name);
  writeFileSync(path, '');
  try {
    return runNfsBench(
      s.ns,
      binary,
      ['--export', s.exportPath, '--file', name, '--op', 'write', '--io', String(MiB), '--inflight', String(def.inflight),
        '--size', String(size), '--seconds', String(seconds), '--stable', String(def.stable)],
      (seconds + 120) * 1000,
    );
  } finally {
    rmSync(path, { force: true });
  }
}

/**
 * A stable cell's local limit: bench/c/sync-write.c in `dir` with the cell's
 * calls in flight as threads, best of `rounds`; { MBps, cpuUsPerWrite,
 * deviceFlushesPerWrite } or { error }.
 */
function localLimit(binary, dir, def, size, seconds, rounds) {
  let best;
  for (let round = 0; round < rounds; round++) {
    const r = spawnSync(binary, ['--file', join(dir, 'local-limit.bin'), '--threads', String(def.inflight), '--size', String(size), '--seconds', String(seconds), '--stable', String(def.stable)], {
      encoding: 'utf8',
      timeout: (seconds + 60) * 1000,
    });
    let m;
    try {
      m = r.status === 0 ? JSON.parse(r.stdout.trim()) : { error: (r.stderr || r.error?.message || `exit ${r.status ?? r.signal}`).trim() };
    } catch {
      m = { error: `unreadable output: ${r.stdout.slice(-200)}` };
    }
    if (!best || best.error || (!m.error && m.MBps > best.MBps)) best = m;
  }
  return best.error ? best : { MBps: best.MBps, cpuUsPerWrite: best.cpuUsPerWrite, deviceFlushesPerWrite: best.deviceFlushesPerWrite };
}

/** With --baseline: the baseline's figure and netboot's ratio to it. */
function base(r) {
  if (!r.baseline) return '';
  return `  baseline ${r.baselineRate ?? `(${r.baseline.error})`}${r.netbootRate && r.baselineRate ? ` new/base ${(r.netbootRate / r.baselineRate).toFixed(2)}` : ''}`;
}

/** A stable cell's local limit and each server's share of it. */
function local(r) {
  if (!r.local) return '';
  if (r.local.error) return `  local limit (${r.local.error})`;
  const share = [['netboot', r.netbootToLocal], ['ganesha', r.ganeshaToLocal]].filter(([, v]) => v !== undefined).map(([n, v]) => `${n} ${v}`);
  return `  local limit ${r.local.MBps} MB/s${share.length ? ` (${share.join(', ')} of it)` : ''}`;
}

function printRow(r) {
  const fmt = (x) => (x === undefined ? '-' : String(x));
  const err = (x) => (x?.error ? ` (${x.error})` : '');
  const cpu = (x) => (!x || x.error ? '-' : x.cpuPerGiB.toFixed(2));
  console.log(
    `${r.label.padEnd(35)}${r.client.padStart(7)}${fmt(r.netbootRate).padStart(9)}${fmt(r.ganeshaRate).padStart(9)}  MB/s${fmt(r.ratioToGanesha).padStart(9)}` +
      `${cpu(r.netboot).padStart(8)}${cpu(r.ganesha).padStart(9)}  s/GiB  load ${r.load[0]}${base(r)}${err(r.netboot)}${err(r.ganesha)}${local(r)}`,
  );
}
