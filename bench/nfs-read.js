// NFSv3 read speed: netboot's server (`netboot nfs`, its own process) beside
// NFS-Ganesha (VFS FSAL) and beside a local pread of the same file, the
// machine's limit. Both servers are read by the same clients, each cell in a
// fresh client process inside the server's network namespace:
//   c     bench/c/nfs-bench.c on libnfs' raw async API (built with gcc when the
//         bench runs): costs the server's cores little, so it measures the server;
//   node  @netboot/nfs3's NfsClient: about as costly as the server itself, so
//         from 4 calls in flight it measures the two processes sharing two cores.
// Cells:
//   sequential READ over TCP at rsize 1 MiB with 1, 4 and 16 calls in flight,
//   sequential READ over TCP at 8 KiB and 64 KiB with 8 and 16 in flight (C client),
//   the same at 16 in flight over 4 connections (C client; a server with NFS
//     worker threads serves each connection on one of them, so one connection
//     measures one thread),
//   sequential READ over UDP at rsize 8 KiB (16 in flight, node client only),
//   random 4 KiB READs (16 in flight), GETATTR and LOOKUP (16 in flight),
//   rsize8k: a 64 MiB file read whole once in 8 KiB READs, 16 in flight (C client),
//   walk: a cold `nfs-ls -R` of a copy of part of /usr/lib (C client): each
//     round a copy no server has seen, the page cache dropped before each walk.
// Columns: MB/s or ops/s (walk: milliseconds), ratio to local pread, ratio to
// Ganesha, server CPU seconds per GiB read (or microseconds per call), the
// client process's CPU seconds in that cell (nb, gan), and peak RSS.
//
//   node bench/nfs-read.js [--size MiB] [--seconds S] [--rounds R] [--servers netboot,ganesha]
//                          [--cells seq1,seq4,seq16,read8k8,read8k16,read64k8,read64k16,udp,random,getattr,lookup,rsize8k,walk]
//                          [--client c,node] [--tree-entries N] [--profile DIR] [--status-port] [--json]
//                          [--nfs-workers N] [--baseline DIR --baseline-nfs-workers N] [--image-root]
//
// Needs root (network namespaces); Ganesha is skipped with the reason printed
// when nfs-ganesha + nfs-ganesha-vfs (and rpcbind) are not installed, the C
// client when gcc or libnfs-dev is missing. With --profile DIR the netboot
// server and each Node client process run under `node --cpu-prof`. With
// --status-port netboot runs as `netboot serve --status-port` (boot events,
// metrics and the dashboard on) instead of `netboot nfs`: a run with it and
// one without, set side by side by bench/compare.js, show what events cost.
// Servers "serve" and "status" (--servers serve,status) are this netboot as
// `netboot serve` without and with --status-port, in the same alternating
// rounds: the status/serve ratio shows the cost in one run, on a busy machine.
// --nfs-workers N starts netboot with that many NFS threads (default: its
// own, the number of cores); with --baseline set to this checkout and
// --baseline-nfs-workers 1, one run compares 1 thread with N.
// --image-root adds server `image`: this netboot serving the same files as
// an image-backed node root (`netboot image import`, then `netboot add-node
// 127.0.0.1 --image`), measured in the same rounds as the plain export, so
// one run shows what the copy-on-write merge costs the read path.
import { closeSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildNfsBench, runNfsBench, warmUpWalks } from './lib/c-client.js';
import { bestOfRounds, finish, startServers } from './lib/nfs-comparison.js';
import { cleanups, cpuSeconds, dropPageCache, load } from './lib/processes.js';
import { copyRealTree } from './lib/real-tree.js';
import { cell as jsonCell, report } from './lib/report.js';
import { lookupFile, mountExport, nfsThreads } from './lib/nfs-servers.js';

