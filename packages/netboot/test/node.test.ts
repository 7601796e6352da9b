import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeRoots } from '@netboot/image-store';
import { netbootCli } from '../../../test/support/paths.js';

function netboot(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [netbootCli, ...args], { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

t.test('node pin, diff and reset of an image-backed node', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'netboot-node-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const state = join(dir, 'state');
  const src = join(dir, 'rootfs');
  mkdirSync(join(src, 'etc'), { recursive: true });
  writeFileSync(join(src, 'etc/hostname'), 'image\n');
  writeFileSync(join(src, 'etc/motd'), 'hello\n');
  t.equal((await netboot(['image', 'import', 'deb', src, '--state-dir', state])).stdout, '1\n');
  writeFileSync(join(src, 'etc/motd'), 'hello again\n');
  t.equal((await netboot(['image', 'import', 'deb', src, '--state-dir', state])).stdout, '2\n');
  writeFileSync(join(dir, 'dhcpd.conf'), 'next-server 198.18.3.1;\n');
  const ip = '198.18.3.21';
  const added = await netboot([
    'add-node', ip, '--mac', '52:54:00:00:03:21', '--hostname', 'canary', '--image', 'deb', '--diskless-root', join(dir, 'diskless'),
    '--exports', join(dir, 'exports'), '--dhcp-conf', join(dir, 'dhcpd.conf'), '--tftp-root', join(dir, 'tftp'), '--state-dir', state,
  ]);
  t.equal(added.code, 0, added.stderr);
  const roots = new NodeRoots(state);
  const fs = (await roots.open(join(dir, 'diskless', ip)))!;
  const etc = await fs.lookup(await fs.root(), Buffer.from('etc'));
  await fs.remove(etc, Buffer.from('motd'), false);
  await fs.mkdir(await fs.root(), Buffer.from('data'), { uid: 0, gid: 0 });
  const diff = await netboot(['node', 'diff', ip, '--state-dir', state]);
  t.equal(diff.stdout, 'A /data\nA /etc/fstab\nM /etc/hostname\nD /etc/motd\n', 'added, changed, deleted');

  t.equal((await netboot(['node', 'pin', ip, '9', '--state-dir', state])).code, 1, 'a generation the image lacks is refused');
  t.equal((await netboot(['node', 'pin', ip, '1', '--state-dir', state])).code, 0);
  t.equal((await roots.get(ip)).generation, 1, 'pinned');
  const pinned = (await roots.open(join(dir, 'diskless', ip)))!;
  t.match(pinned.describe(), /images\/deb\/1,/, 'the root is opened on the pinned generation');
  t.equal((await netboot(['node', 'pin', ip, 'promoted', '--state-dir', state])).code, 0);
  t.equal((await roots.get(ip)).generation, undefined, 'unpinned');

  t.equal((await netboot(['node', 'reset', ip, '--state-dir', state])).code, 0);
  t.equal((await netboot(['node', 'diff', ip, '--state-dir', state])).stdout, diff.stdout, 'a reset waits for the next boot');
  // The node's MOUNT of its root is its boot.
  await (await roots.open(join(dir, 'diskless', ip)))!.mounted!(ip);
  t.equal((await netboot(['node', 'diff', ip, '--state-dir', state])).stdout, 'A /etc/fstab\nM /etc/hostname\n', 'after the reset only what add-node gave it is left');
  t.equal(readFileSync(join(state, 'nodes', ip, 'upper/etc/hostname'), 'utf8'), 'canary\n');
  t.equal((await netboot(['node', 'diff', '198.18.3.99', '--state-dir', state])).code, 1, 'an unknown node is an error');
});

t.test('node rebase lists conflicts, exits 1 and changes nothing; --keep-node and --take-image settle them; image list shows the nodes per generation', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'netboot-rebase-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const state = join(dir, 'state');
  const src = join(dir, 'rootfs');
  mkdirSync(join(src, 'etc'), { recursive: true });
  writeFileSync(join(src, 'etc/motd'), 'one\n');
  writeFileSync(join(src, 'etc/issue'), 'Debian\n');
  t.equal((await netboot(['image', 'import', 'deb', src, '--state-dir', state])).stdout, '1\n');
  const roots = new NodeRoots(state);
  const ips = ['198.18.3.31', '198.18.3.32'];
  for (const ip of ips) await roots.add({ ip, image: 'deb', root: `/diskless/${ip}` });
  const fs = (await roots.open(`/diskless/${ips[0]}`))!;
  await fs.mounted!(ips[0]!);
  await fs.write(await fs.lookup(await fs.lookup(await fs.root(), Buffer.from('etc')), Buffer.from('motd')), Buffer.from('mine\n'), 0, 'file');
  writeFileSync(join(src, 'etc/motd'), 'two\n');
  t.equal((await netboot(['image', 'import', 'deb', src, '--state-dir', state])).stdout, '2\n');
  t.equal((await netboot(['image', 'promote', 'deb', '2', '--state-dir', state])).code, 0);
  t.equal(
    (await netboot(['image', 'list', '--state-dir', state])).stdout,
    'deb\t1 2*\n  1\t198.18.3.31->2\n  2\t198.18.3.32\n',
    'the booted node runs 1 until it boots again; the one never booted will get 2',
  );

  const stopped = await netboot(['node', 'rebase', ips[0]!, '--state-dir', state]);
  t.equal(stopped.code, 1, 'conflicts: exit 1');
  t.equal(stopped.stdout, 'C /etc/motd\n');
  t.match(stopped.stderr, /1 file\(s\) 198\.18\.3\.31 changed also changed between generations 1 and 2.*nothing was changed.*--keep-node.*--take-image/s);
  t.notOk((await roots.get(ips[0]!)).rebase);
  t.equal((await netboot(['node', 'rebase', ips[0]!, '--keep-node', '--take-image', '--state-dir', state])).code, 2, 'one resolution only');

  const taken = await netboot(['node', 'rebase', ips[0]!, '2', '--take-image', '--state-dir', state]);
  t.equal(taken.code, 0, taken.stderr);
  t.match(taken.stderr, /boots generation 2 with its changes at its next boot \(1 conflict\(s\) settled for generation 2's versions/);
  t.equal((await netboot(['image', 'list', '--state-dir', state])).stdout, 'deb\t1 2*\n  1\t198.18.3.31->2 (pinned)\n  2\t198.18.3.32\n');
  await fs.mounted!(ips[0]!);
  t.equal((await netboot(['node', 'diff', ips[0]!, '--state-dir', state])).stdout, '', "the node's motd was dropped for generation 2's");
  t.equal((await netboot(['image', 'list', '--state-dir', state])).stdout, 'deb\t1 2*\n  2\t198.18.3.31 (pinned), 198.18.3.32\n');
});
