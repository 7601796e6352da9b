import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createLink } from './support/netns.js';
import { netbootCli, repoRoot } from './support/paths.js';
import { run, start } from './support/processes.js';
import { requireNetns, requirePrograms } from './support/programs.js';

/*
 * Two `netboot nfs` over the same tree (as two masters over shared storage),
 * each on an address of its own, given the same --handle-key: a client mounts
 * and opens files through the first, the first is killed (-9), and the
 * client goes on reading and writing the same files through the second with
 * the handles it already holds. A third server with a key of its own refuses
 * those handles, which shows the key is what makes them good.
 */

const FIRST = `
import { MountClient } from '@netboot/mountd';
import { NfsClient } from '@netboot/nfs3';
const { server, path } = JSON.parse(process.argv[1]);
const cred = { flavor: 1, stamp: 1, machine: 'two', uid: 0, gid: 0, gids: [] };
const m = await MountClient.connect({ host: server, port: 20048, transport: 'tcp', reservedPort: true, timeoutMs: 5000 });
const root = (await m.mnt(path)).fhandle;
const c = await NfsClient.connect({ host: server, port: 2049, transport: 'tcp', reservedPort: true, cred, timeoutMs: 5000 });
const data = (await c.lookup(root, 'data.txt')).object;
const read = await c.read(data, 0n, 100);
const made = await c.create(root, 'new.txt');
const w = await c.write(made.object, 0n, Buffer.from('written through the first server\\n'), 2);
const hex = (b) => Buffer.from(b).toString('hex');
console.log(JSON.stringify({ root: hex(root), data: hex(data), made: hex(made.object), read: Buffer.from(read.data).toString(), write: w.status }));
process.exit(0);
`;

const SECOND = `
import { NfsClient } from '@netboot/nfs3';
const { server, root, data, made } = JSON.parse(process.argv[1]);
const cred = { flavor: 1, stamp: 1, machine: 'two', uid: 0, gid: 0, gids: [] };
const c = await NfsClient.connect({ host: server, port: 2049, transport: 'tcp', reservedPort: true, cred, timeoutMs: 5000 });
const h = (x) => Buffer.from(x, 'hex');
const out = {};
out.rootAttr = (await c.getattr(h(root))).status;
const r = await c.read(h(data), 0n, 100);
out.read = r.status === 0 ? Buffer.from(r.data).toString() : 'status ' + r.status;
const w = await c.write(h(made), 33n, Buffer.from('and through the second\\n'), 2);
out.write = w.status;
const back = await c.read(h(made), 0n, 200);
out.back = back.status === 0 ? Buffer.from(back.data).toString() : 'status ' + back.status;
const again = await c.lookup(h(root), 'data.txt');
out.sameHandle = again.status === 0 && Buffer.from(again.object).toString('hex') === data;
console.log(JSON.stringify(out));
process.exit(0);
`;

t.test('two netboot nfs over one tree with one --handle-key accept each other\'s handles', async (t) => {
  if (!requireNetns(t)) return;
  const progs = requirePrograms(t, { 'nfs-cat': 'libnfs-utils' });
  if (!progs) return;
  const link = createLink(t, { subnet: 46, label: 'nf2' });
  const second = '198.18.46.3';
  const third = '198.18.46.4';
  for (const a of [second, third]) execFileSync('ip', ['-n', link.server, 'addr', 'add', `${a}/24`, 'dev', link.serverIf]);
  const dir = mkdtempSync(join(tmpdir(), 'nfs-two-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const exp = join(dir, 'tree');
  mkdirSync(exp);
  writeFileSync(join(exp, 'data.txt'), 'the same tree\n');
  const exportsFile = join(dir, 'exports');
  writeFileSync(exportsFile, `${exp} ${link.clientAddr}(rw,sync,no_root_squash,insecure)\n`);
  const key = join(dir, 'handle.key');
  writeFileSync(key, Buffer.alloc(32, 0x5a), { mode: 0o600 });
  const serve = (addr: string, name: string, extra: string[]) =>
    start(t, process.execPath, [netbootCli, 'nfs', '--exports', exportsFile, '--listen', addr, '--no-lock', '--state-dir', join(dir, name), ...extra], {
      ns: link.server,
      cwd: repoRoot,
    });
  // The first starts the namespace's portmapper; the other two, started together, register with it
  // (both NFS on port 2049, so whichever registers second finds the same mapping there).
  const a = serve(link.serverAddr, 'state-a', ['--handle-key', key]);
  await a.waitFor(/NFS v3 port 2049.*\(our own\)/, 20_000);
  const b = serve(second, 'state-b', ['--handle-key', key]);
  const c = serve(third, 'state-c', []);
  for (const s of [b, c]) await s.waitFor(/NFS v3 port 2049/, 20_000);

  const node = (script: string, arg: object) =>
    run(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(arg)], { ns: link.client, cwd: repoRoot, timeoutMs: 30_000 });
  const r1 = await node(FIRST, { server: link.serverAddr, path: exp });
  t.equal(r1.code, 0, r1.stderr);
  const first = JSON.parse(r1.stdout.trim());
  t.equal(first.read, 'the same tree\n', 'read through the first server');
  t.equal(first.write, 0, 'wrote through the first server');

  await a.kill();
  const r2 = await node(SECOND, { server: second, ...first });
  t.equal(r2.code, 0, r2.stderr);
  const out = JSON.parse(r2.stdout.trim());
  t.equal(out.rootAttr, 0, 'the second server takes the mount handle the first gave');
  t.equal(out.read, 'the same tree\n', 'and reads the open file through its handle');
  t.equal(out.write, 0, 'and writes the file the first created, through its handle');
  t.equal(out.back, 'written through the first server\nand through the second\n', 'both writes are in the file');
  t.ok(out.sameHandle, 'LOOKUP on the second server gives the same handle bytes (export id, inode, birth time, key)');
  t.equal(readFileSync(join(exp, 'new.txt'), 'utf8'), out.back, 'on disk as read');

  // Ports in the URL: the portmapper the three servers shared went with the first (on two hosts each has its own).
  const cat = await run(progs['nfs-cat'], [`nfs://${second}${exp}/new.txt?version=3&nfsport=2049&mountport=20048`], { ns: link.client, timeoutMs: 30_000 });
  t.equal(cat.stdout, out.back, `libnfs nfs-cat through the second server reads it (${cat.stderr.trim() || 'ok'})`);

  const r3 = await node(SECOND, { server: third, ...first });
  t.equal(r3.code, 0, r3.stderr);
  t.equal(JSON.parse(r3.stdout.trim()).rootAttr, 10001, 'a server with another key answers BADHANDLE to those handles');

  const bad = await run(process.execPath, [netbootCli, 'nfs', '--exports', exportsFile, '--handle-key', join(dir, 'missing.key')], { timeoutMs: 20_000 });
  t.not(bad.code, 0);
  t.match(bad.stderr, /cannot read the handle key .*missing\.key.*head -c 32 \/dev\/urandom/, 'a missing key file is refused, saying how to make one');
});