const self = fileURLToPath(import.meta.url);
const MiB = 1024 * 1024;
const FILE = 'bench.bin';
/** The file of the rsize8k cell, read whole: about an initrd's size. */
const WHOLE_FILE = 'whole.bin';
const WHOLE_SIZE = 64 * MiB;
/** The walk cell's trees in the export: a copy per round (`walk-0`, ...) that no server has seen, and a small one to warm up on. */
const WALK_TREE = 'walk-';
const WALK_WARM = 'walk-warm';
const WARM_ENTRIES = 500;

const CELLS = {
  seq1: { label: 'READ seq 1 MiB TCP x1', kind: 'seq', transport: 'tcp', io: MiB, inflight: 1 },
  seq4: { label: 'READ seq 1 MiB TCP x4', kind: 'seq', transport: 'tcp', io: MiB, inflight: 4 },
  seq16: { label: 'READ seq 1 MiB TCP x16', kind: 'seq', transport: 'tcp', io: MiB, inflight: 16 },
  read8k8: { label: 'READ seq 8 KiB TCP x8', kind: 'seq', transport: 'tcp', io: 8192, inflight: 8, clients: ['c'] },
  read8k16: { label: 'READ seq 8 KiB TCP x16', kind: 'seq', transport: 'tcp', io: 8192, inflight: 16, clients: ['c'] },
  read64k8: { label: 'READ seq 64 KiB TCP x8', kind: 'seq', transport: 'tcp', io: 65536, inflight: 8, clients: ['c'] },
  read64k16: { label: 'READ seq 64 KiB TCP x16', kind: 'seq', transport: 'tcp', io: 65536, inflight: 16, clients: ['c'] },
  read8k16c4: { label: 'READ seq 8 KiB 4 conns x16', kind: 'seq', transport: 'tcp', io: 8192, inflight: 16, connections: 4, clients: ['c'] },
  read64k16c4: { label: 'READ seq 64 KiB 4 conns x16', kind: 'seq', transport: 'tcp', io: 65536, inflight: 16, connections: 4, clients: ['c'] },
  getattr16c4: { label: 'GETATTR 4 conns x16', kind: 'getattr', transport: 'tcp', inflight: 16, connections: 4, clients: ['c'] },
  udp: { label: 'READ seq 8 KiB UDP x16', kind: 'seq', transport: 'udp', io: 8192, inflight: 16 },
  random: { label: 'READ random 4 KiB TCP x16', kind: 'random', transport: 'tcp', io: 4096, inflight: 16 },
  getattr: { label: 'GETATTR TCP x16', kind: 'getattr', transport: 'tcp', inflight: 16 },
  lookup: { label: 'LOOKUP TCP x16', kind: 'lookup', transport: 'tcp', inflight: 16 },
  // The guide's fstab mounts with rsize=8192: the kernel reads ahead 16 such calls at once.
  rsize8k: { label: 'READ 64 MiB whole 8 KiB x16', kind: 'whole', transport: 'tcp', io: 8192, inflight: 16, clients: ['c'] },
  walk: { label: 'cold walk (nfs-ls -R)', kind: 'walk', transport: 'tcp', clients: ['c'] },
};

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '1024' },
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '1' },
    servers: { type: 'string', default: 'netboot,ganesha' },
    cells: { type: 'string', default: Object.keys(CELLS).join(',') },
    client: { type: 'string', default: 'c,node' },
    profile: { type: 'string' },
    baseline: { type: 'string' },
    'tree-entries': { type: 'string', default: '3000' },
    json: { type: 'boolean', default: false },
    'status-port': { type: 'boolean', default: false },
    measure: { type: 'string' },
    'nfs-workers': { type: 'string' },
    'baseline-nfs-workers': { type: 'string' },
    'image-root': { type: 'boolean', default: false },
  },
});

if (values.measure) await measure(JSON.parse(values.measure));
else await main();

