import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createLink } from './support/netns.js';
import { netbootCli, repoRoot } from './support/paths.js';
import { run, start } from './support/processes.js';
import { requirePrograms, requireNetns } from './support/programs.js';

/*
 * An image-backed node root through Debian's libnfs clients: `netboot
 * image import`, then `netboot nfs` started before the node exists, then
 * `netboot add-node --image` and SIGHUP; the node reads its own hostname
 * (in its layer) over the image's files, and what it writes stays in its
 * layer.
 */
t.test('add-node --image, SIGHUP, and libnfs nfs-ls / nfs-cat / nfs-cp on the merged root', async (t) => {
  if (!requireNetns(t)) return;
  const progs = requirePrograms(t, { 'nfs-ls': 'libnfs-utils', 'nfs-cat': 'libnfs-utils', 'nfs-cp': 'libnfs-utils' });
  if (!progs) return;
  const link = createLink(t, { subnet: 61, label: 'nfsimg' });
  const dir = mkdtempSync(join(tmpdir(), 'nfs-image-roots-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const state = join(dir, 'state');
  const src = join(dir, 'rootfs');
  mkdirSync(join(src, 'etc'), { recursive: true });
  mkdirSync(join(src, 'usr/bin'), { recursive: true });
  writeFileSync(join(src, 'etc/hostname'), 'image\n');
  writeFileSync(join(src, 'etc/motd'), 'one image, many nodes\n');
  writeFileSync(join(src, 'usr/bin/tool'), 'ELF');
  const imported = await run(process.execPath, [netbootCli, 'image', 'import', 'deb', src, '--state-dir', state]);
  t.equal(imported.stdout, '1\n', imported.stderr);

  const other = join(dir, 'other');
  mkdirSync(other);
  const exportsFile = join(dir, 'exports');
  writeFileSync(exportsFile, `${other} ${link.clientAddr}(ro)\n`);
  writeFileSync(join(dir, 'dhcpd.conf'), `next-server ${link.serverAddr};\n`);
  const server = start(t, process.execPath, [netbootCli, 'nfs', '--exports', exportsFile, '--listen', link.serverAddr, '--state-dir', state, '--no-lock'], {
    ns: link.server,
    cwd: repoRoot,
  });
  await server.waitFor(/NFS v3 port 2049/);

  const diskless = join(dir, 'diskless');
  const added = await run(process.execPath, [
    netbootCli, 'add-node', link.clientAddr, '--mac', '52:54:00:00:61:02', '--hostname', 'node61', '--image', 'deb',
    '--diskless-root', diskless, '--exports', exportsFile, '--dhcp-conf', join(dir, 'dhcpd.conf'), '--tftp-root', join(dir, 'tftp'), '--state-dir', state,
  ]);
  t.equal(added.code, 0, added.stderr);
  t.match(added.stdout, /image-backed/);
  server.child.kill('SIGHUP');
  await server.waitFor(/is an image-backed node root/);

  const root = join(diskless, link.clientAddr);
  const url = (path: string) => `nfs://${link.serverAddr}${root}${path}?version=3`;
  const inClient = (cmd: string, args: string[]) => run(cmd, args, { ns: link.client, timeoutMs: 60_000 });
  const hostname = await inClient(progs['nfs-cat'], [url('/etc/hostname')]);
  t.equal(hostname.stdout, 'node61\n', `the node's own hostname, from its layer: ${hostname.stderr}`);
  t.equal((await inClient(progs['nfs-cat'], [url('/etc/motd')])).stdout, 'one image, many nodes\n', 'the image read through');
  const ls = await inClient(progs['nfs-ls'], ['-R', url('/')]);
  t.equal(ls.code, 0, ls.stderr);
  t.match(ls.stdout, /usr\/bin\/tool/, 'nfs-ls -R walks the merged tree');
  t.match(ls.stdout, /etc\/fstab/, 'with the files of the node layer');
  const upload = join(dir, 'upload.txt');
  writeFileSync(upload, 'written by the node\n');
  const cp = await inClient(progs['nfs-cp'], [upload, url('/etc/local.conf')]);
  t.equal(cp.code, 0, `nfs-cp up into an image directory: ${cp.stderr}`);
  t.equal((await inClient(progs['nfs-cat'], [url('/etc/local.conf')])).stdout, 'written by the node\n');
  t.notOk(existsSync(join(state, 'images/deb/1/etc/local.conf')), 'the image is unchanged');
  t.equal(readFileSync(join(state, 'nodes', link.clientAddr, 'upper/etc/local.conf'), 'utf8'), 'written by the node\n', 'the new file is in the node layer');
  t.same(readdirSync(root), [], 'the exported directory itself stays empty');
  const down = join(dir, 'down.txt');
  t.equal((await inClient(progs['nfs-cp'], [url('/usr/bin/tool'), down])).code, 0);
  t.equal(existsSync(down) && readFileSync(down, 'utf8'), 'ELF', 'nfs-cp down from the image');
  t.equal(await server.stop(), 0, 'stops cleanly');
});
