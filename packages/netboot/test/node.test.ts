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
  await roots.open(join(dir, 'diskless', ip));
  t.equal((await netboot(['node', 'diff', ip, '--state-dir', state])).stdout, 'A /etc/fstab\nM /etc/hostname\n', 'after the reset only what add-node gave it is left');
  t.equal(readFileSync(join(state, 'nodes', ip, 'upper/etc/hostname'), 'utf8'), 'canary\n');
  t.equal((await netboot(['node', 'diff', '198.18.3.99', '--state-dir', state])).code, 1, 'an unknown node is an error');
});
