// NFSv3 write speed: netboot's server (`netboot nfs`, its own process, a
// `sync` export so FILE_SYNC means what it says) beside NFS-Ganesha (VFS
// FSAL), both written by the same client, @netboot/nfs3's NfsClient, each
// cell in a fresh client process inside the server's network namespace:
//   sequential 1 MiB UNSTABLE WRITEs (4 and 16 in flight) followed by a COMMIT,
//     timed up to the COMMIT's reply,
//   sequential 1 MiB FILE_SYNC WRITEs (4 in flight).
// The writes cycle through the first --size MiB of a new file in the export.
// Columns: MB/s, ratio to Ganesha, server CPU seconds per GiB written, and
// each server's peak RSS.
//
//   node bench/nfs-write.js [--size MiB] [--seconds S] [--rounds R] [--servers netboot,ganesha]
//                           [--cells unstable4,unstable16,filesync4] [--profile DIR] [--json]
//
// Needs root (network namespaces); Ganesha is skipped with the reason printed
// when it is not installed. With --profile DIR the netboot server and each
// client process run under `node --cpu-prof`.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bestOfRounds, finish, startServers } from './lib/nfs-comparison.js';
import { cleanups, load } from './lib/processes.js';
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
    profile: { type: 'string' },
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
  if (
    !(sizeMiB >= 16 && sizeMiB <= 16384) ||
    !(seconds > 0 && seconds <= 60) ||
    !(Number.isInteger(rounds) && rounds >= 1 && rounds <= 10) ||
    cellNames.some((c) => !CELLS[c]) ||
    servers.some((s) => s !== 'netboot' && s !== 'ganesha')
  ) {
    console.error(`usage: node bench/nfs-write.js [--size MiB (16-16384)] [--seconds S (0-60)] [--rounds R (1-10)]
       [--servers netboot,ganesha] [--cells ${Object.keys(CELLS).join(',')}] [--profile DIR] [--json]`);
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
    const { started, notes } = await startServers(servers, { dir, work, profileDir: values.profile, atExit });
    const loadAtStart = load();
    if (!values.json) {
      console.log(`writes cycle through ${sizeMiB} MiB of a new file in ${dir}, ${rounds > 1 ? `best of ${rounds} rounds of ` : ''}${seconds} s per cell, client @netboot/nfs3 NfsClient`);
      for (const [n, note] of Object.entries(notes)) console.log(`${n}: ${note}`);
      console.log(`load average at start ${loadAtStart.join(' ')}`);
      console.log(`${'cell'.padEnd(35)}${'netboot'.padStart(9)}${'ganesha'.padStart(9)}  unit${'/ganesha'.padStart(9)}${'cpu nb'.padStart(8)}${'cpu gan'.padStart(9)}  cpu unit`);
    }
    const rows = [];
    for (const c of cellNames) {
      const def = CELLS[c];
      const row = {
        cell: c,
        label: def.label,
        ...bestOfRounds({
          started,
          rounds,
          script: self,
          cell: { ...def, cell: c, size: sizeMiB * MiB, seconds },
          timeoutMs: (seconds + 120) * 1000,
          profileDir: values.profile,
          rate: (x) => x.MBps,
          account: (m, cpu) => (m.cpuPerGiB = Number((cpu / (m.bytes / 2 ** 30)).toFixed(3))),
        }),
      };
      const rate = (x) => (!x || x.error ? undefined : x.MBps);
      row.netbootRate = rate(row.netboot);
      row.ganeshaRate = rate(row.ganesha);
      row.ratioToGanesha = row.netbootRate && row.ganeshaRate ? Number((row.netbootRate / row.ganeshaRate).toFixed(2)) : undefined;
      row.load = load();
      rows.push(row);
      if (!values.json) printRow(row);
    }
    const peakRss = await finish(started, values.profile);
    if (values.json) {
      console.log(JSON.stringify({ benchmark: 'nfs-write', sizeMiB, seconds, rounds, servers: notes, loadAtStart, loadAtEnd: load(), peakRssMB: peakRss, rows }));
    } else {
      console.log(`server peak RSS: ${Object.entries(peakRss).map(([n, v]) => `${n} ${v} MB`).join(', ')}   (load average ${load().join(' ')})`);
      if (values.profile) console.log(`netboot CPU profile written to ${values.profile}`);
    }
  } finally {
    atExit.run();
  }
}

function printRow(r) {
  const fmt = (x) => (x === undefined ? '-' : String(x));
  const err = (x) => (x?.error ? ` (${x.error})` : '');
  const cpu = (x) => (!x || x.error ? '-' : x.cpuPerGiB.toFixed(2));
  console.log(
    `${r.label.padEnd(35)}${fmt(r.netbootRate).padStart(9)}${fmt(r.ganeshaRate).padStart(9)}  MB/s${fmt(r.ratioToGanesha).padStart(9)}` +
      `${cpu(r.netboot).padStart(8)}${cpu(r.ganesha).padStart(9)}  s/GiB  load ${r.load[0]}${err(r.netboot)}${err(r.ganesha)}`,
  );
}