/** Child: one cell against one server; prints { rate, bytes, ops }. */
async function measure(cell) {
  const { client, root } = await mountExport({ exportPath: cell.exportPath, transport: cell.transport });
  const fh = await lookupFile(client, root, FILE);
  const warmUntil = performance.now() + 300;
  const endAt = warmUntil + cell.seconds * 1000;
  let ops = 0;
  let bytes = 0;
  let allBytes = 0;
  let next = 0;
  const blocks = Math.floor(cell.size / 4096);
  const one = async () => {
    if (cell.kind === 'getattr') {
      const r = await client.getattr(fh);
      if (r.status !== 0) throw new Error(`GETATTR status ${r.status}`);
      return 0;
    }
    if (cell.kind === 'lookup') {
      const r = await client.lookup(root, FILE);
      if (r.status !== 0) throw new Error(`LOOKUP status ${r.status}`);
      return 0;
    }
    let offset;
    if (cell.kind === 'random') offset = Math.floor(Math.random() * blocks) * 4096;
    else {
      offset = next;
      next += cell.io;
      if (next >= cell.size) next = 0;
    }
    const r = await client.read(fh, BigInt(offset), cell.io);
    if (r.status !== 0) throw new Error(`READ status ${r.status}`);
    if (r.data.length !== Math.min(cell.io, cell.size - offset)) throw new Error(`READ at ${offset} gave ${r.data.length} bytes`);
    return r.data.length;
  };
  const worker = async () => {
    for (;;) {
      const now = performance.now();
      if (now >= endAt) return;
      const n = await one();
      allBytes += n;
      if (now >= warmUntil) {
        ops++;
        bytes += n;
      }
    }
  };
  await Promise.all(Array.from({ length: cell.inflight }, worker));
  client.close();
  const cpu = process.cpuUsage();
  console.log(
    JSON.stringify({
      opsPerSecond: Math.round(ops / cell.seconds),
      MBps: Math.round(bytes / 1e6 / cell.seconds),
      bytes: allBytes,
      ops,
      clientCpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
    }),
  );
}

/** The machine's limit: positional reads of the same file into one reused 1 MiB buffer. */
function localPread(path, size, seconds) {
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(MiB);
  let bytes = 0;
  let pos = 0;
  const t0 = performance.now();
  const endAt = t0 + seconds * 1000;
  while (performance.now() < endAt) {
    for (let i = 0; i < 16; i++) {
      const n = readSync(fd, buf, 0, MiB, pos);
      bytes += n;
      pos += n;
      if (pos >= size) pos = 0;
    }
  }
  const s = (performance.now() - t0) / 1000;
  closeSync(fd);
  return Math.round(bytes / 1e6 / s);
}

function createFile(path, size, write = true) {
  const chunk = randomBytes(MiB);
  if (write) {
    const fd = openSync(path, 'w');
    for (let at = 0; at < size; at += MiB) writeSync(fd, chunk, 0, Math.min(MiB, size - at), at);
    closeSync(fd);
  }
  // Warm the page cache: every figure below reads cached data.
  const rfd = openSync(path, 'r');
  for (let at = 0; at < size; at += MiB) readSync(rfd, chunk, 0, MiB, at);
  closeSync(rfd);
}

