import t from 'tap';
import { chmod, chown, lstat, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Access, NfsStat, StableHow, accessBits, permitted, squash } from '@netboot/nfs3';
import { asUser, harness, ok, rw } from './harness.js';

const cases = [
  { name: 'no_root_squash', opts: { ...rw }, rootAs: 0, userAs: 1000 },
  { name: 'root_squash', opts: { ...rw, rootSquash: true }, rootAs: 65534, userAs: 1000 },
  { name: 'root_squash,anonuid=1234,anongid=4321', opts: { ...rw, rootSquash: true, anonuid: 1234, anongid: 4321 }, rootAs: 1234, userAs: 1000 },
  { name: 'all_squash', opts: { ...rw, allSquash: true }, rootAs: 65534, userAs: 65534 },
  { name: 'all_squash,anonuid=1234', opts: { ...rw, allSquash: true, anonuid: 1234, anongid: 4321 }, rootAs: 1234, userAs: 1234 },
];

for (const k of cases) {
  t.test(`${k.name}: who the server acts for`, async (t) => {
    const h = await harness(t, { options: k.opts });
    // A world-writable directory, so that every squashed identity may create in it.
    await chmod(h.dir, 0o777);
    await writeFile(join(h.dir, 'root-only'), 'secret');
    await chmod(join(h.dir, 'root-only'), 0o600);
    for (const [who, uid, expectUid] of [
      ['root', 0, k.rootAs],
      ['user 1000', 1000, k.userAs],
    ] as const) {
      const c = await h.client(asUser(uid));
      const name = `by-${uid}`;
      const made = ok(t, await c.create(h.root, name), `${who} creates`);
      t.equal(made.attributes?.uid, expectUid, `${who}'s file is owned by uid ${expectUid}`);
      t.equal((await lstat(join(h.dir, name))).uid, expectUid, 'on disk too');
      const dir = ok(t, await c.mkdir(h.root, `dir-${uid}`));
      t.equal(dir.attributes?.uid, expectUid, `${who}'s directory too`);
      const secret = ok(t, await c.lookup(h.root, 'root-only')).object;
      const read = await c.read(secret, 0n, 10);
      t.equal(read.status, expectUid === 0 ? 0 : NfsStat.ACCES, `${who} ${expectUid === 0 ? 'may' : 'may not'} read a root 0600 file`);
    }
  });
}

t.test('owner, group, supplementary groups and other bits', async (t) => {
  const h = await harness(t, { options: { ...rw, rootSquash: true } });
  await mkdir(join(h.dir, 'd'));
  await chmod(h.dir, 0o755);
  for (const [name, mode, uid, gid] of [
    ['owner', 0o600, 2000, 2000],
    ['group', 0o060, 1, 3000],
    ['other', 0o006, 1, 1],
    ['none', 0o000, 1, 1],
  ] as const) {
    await writeFile(join(h.dir, name), name);
    await chown(join(h.dir, name), uid, gid);
    await chmod(join(h.dir, name), mode);
  }
  const owner = await h.client(asUser(2000, 2000));
  const member = await h.client(asUser(2001, 2001, [3000]));
  const stranger = await h.client(asUser(2002, 2002));
  const fh = async (n: string) => ok(t, await owner.lookup(h.root, n)).object;
  t.equal((await owner.read(await fh('owner'), 0n, 5)).status, 0, 'owner reads 0600');
  t.equal((await member.read(await fh('owner'), 0n, 5)).status, NfsStat.ACCES, 'others do not');
  t.equal((await member.read(await fh('group'), 0n, 5)).status, 0, 'a supplementary group member reads 060');
  t.equal((await stranger.read(await fh('group'), 0n, 5)).status, NfsStat.ACCES);
  t.equal((await stranger.read(await fh('other'), 0n, 5)).status, 0, 'anyone reads 006');
  t.equal((await stranger.write(await fh('other'), 0n, Buffer.from('x'), StableHow.FILE_SYNC)).status, 0, 'anyone writes 006');
  t.equal((await stranger.write(await fh('none'), 0n, Buffer.from('x'), StableHow.FILE_SYNC)).status, NfsStat.ACCES);
  t.equal((await stranger.create(h.root, 'new')).status, NfsStat.ACCES, 'no write permission on the directory');
  t.equal((await stranger.remove(h.root, 'other')).status, NfsStat.ACCES, 'nor removal');
  t.equal((await stranger.setattr(await fh('other'), { mode: 0o777 })).status, NfsStat.PERM, 'only the owner changes the mode');
  t.equal((await owner.setattr(await fh('owner'), { uid: 2002 })).status, NfsStat.PERM, 'only root gives a file away');
  const acc = ok(t, await member.access(await fh('group'), 0x3f));
  t.equal(acc.access, Access.READ | Access.MODIFY | Access.EXTEND);
});

