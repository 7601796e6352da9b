import t from 'tap';
import { mkdtemp, mkdir, writeFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findPxelinuxConfig, pxelinuxConfigNames, resolveUnderRoot, realRoot } from '@netboot/tftp-wire';

t.test('the names pxelinux tries, in its order (as PXE-BOOT-FACTS.md saw on the wire)', async (t) => {
  t.same(pxelinuxConfigNames('52:54:00:AB:cd:0f', '198.18.1.21'), [
    'pxelinux.cfg/01-52-54-00-ab-cd-0f',
    'pxelinux.cfg/C6120115',
    'pxelinux.cfg/C612011',
    'pxelinux.cfg/C61201',
    'pxelinux.cfg/C6120',
    'pxelinux.cfg/C612',
    'pxelinux.cfg/C61',
    'pxelinux.cfg/C6',
    'pxelinux.cfg/C',
    'pxelinux.cfg/default',
  ]);
  t.equal(pxelinuxConfigNames('a-b-c-d-e-f', '1.2.3.4', { uuid: 'ABC' })[0], 'pxelinux.cfg/abc');
  t.equal(pxelinuxConfigNames('a-b-c-d-e-f', '1.2.3.4')[0], 'pxelinux.cfg/01-0a-0b-0c-0d-0e-0f');
  t.throws(() => pxelinuxConfigNames('nope', '1.2.3.4'), TypeError);
  t.throws(() => pxelinuxConfigNames('a:b:c:d:e:f', '1.2.3'), TypeError);
});

t.test('which one exists under a root', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'pxl-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  t.equal(await findPxelinuxConfig(root, '52:54:00:ab:cd:0f', '198.18.1.21'), undefined);
  await mkdir(join(root, 'pxelinux.cfg'));
  await writeFile(join(root, 'pxelinux.cfg', 'default'), 'x');
  t.equal(await findPxelinuxConfig(root, '52:54:00:ab:cd:0f', '198.18.1.21'), 'pxelinux.cfg/default');
  await writeFile(join(root, 'pxelinux.cfg', 'C612'), 'x');
  t.equal(await findPxelinuxConfig(root, '52:54:00:ab:cd:0f', '198.18.1.21'), 'pxelinux.cfg/C612');
  await mkdir(join(root, 'pxelinux.cfg', 'C6120115'));
  t.equal(await findPxelinuxConfig(root, '52:54:00:ab:cd:0f', '198.18.1.21'), 'pxelinux.cfg/C612', 'a directory is not a config');
  await symlink('/etc/hostname', join(root, 'pxelinux.cfg', '01-52-54-00-ab-cd-0f'));
  t.equal(await findPxelinuxConfig(root, '52:54:00:ab:cd:0f', '198.18.1.21'), 'pxelinux.cfg/C612', 'a symlink out of the root does not count');
});

t.test('resolveUnderRoot', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'sec-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  await mkdir(join(base, 'root', 'sub'), { recursive: true });
  await writeFile(join(base, 'root', 'sub', 'f'), 'x');
  await writeFile(join(base, 'outside'), 'x');
  await symlink('..', join(base, 'root', 'sub', 'up'));
  await symlink('../..', join(base, 'root', 'sub', 'out'));
  const root = await realRoot(join(base, 'root'));
  t.match(await resolveUnderRoot(root, 'sub/f'), { ok: true, path: join(root, 'sub', 'f'), exists: true });
  t.match(await resolveUnderRoot(root, 'sub/up/sub/f'), { ok: true, exists: true }, 'a symlink that stays inside is fine');
  t.match(await resolveUnderRoot(root, 'sub/out/outside'), { ok: false, reason: 'escape' });
  t.match(await resolveUnderRoot(root, 'sub/out/root/sub/f'), { ok: true, exists: true }, 'out and back in lands inside');
  t.match(await resolveUnderRoot(root, 'sub/new'), { ok: true, exists: false });
  t.match(await resolveUnderRoot(root, 'sub/out/new'), { ok: false, reason: 'escape' }, 'creating through a symlink out');
  t.match(await resolveUnderRoot(root, 'a/../f'), { ok: false, reason: 'escape' });
  t.match(await resolveUnderRoot(root, ''), { ok: false, reason: 'bad-name' });
  t.match(await resolveUnderRoot(root, '///'), { ok: false, reason: 'bad-name' });
  t.match(await resolveUnderRoot(root, `${root}/sub/f`), { ok: true, exists: true });
  t.match(await resolveUnderRoot(root, `${root}-other/x`), { ok: false, reason: 'escape' }, 'a sibling with the root as prefix is outside');
});