async function main() {
  const sizeMiB = Number(values.size);
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  const servers = values.servers.split(',');
  if (values['image-root'] && !servers.includes('image')) servers.push('image');
  const cellNames = values.cells.split(',');
  const clients = values.client.split(',');
  if (
    clients.some((c) => c !== 'c' && c !== 'node') ||
    !(sizeMiB >= 1 && sizeMiB <= 16384) ||
    !(seconds > 0 && seconds <= 60) ||
    !(Number.isInteger(rounds) && rounds >= 1 && rounds <= 10) ||
    cellNames.some((c) => !CELLS[c]) ||
    !(Number(values['tree-entries']) >= 100 && Number(values['tree-entries']) <= 100_000) ||
    servers.some((s) => !['netboot', 'ganesha', 'baseline', 'image', 'serve', 'status'].includes(s))
  ) {
    console.error(`usage: node bench/nfs-read.js [--size MiB] [--seconds S (0-60)] [--rounds R (1-10)]
       [--servers netboot,ganesha,serve,status] [--cells ${Object.keys(CELLS).join(',')}] [--client c,node] [--tree-entries N (100-100000)] [--profile DIR] [--status-port] [--json]
       [--nfs-workers N] [--baseline DIR --baseline-nfs-workers N] [--image-root]`);
    process.exit(2);
  }
  if (process.getuid?.() !== 0) {
    console.error('nfs-read: needs root: each server runs in a network namespace of its own (ip netns add)');
    process.exit(1);
  }
  const size = sizeMiB * MiB;
  const atExit = cleanups();
  const work = mkdtempSync(join(tmpdir(), 'nb-nfs-read-'));
  atExit.add(() => rmSync(work, { recursive: true, force: true }));
  const dir = join(work, 'export');
  mkdirSync(dir);
  try {
    createFile(join(dir, FILE), size);
    // add-node writes the node's etc/hostname and etc/fstab into its layer: a root has an etc.
    if (servers.includes('image')) mkdirSync(join(dir, 'etc'));
    if (cellNames.includes('rsize8k')) createFile(join(dir, WHOLE_FILE), WHOLE_SIZE);
    let treeMade;
    if (cellNames.includes('walk')) {
      copyRealTree('/usr/lib', join(dir, WALK_WARM), { maxEntries: WARM_ENTRIES });
      for (let r = 0; r < rounds; r++) treeMade = copyRealTree('/usr/lib', join(dir, `${WALK_TREE}${r}`), { maxEntries: Number(values['tree-entries']) });
    }
    const { started, notes } = await startServers(values.baseline ? [...servers, 'baseline'] : servers, {
      dir,
      work,
      profileDir: values.profile,
      atExit,
      baseline: values.baseline,
      statusPort: values['status-port'],
      netbootArgs: values['nfs-workers'] ? ['--nfs-workers', values['nfs-workers']] : [],
      baselineArgs: values['baseline-nfs-workers'] ? ['--nfs-workers', values['baseline-nfs-workers']] : [],
    });
    // The image-backed root reads the image's copy of the files: warm it as well.
    const warmImage = () => {
      const data = started.image?.dataDir;
      if (!data) return;
      createFile(join(data, FILE), size, false);
      if (cellNames.includes('rsize8k')) createFile(join(data, WHOLE_FILE), WHOLE_SIZE, false);
    };
    warmImage();
    const cBuild = clients.includes('c') ? buildNfsBench() : undefined;
    if (cBuild?.why) notes['c client'] = `not run: ${cBuild.why}`;
    if (!values.json) {
      console.log(
        `${sizeMiB} MiB file (page cache warm), ${rounds > 1 ? `best of ${rounds} alternating rounds of ` : ''}${seconds} s per cell, ` +
          `clients: ${clients.map((c) => (c === 'c' ? 'c = bench/c/nfs-bench.c (libnfs raw async)' : 'node = @netboot/nfs3 NfsClient')).join(', ')} (AUTH_SYS root)${values['status-port'] ? '; netboot with --status-port (boot events and metrics on)' : ''}`,
      );
      for (const [n, note] of Object.entries(notes)) console.log(`${n}: ${note}`);
      if (treeMade) console.log(`walk tree: ${treeMade.entries} entries of /usr/lib (${treeMade.dirs} directories, ${treeMade.files} files, ${treeMade.symlinks} symlinks)`);
    }

    let local = 0;
    const rows = [];
    for (let round = 0; round < rounds; round++) local = Math.max(local, localPread(join(dir, FILE), size, seconds));
    const loadAtStart = load();
    if (!values.json) {
      console.log(`local pread 1 MiB: ${local} MB/s   (load average ${loadAtStart.join(' ')})`);
      console.log(
        `${'cell'.padEnd(27)}${'client'.padStart(7)}${'netboot'.padStart(10)}${'ganesha'.padStart(10)}  unit${'/local'.padStart(8)}${'/ganesha'.padStart(9)}` +
          `${'cpu nb'.padStart(9)}${'cpu gan'.padStart(9)}  cpu unit${'client s'.padStart(16)}`,
      );
    }
    for (const c of cellNames) {
      for (const client of clients) {
        const def = CELLS[c];
        if (client === 'c' && (def.transport !== 'tcp' || !cBuild?.path)) continue;
        if (def.clients && !def.clients.includes(client)) continue;
        if (def.kind === 'walk') {
          const row = walkCell({ started, rounds, cBuild, label: def.label });
          // The walk dropped the page cache: the read cells after it read the files warm again.
          createFile(join(dir, FILE), size, false);
          if (cellNames.includes('rsize8k')) createFile(join(dir, WHOLE_FILE), WHOLE_SIZE, false);
          warmImage();
          rows.push(row);
          if (!values.json) printWalk(row);
          continue;
        }
        const row = {
          cell: c,
          client,
          label: def.label,
          ...bestOfRounds({
            started,
            rounds,
            script: self,
            cell: { ...def, cell: c, size, seconds },
            timeoutMs: (seconds + 60) * 1000,
            profileDir: values.profile,
            run: client === 'c' ? (s) => runNfsBench(s.ns, cBuild.path, cArgs(def, s.exportPath, size, seconds), (seconds + 60) * 1000) : undefined,
            rate: (x) => (x.bytes ? x.MBps : x.opsPerSecond),
            account: (m, cpu) => {
              // Per GiB for the sequential cells; per call for the small ones (random reads included).
              m.serverCpuSeconds = Number(cpu.toFixed(2));
              const bulk = def.kind === 'seq' || def.kind === 'whole';
              m.cpuPerGiB = bulk ? Number((cpu / (m.bytes / 2 ** 30)).toFixed(3)) : undefined;
              m.cpuUsPerOp = bulk ? undefined : Number(((cpu * 1e6) / m.ops).toFixed(1));
            },
          }),
        };
        const unit = def.kind === 'seq' || def.kind === 'whole' ? 'MB/s' : 'ops/s';
        const rate = (x) => (!x || x.error ? undefined : unit === 'MB/s' ? x.MBps : x.opsPerSecond);
        row.unit = unit;
        row.netbootRate = rate(row.netboot);
        row.ganeshaRate = rate(row.ganesha);
        row.baselineRate = rate(row.baseline);
        row.imageRate = rate(row.image);
        row.serveRate = rate(row.serve);
        row.statusRate = rate(row.status);
        row.ratioToLocal = unit === 'MB/s' && row.netbootRate ? Number((row.netbootRate / local).toFixed(3)) : undefined;
        row.ganeshaToLocal = unit === 'MB/s' && row.ganeshaRate ? Number((row.ganeshaRate / local).toFixed(3)) : undefined;
        row.ratioToGanesha = row.netbootRate && row.ganeshaRate ? Number((row.netbootRate / row.ganeshaRate).toFixed(2)) : undefined;
        row.load = load();
        rows.push(row);
        if (!values.json) printRow(row);
      }
    }
    const peakRss = await finish(started, values.profile);
    if (values.json) {
      const cells = rows.map((r) =>
        r.cell === 'walk' ? r.json : jsonCell({
          key: `${r.cell}/${r.client}`,
          label: `${r.label} (${r.client} client)`,
          unit: r.unit,
          values: { netboot: r.netbootRate ?? null, ganesha: r.ganeshaRate ?? null, ...(values.baseline ? { baseline: r.baselineRate ?? null } : {}), ...(servers.includes('image') ? { image: r.imageRate ?? null } : {}), ...(servers.includes('serve') ? { serve: r.serveRate ?? null } : {}), ...(servers.includes('status') ? { status: r.statusRate ?? null } : {}) },
          reference: 'ganesha',
          detail: { netboot: r.netboot, ganesha: r.ganesha, baseline: r.baseline, image: r.image, serve: r.serve, status: r.status, netbootToLocal: r.ratioToLocal ?? null, ganeshaToLocal: r.ganeshaToLocal ?? null },
        }),
      );
      const out = report({ benchmark: 'nfs-read', params: { sizeMiB, seconds, rounds, clients, statusPort: values['status-port'], treeEntries: treeMade?.entries, nfsWorkers: values['nfs-workers'], baselineNfsWorkers: values['baseline-nfs-workers'], imageRoot: servers.includes('image') }, servers: notes, loadAtStart, cells, detail: { localPreadMBps: local, peakRssMB: peakRss, walkTree: treeMade } });
      console.log(JSON.stringify(out));
    } else {
      console.log(`server peak RSS: ${Object.entries(peakRss).map(([n, v]) => `${n} ${v} MB`).join(', ')}   (load average ${load().join(' ')})`);
      if (values.profile) console.log(`netboot CPU profile written to ${values.profile}`);
    }
  } finally {
    atExit.run();
  }
}

