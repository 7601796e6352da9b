import t from 'tap';
import { chmodSync, chownSync, lstatSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NfsStat } from '@netboot/nfs3';
import { asUser, harness, ok, root } from './harness.js';

// POSIX rules a file system passes through NFS, checked at the protocol with
// our own client. Each is a rule a kernel applies to local files and a
// server acting as root for its callers must apply itself:
// - a component over NAME_MAX (255) bytes is NFS3ERR_NAMETOOLONG;
// - ownership: the owner may change the group to one of its own (AUTH_SYS gid and gids)
//   or keep the current one, to no other.

const isRoot = process.getuid?.() === 0;
const needsRoot = !isRoot && 'the server gives objects to their callers only when it runs as root';

t.test('a component over NAME_MAX bytes is NFS3ERR_NAMETOOLONG', async (t) => {
  const h = await harness(t);
  const c = await h.client();
  const dir = ok(t, await c.mkdir(h.root, 'd')).object!;
  const file = ok(t, await c.create(dir, 'f')).object!;
  const long = 'n'.repeat(256);
  t.equal((await c.lookup(dir, long)).status, NfsStat.NAMETOOLONG, 'LOOKUP of a 256-byte component');
  t.equal((await c.create(dir, long)).status, NfsStat.NAMETOOLONG, 'CREATE of one');
  t.equal((await c.mkdir(dir, long)).status, NfsStat.NAMETOOLONG, 'MKDIR of one');
  t.equal((await c.symlink(dir, long, 'f')).status, NfsStat.NAMETOOLONG, 'SYMLINK of one');
  t.equal((await c.rename(dir, 'f', dir, long)).status, NfsStat.NAMETOOLONG, 'RENAME to one');
  t.equal((await c.link(file, dir, long)).status, NfsStat.NAMETOOLONG, 'LINK as one');
  t.equal((await c.remove(dir, long)).status, NfsStat.NAMETOOLONG, 'REMOVE of one');
  ok(t, await c.create(dir, 'm'.repeat(255)), 'a component of exactly 255 bytes is fine');
});

t.test('the owner may change the group to one of its own groups, to no other', { skip: needsRoot }, async (t) => {
  const h = await harness(t);
  chmodSync(h.dir, 0o755);
  writeFileSync(join(h.dir, 'f'), 'f');
  chownSync(join(h.dir, 'f'), 2000, 3000);
  const owner = await h.client(asUser(2000, 2000, [2000, 2100]));
  const fh = ok(t, await owner.lookup(h.root, 'f')).object;
  const gid = () => lstatSync(join(h.dir, 'f')).gid;
  ok(t, await owner.setattr(fh, { gid: 3000 }), 'to the group it already has, though not a member: allowed');
  ok(t, await owner.setattr(fh, { uid: 2000, gid: 3000 }), 'the same with its own uid named: allowed');
  t.equal((await owner.setattr(fh, { gid: 4000 })).status, NfsStat.PERM, 'to a group it is not in: NFS3ERR_PERM');
  t.equal(gid(), 3000, 'unchanged on disk');
  ok(t, await owner.setattr(fh, { gid: 2100 }), 'to a supplementary group (AUTH_SYS gids): allowed');
  t.equal(gid(), 2100);
  ok(t, await owner.setattr(fh, { uid: 2000, gid: 2000 }), 'to its primary group, naming its own uid: allowed');
  t.equal(gid(), 2000);
  const rootClient = await h.client(root);
  ok(t, await rootClient.setattr(fh, { uid: 5000, gid: 5000 }), 'root gives it to anyone');
  t.same([lstatSync(join(h.dir, 'f')).uid, gid()], [5000, 5000]);
});
