// libnfs' nfs-cp of a file to and from `netboot nfs` across a veth pair between two
// network namespaces this script creates (198.18.45.1 <-> .2), as root.
// usage: node bench/nfs3-libnfs.js [MiB=200]
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const mib = Number(process.argv[2] ?? 200);
const cli = fileURLToPath(new URL('../packages/netboot/dist/cli.js', import.meta.url));
const tag = randomBytes(3).toString('hex');
const [srv, cln] = [`nbbs-${tag}`, `nbbc-${tag}`];
const ip = (...a) => execFileSync('ip', a, { stdio: 'pipe' });
const dir = mkdtempSync(join(tmpdir(), 'nfs3-bench-'));
let server;
try {
  for (const ns of [srv, cln]) {
    ip('netns', 'add', ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
  ip('link', 'add', `vs${tag}`, 'netns', srv, 'type', 'veth', 'peer', 'name', `vc${tag}`, 'netns', cln);
  ip('-n', srv, 'addr', 'add', '198.18.45.1/24', 'dev', `vs${tag}`);
  ip('-n', cln, 'addr', 'add', '198.18.45.2/24', 'dev', `vc${tag}`);
  ip('-n', srv, 'link', 'set', `vs${tag}`, 'up');
  ip('-n', cln, 'link', 'set', `vc${tag}`, 'up');
  const exp = join(dir, 'export');
  mkdirSync(exp);
  writeFileSync(join(dir, 'exports'), `${exp} 198.18.45.2(rw,no_root_squash,insecure)\n`);
  const file = join(dir, 'data');
  const fd = openSync(file, 'w');
  for (let i = 0; i < mib; i++) writeSync(fd, randomBytes(1 << 20));
  closeSync(fd);
  server = spawn('ip', ['netns', 'exec', srv, process.execPath, cli, 'nfs', '--exports', join(dir, 'exports'), '--listen', '198.18.45.1', '--state-dir', join(dir, 'state')], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (c) => ((out += c), /NFS v3 port/.test(out) && resolve()));
    server.on('exit', () => reject(new Error(`netboot nfs exited:\n${out}`)));
    setTimeout(() => reject(new Error('netboot nfs did not start in 10 s')), 10_000);
  });
  const url = `nfs://198.18.45.1${exp}/data?version=3`;
  const time = (args) => {
    const t0 = performance.now();
    execFileSync('ip', ['netns', 'exec', cln, 'nfs-cp', ...args], { stdio: 'pipe', timeout: 300_000 });
    return (performance.now() - t0) / 1000;
  };
  const up = time([file, url]);
  const down = time([url, join(dir, 'back')]);
  execFileSync('cmp', [file, join(dir, 'back')]);
  console.log(`nfs-cp ${mib} MiB to the server: ${up.toFixed(2)} s (${(mib / up).toFixed(0)} MiB/s)`);
  console.log(`nfs-cp ${mib} MiB from the server: ${down.toFixed(2)} s (${(mib / down).toFixed(0)} MiB/s), byte-identical`);
} finally {
  server?.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  for (const ns of [srv, cln]) {
    try {
      ip('netns', 'del', ns);
    } catch {}
  }
  rmSync(dir, { recursive: true, force: true });
}