/** The C client's arguments for a cell (bench/c/nfs-bench.c). */
function cArgs(def, exportPath, size, seconds) {
  if (def.kind === 'whole') {
    // Exactly the file, once, from its first byte: no warm-up.
    return ['--export', exportPath, '--file', WHOLE_FILE, '--op', 'read', '--io', String(def.io), '--inflight', String(def.inflight),
      '--size', String(WHOLE_SIZE), '--count', String(WHOLE_SIZE / def.io), '--seconds', '600', '--warm-ms', '0'];
  }
  const op = { seq: 'read', random: 'random', getattr: 'getattr', lookup: 'lookup' }[def.kind];
  return ['--export', exportPath, '--file', FILE, '--op', op, '--io', String(def.io ?? 4096), '--inflight', String(def.inflight),
    '--size', String(size), '--seconds', String(seconds), '--warm-ms', '300', ...(def.connections ? ['--connections', String(def.connections)] : [])];
}

/**
 * The cold walk: a tree neither server has seen, every round: copy `r` of the
 * tree, walked once by each server in turn (alternating which goes first), the
 * page cache dropped before each walk. Before the first round each server
 * walks a small tree of its own kind a few times on every NFS thread
 * (warmUpWalks), so what is measured is a running
 * server meeting a new tree (as on a boot storm's first wave), not the start
 * of a process (its JIT warming up). Keeps each server's fastest walk; the
 * calls per walk, by procedure, are the client's count.
 */
