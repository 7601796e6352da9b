import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, readFile, stat, writeFile, lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netbootCli } from '../../../test/support/paths.js';

const run = promisify(execFile);

async function netboot(args: string[]) {
  return run(process.execPath, [netbootCli, ...args]).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
}

t.test('add-node does the per-node steps and refuses to repeat them without --force', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'netboot-add-node-'));
  t.teardown(() => run('rm', ['-rf', dir]));
  const flags = [
    '--diskless-root', join(dir, 'diskless'),
    '--exports', join(dir, 'exports'),
    '--dhcp-conf', join(dir, 'dhcpd.conf'),
    '--tftp-root', join(dir, 'tftp'),
  ];
  await writeFile(join(dir, 'dhcpd.conf'), 'next-server 198.18.1.1;\n');
  const first = await netboot(['add-node', '198.18.1.21', '--mac', '52:54:00:AB:CD:21', '--hostname', 'slave21', ...flags]);
  t.equal(first.code, 0, first.stderr);
  const root = join(dir, 'diskless', '198.18.1.21');
  for (const d of ['home', 'dev', 'proc', 'tmp', 'mnt', 'root', 'sys', 'var/log', 'usr', 'opt', 'etc']) {
    t.ok((await stat(join(root, d))).isDirectory(), `${d} exists`);
  }
  t.equal((await stat(join(root, 'tmp'))).mode & 0o7777, 0o1777, 'tmp is world-writable and sticky');
  t.equal(await readFile(join(root, 'etc/hostname'), 'utf8'), 'slave21\n');
  if (process.getuid?.() === 0) {
    const con = await lstat(join(root, 'dev/console'));
    t.ok(con.isCharacterDevice(), 'dev/console is a character device');
    t.equal(con.rdev, (5 << 8) | 1, 'major 5 minor 1');
  }
  t.match(await readFile(join(dir, 'exports'), 'utf8'), `${root} 198.18.1.21(rw,sync,no_root_squash,no_subtree_check)`);
  const conf = await readFile(join(dir, 'dhcpd.conf'), 'utf8');
  t.match(conf, /host slave21 \{\n  hardware ethernet 52:54:00:ab:cd:21;\n  fixed-address 198\.18\.1\.21;\n\}/);
  const pxe = await readFile(join(dir, 'tftp', 'pxelinux.cfg', '01-52-54-00-ab-cd-21'), 'utf8');
  t.match(pxe, `nfsroot=198.18.1.1:${root},vers=3,tcp`);

  const again = await netboot(['add-node', '198.18.1.21', '--mac', '52:54:00:ab:cd:21', ...flags]);
  t.equal(again.code, 1, 'a second run is refused');
  t.match(again.stderr, /not changing anything/);
  t.match(again.stderr, /--force/);
  t.equal((await readFile(join(dir, 'exports'), 'utf8')).split('\n').filter(Boolean).length, 1, 'exports unchanged');
});

t.test('add-node explains a bad MAC', async (t) => {
  const r = await netboot(['add-node', '198.18.1.22', '--mac', 'zz:00', '--server', '198.18.1.1']);
  t.equal(r.code, 2);
  t.match(r.stderr, /--mac must be an Ethernet address/);
});
