// What N image-backed nodes cost on disk, beside N full copies of the same
// root (the guide's one rsync'd root per node). A root file system is made
// from a copy of part of a real system directory (/usr/lib by default, files
// with their bytes) plus etc/ and var/log/; it is imported as an image
// (`@netboot/image-store`), N nodes are added over it, and each node changes
// a few files through its merged root (`OverlayFs`, the code the NFS server
// runs): its own etc/hostname, a line appended to var/log/boot.log and a new
// 16 KiB log file. One full copy (`cp -a` of the
// same root, then the same changes) stands for what each node costs without
// the image.
//
// Disk used is the sum of st_blocks (512-byte units) of every inode under a
// tree, each inode counted once however many names it has (as `du` counts
// hard links): "image + N layers" is the image's store and the N node
// directories (layer, origins.log, node.json) together; "N full copies" is
// N times the one full copy.
//
//   node bench/image-disk.js [--nodes 50] [--mib 200] [--from /usr/lib] [--json]
//
// Needs root (the image keeps owners; a copy-up chowns). Writes about three
// times --mib to a temporary directory, removed at the end.
import { execFileSync } from 'node:child_process';
import { closeSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync, appendFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { NodeRoots, OverlayFs } from '@netboot/image-store';
import { cell, report } from './lib/report.js';
import { load } from './lib/processes.js';
import { copyRealTree } from './lib/real-tree.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '50' },
    mib: { type: 'string', default: '200' },
    from: { type: 'string', default: '/usr/lib' },
    json: { type: 'boolean', default: false },
  },
});
const nodes = Number(values.nodes);
const budget = Number(values.mib) * 1024 * 1024;
if (!(nodes >= 1 && nodes <= 1000) || !(budget > 0)) throw new Error('--nodes must be 1..1000 and --mib above 0');
if (process.getuid?.() !== 0) {
  console.error('image-disk.js needs root: the image keeps owners and copy-up gives files back to them');
  process.exit(1);
}

/** Sum of st_blocks * 512 over the inodes under `roots`, each (dev, ino) once. */
function diskUsed(roots) {
  const seen = new Set();
  let bytes = 0n;
  const walk = (p) => {
    const st = lstatSync(p, { bigint: true });
    const key = `${st.dev}:${st.ino}`;
    if (!seen.has(key)) {
      seen.add(key);
      bytes += st.blocks * 512n;
    }
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
  };
  for (const r of roots) walk(r);
  return Number(bytes);
}

const base = mkdtempSync(join(tmpdir(), 'image-disk-'));
process.on('exit', () => rmSync(base, { recursive: true, force: true }));
const loadAtStart = load();
const src = join(base, 'rootfs');
mkdirSync(src);
mkdirSync(join(src, 'usr'));
const tree = copyRealTree(values.from, join(src, 'usr', 'lib'), { maxBytes: budget });
mkdirSync(join(src, 'etc'));
mkdirSync(join(src, 'var', 'log'), { recursive: true });
writeFileSync(join(src, 'etc', 'hostname'), 'image\n');
writeFileSync(join(src, 'etc', 'fstab'), '/dev/nfs / nfs defaults 0 0\n');
writeFileSync(join(src, 'var', 'log', 'boot.log'), 'image built\n'.repeat(200));
const roots = new NodeRoots(join(base, 'state'));
const { generation } = await roots.store.import('img', { kind: 'directory', path: src });
const log16k = Buffer.alloc(16 * 1024, 'x');
const started = Date.now();
for (let i = 0; i < nodes; i++) {
  const ip = `198.18.${Math.floor(i / 250)}.${(i % 250) + 2}`;
  const root = join(base, 'diskless', ip);
  await roots.add({ ip, image: 'img', root, seed: { 'etc/hostname': `node${i}\n` } });
  const layer = join(roots.nodesDir, ip);
  const fs = await OverlayFs.open(roots.store.generationPath('img', generation), join(layer, 'upper'), join(layer, 'origins.log'));
  await fs.writeFile('etc/hostname', Buffer.from(`node${i}\n`));
  const boot = await fs.lookup(await fs.lookup(await fs.lookup(await fs.root(), Buffer.from('var')), Buffer.from('log')), Buffer.from('boot.log'));
  await fs.write(boot, Buffer.from(`node${i} booted\n`), Number(boot.attrs.size), 'file');
  await fs.writeFile('var/log/node.log', log16k);
  fs.close();
}
const nodeSeconds = (Date.now() - started) / 1000;

// One full copy with the same changes: what each node costs without the image.
const copy = join(base, 'full-copy');
execFileSync('cp', ['-a', '--', src, copy]);
writeFileSync(join(copy, 'etc', 'hostname'), 'node0\n');
appendFileSync(join(copy, 'var', 'log', 'boot.log'), 'node0 booted\n');
const fd = openSync(join(copy, 'var', 'log', 'node.log'), 'w');
writeSync(fd, log16k);
closeSync(fd);

const image = diskUsed([roots.store.generationPath('img', generation)]);
const layers = diskUsed([roots.nodesDir]);
const one = diskUsed([copy]);
const shared = image + layers;
const full = one * nodes;
const mib = (b) => Number((b / 1024 / 1024).toFixed(2));

const out = report({
  benchmark: 'image-disk',
  params: { nodes, mib: Number(values.mib), from: values.from },
  loadAtStart,
  cells: [
    cell({ key: 'image', label: 'image generation', unit: 'MiB', higherIsBetter: false, values: { netboot: mib(image) } }),
    cell({ key: 'layers', label: `${nodes} node layers`, unit: 'MiB', higherIsBetter: false, values: { netboot: mib(layers) }, detail: { perNodeKiB: Number((layers / nodes / 1024).toFixed(1)) } }),
    cell({
      key: 'total',
      label: `image + ${nodes} layers vs ${nodes} full copies`,
      unit: 'MiB',
      higherIsBetter: false,
      values: { netboot: mib(shared), 'full-copies': mib(full) },
      reference: 'full-copies',
      detail: { oneFullCopyMiB: mib(one) },
    }),
  ],
  detail: { tree, nodeSeconds },
});

if (values.json) console.log(JSON.stringify(out, null, 2));
else {
  console.log(`root: ${tree.files} files (${mib(tree.bytes)} MiB of ${values.from}), ${tree.dirs} directories, ${tree.symlinks} symlinks; each node changed etc/hostname and var/log/boot.log and wrote var/log/node.log (16 KiB)`);
  console.log(`image generation            ${mib(image).toFixed(2).padStart(10)} MiB`);
  console.log(`${String(nodes).padStart(3)} node layers              ${mib(layers).toFixed(2).padStart(10)} MiB  (${(layers / nodes / 1024).toFixed(1)} KiB a node)`);
  console.log(`image + ${String(nodes).padStart(3)} layers           ${mib(shared).toFixed(2).padStart(10)} MiB`);
  console.log(`${String(nodes).padStart(3)} full copies              ${mib(full).toFixed(2).padStart(10)} MiB  (one: ${mib(one).toFixed(2)} MiB)`);
  console.log(`full copies / image-backed  ${(full / shared).toFixed(1).padStart(10)} x`);
}