function walkCell({ started, rounds, cBuild, label }) {
  const best = {};
  const walk = (s, from) => runNfsBench(s.ns, cBuild.path, ['--export', s.exportPath, '--op', 'walk', '--dir', from], 300_000);
  // Every server gets as many warm-up walks as the one with most NFS threads needs (see warmUpWalks).
  const threads = Math.max(nfsThreads(values['nfs-workers']), values.baseline ? nfsThreads(values['baseline-nfs-workers']) : 1);
  for (const [name, s] of Object.entries(started)) {
    const w = warmUpWalks(s.ns, cBuild.path, s.exportPath, WALK_WARM, threads);
    if (w.error) best[name] = { error: `warm-up walk: ${w.error}` };
  }
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? Object.keys(started) : Object.keys(started).reverse();
    for (const name of order) {
      if (best[name]?.error?.startsWith('warm-up')) continue;
      const s = started[name];
      dropPageCache();
      const cpu0 = cpuSeconds(s.server.pid);
      const m = walk(s, `${WALK_TREE}${round}`);
      if (!m.error) {
        const cpu = cpuSeconds(s.server.pid) - cpu0;
        m.serverCpuSeconds = Number(cpu.toFixed(2));
        m.cpuUsPerCall = Number(((cpu * 1e6) / m.calls).toFixed(1));
      }
      const prev = best[name];
      if (!prev || prev.error || (!m.error && m.walkMs < prev.walkMs)) best[name] = m;
    }
  }
  const names = Object.keys(started);
  const ms = (x) => (!x || x.error ? undefined : x.walkMs);
  const json = jsonCell({ key: 'walk/c', label: `${label} (c client)`, unit: 'ms', higherIsBetter: false, values: Object.fromEntries(names.map((n) => [n, ms(best[n]) ?? null])), reference: 'ganesha', detail: best });
  return { cell: 'walk', client: 'c', label, best, json, load: load() };
}