t.test('ro exports answer NFS3ERR_ROFS to every change', async (t) => {
  const h = await harness(t, { options: { ...rw, rw: false } });
  await writeFile(join(h.dir, 'f'), 'f');
  await mkdir(join(h.dir, 'd'));
  const c = await h.client();
  const f = ok(t, await c.lookup(h.root, 'f')).object;
  t.equal(ok(t, await c.read(f, 0n, 10)).data.toString(), 'f', 'reads work');
  t.equal(ok(t, await c.access(f, 0x3f)).access & (Access.MODIFY | Access.EXTEND | Access.DELETE), 0, 'ACCESS grants no change');
  const results = {
    WRITE: await c.write(f, 0n, Buffer.from('x'), StableHow.FILE_SYNC),
    SETATTR: await c.setattr(f, { mode: 0o777 }),
    CREATE: await c.create(h.root, 'n'),
    MKDIR: await c.mkdir(h.root, 'n'),
    SYMLINK: await c.symlink(h.root, 'n', 'f'),
    MKNOD: await c.mknod(h.root, 'n', { type: 7, attributes: { mode: 0o600, uid: undefined, gid: undefined, size: undefined, atime: { how: 0 }, mtime: { how: 0 } } }),
    REMOVE: await c.remove(h.root, 'f'),
    RMDIR: await c.rmdir(h.root, 'd'),
    RENAME: await c.rename(h.root, 'f', h.root, 'g'),
    LINK: await c.link(f, h.root, 'g'),
  };
  for (const [proc, r] of Object.entries(results)) t.equal(r.status, NfsStat.ROFS, `${proc} is ROFS`);
});

t.test('squash and permission rules (pure)', async (t) => {
  const opts = { ...rw, rootSquash: true, anonuid: 7, anongid: 8 };
  t.same(squash({ flavor: 0 }, opts), { uid: 7, gid: 8, gids: [] }, 'AUTH_NONE is anonymous');
  t.same(squash({ flavor: 1, uid: 0, gid: 0, gids: [0, 5] }, opts), { uid: 7, gid: 8, gids: [8, 5] });
  t.same(squash({ flavor: 1, uid: 3, gid: 4, gids: [5] }, { ...opts, allSquash: true }), { uid: 7, gid: 8, gids: [] });
  t.equal(permitted({ uid: 0, gid: 0, gids: [] }, { mode: 0o000, uid: 1, gid: 1 }, false), 6, 'root: rw, no x without any x bit');
  t.equal(permitted({ uid: 0, gid: 0, gids: [] }, { mode: 0o001, uid: 1, gid: 1 }, false), 7);
  t.equal(permitted({ uid: 1, gid: 1, gids: [] }, { mode: 0o477, uid: 1, gid: 1 }, false), 4, 'owner bits win over group/other');
  t.equal(accessBits({ uid: 1, gid: 1, gids: [] }, { mode: 0o700, uid: 1, gid: 1 }, true, 0x3f, false), 0x1f);
});