function printWalk(r) {
  const one = (n) => {
    const x = r.best[n];
    if (!x) return undefined;
    if (x.error) return `${n} (${x.error})`;
    return `${n} ${x.walkMs.toFixed(0)} ms, ${x.readdirplus} READDIRPLUS + ${x.lookup} LOOKUP (${x.entries} entries, ${x.dirs} dirs), server ${x.cpuUsPerCall} us/call`;
  };
  console.log(`${r.label.padEnd(27)}      c  ${['netboot', 'ganesha', 'baseline', 'image', 'serve', 'status'].map(one).filter(Boolean).join(';  ')}` +
    `${r.json.ratio ? `;  netboot/ganesha ${r.json.ratio}` : ''}  load ${r.load[0]}`);
}

/**
 * With --baseline: the baseline's figure and netboot's ratio to it; with --image-root the image-backed root's and its ratio
 * to the plain export; with servers serve and status their figures and the ratio of status to serve.
 */
function base(r) {
  let out = '';
  if (r.baseline) out += `  baseline ${r.baselineRate ?? `(${r.baseline.error})`}${r.netbootRate && r.baselineRate ? ` new/base ${(r.netbootRate / r.baselineRate).toFixed(2)}` : ''}`;
  if (r.image) {
    const cpu = r.image.error ? '' : ` ${r.unit === 'MB/s' ? `${r.image.cpuPerGiB?.toFixed(2)} s/GiB` : `${r.image.cpuUsPerOp?.toFixed(0)} us/op`}`;
    out += `  image ${r.imageRate ?? `(${r.image.error})`}${cpu}${r.netbootRate && r.imageRate ? ` image/plain ${(r.imageRate / r.netbootRate).toFixed(2)}` : ''}`;
  }
  for (const name of ['serve', 'status']) {
    const x = r[name];
    if (!x) continue;
    const cpu = x.error ? '' : ` ${r.unit === 'MB/s' ? `${x.cpuPerGiB?.toFixed(2)} s/GiB` : `${x.cpuUsPerOp?.toFixed(0)} us/op`}`;
    out += `  ${name} ${r[`${name}Rate`] ?? `(${x.error})`}${cpu}`;
  }
  if (r.serveRate && r.statusRate) out += ` status/serve ${(r.statusRate / r.serveRate).toFixed(2)}`;
  return out;
}

function printRow(r) {
  const fmt = (x) => (x === undefined ? '-' : String(x));
  const err = (x) => (x?.error ? ` (${x.error})` : '');
  const cpu = (x) => (!x || x.error ? '-' : r.unit === 'MB/s' ? x.cpuPerGiB?.toFixed(2) : x.cpuUsPerOp?.toFixed(0));
  const client = (x) => (!x || x.error ? '-' : String(x.clientCpuSeconds));
  console.log(
    `${r.label.padEnd(27)}${r.client.padStart(7)}${fmt(r.netbootRate).padStart(10)}${fmt(r.ganeshaRate).padStart(10)}  ${r.unit.padEnd(5)}` +
      `${(r.ratioToLocal === undefined ? '-' : r.ratioToLocal.toFixed(3)).padStart(7)}${fmt(r.ratioToGanesha).padStart(9)}` +
      `${fmt(cpu(r.netboot)).padStart(9)}${fmt(cpu(r.ganesha)).padStart(9)}  ${r.unit === 'MB/s' ? 's/GiB' : 'us/op'}` +
      `${client(r.netboot).padStart(8)}${client(r.ganesha).padStart(8)}  load ${r.load[0]}${base(r)}${err(r.netboot)}${err(r.ganesha)}`,
  );
}
