import t from 'tap';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, lchownSync, lstatSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '@netboot/platform';
import { NfsStat, StableHow } from '@netboot/nfs3';
import { isRoot, requireThat } from '../../../test/support/programs.js';
import { asUser, harness, ok, root } from './harness.js';

// POSIX rules a file system passes through NFS, checked at the protocol with
// our own client. Each is a rule a kernel applies to local files and a
// server acting as root for its callers must apply itself:
// - path length: the client limits a path to PATH_MAX (4096 bytes with its
//   NUL) and a component to NAME_MAX (255); the server acts from handles,
//   one component at a time, so a path of PATH_MAX-1 bytes below any
//   directory of the export must work however long the export's own path
//   is, and a component over NAME_MAX is NFS3ERR_NAMETOOLONG (a path one
//   byte over PATH_MAX is the client's to refuse, ENAMETOOLONG before any
//   call: NFS carries names one at a time, never a path);
// - a WRITE by anyone but root clears setuid, and setgid where the group
//   may execute or the writer is not in the file's group (setgid without
//   group execute, a mandatory-locking mark, stays when a member of the
//   group writes): a program someone else changed must not keep running as
//   its owner or group. As Linux does, the owner's own write clears them too;
// - ownership: only root gives a file away; a caller that is not the owner
//   may not chown even to the owner and group the file already has; the
//   owner may change the group to one of its own (AUTH_SYS gid and gids)
//   or keep the current one, to no other.

const needsRoot = 'needs root: the server acts for its callers (owners, groups, setuid bits) only when it runs as root';

const deepSkip = !native && !process.env.CI && 'the platform module did not load (portable mode works on host paths, limited to PATH_MAX)';

/** Components of NAME_MAX bytes joined by '/': 16 of them make PATH_MAX-1 = 4095 bytes. */
const PARTS = Array.from({ length: 16 }, (_, i) => String.fromCharCode(0x61 + i).repeat(255));

t.test('a path of PATH_MAX-1 bytes below a directory of the export works', { skip: deepSkip }, async (t) => {
  const dir0 = mkdtempSync(join(tmpdir(), 'nfs3-paths-'));
  // fs.rm works on whole paths, which are too long here; coreutils' rm descends by descriptor.
  t.teardown(() => execFileSync('rm', ['-rf', '--', dir0]));
  const h = await harness(t, { dir: dir0 });
  const c = await h.client();
  // Like a test suite's working directory inside the mount: the path's bytes start below it.
  const work = ok(t, await c.mkdir(h.root, 'work')).object!;
  t.equal(PARTS.join('/').length, 4095, 'the path is 4095 bytes');
  let dir = work;
  for (const [i, part] of PARTS.slice(0, -1).entries()) {
    const made = await c.mkdir(dir, part);
    t.equal(made.status, 0, `MKDIR of component ${i + 1} (${(i + 1) * 256 - 1} bytes below work)`);
    if (made.status !== 0) return;
    dir = made.object!;
  }
  const last = PARTS.at(-1)!;
  const file = ok(t, await c.create(dir, last), 'CREATE at 4095 bytes').object!;
  t.equal(ok(t, await c.getattr(file), 'GETATTR at 4095 bytes').attributes.size, 0n);
  ok(t, await c.write(file, 0n, Buffer.from('deep'), StableHow.FILE_SYNC), 'WRITE at 4095 bytes');
  t.equal(ok(t, await c.read(file, 0n, 10), 'READ at 4095 bytes').data.toString(), 'deep');
  ok(t, await c.setattr(file, { mode: 0o600 }), 'SETATTR at 4095 bytes');
  // The walk down again, by LOOKUP from the top, names the same objects.
  let walked = work;
  for (const part of PARTS) walked = ok(t, await c.lookup(walked, part), 'LOOKUP down the path').object;
  t.same(walked, file, 'LOOKUP of every component reaches the same file');
  ok(t, await c.rename(dir, last, dir, 'renamed'), 'RENAME at the bottom');
  ok(t, await c.symlink(dir, 'link', 'renamed'), 'SYMLINK at the bottom');
  ok(t, await c.remove(dir, 'link'), 'REMOVE at the bottom');
  ok(t, await c.remove(dir, 'renamed'), 'REMOVE at the bottom');

  // No client sends a longer path in one call, but the server has no path limit of its
  // own: a second PATH_MAX below the first works as well.
  for (const part of PARTS.slice(0, 4)) dir = ok(t, await c.mkdir(dir, part), 'MKDIR further down').object!;
  ok(t, await c.create(dir, 'deeper'), `CREATE at ${4095 + 4 * 256 + 7} bytes below work`);

});

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

t.test('chown by a caller that is not the owner is refused, even to the current owner and group', async (t) => {
  if (!requireThat(t, isRoot(), needsRoot)) return;
  const h = await harness(t);
  chmodSync(h.dir, 0o755);
  const dir = join(h.dir, 'd');
  mkdirSync(dir, { mode: 0o755 });
  chownSync(dir, 2000, 2000);
  writeFileSync(join(dir, 'f'), 'f');
  chownSync(join(dir, 'f'), 2000, 2000);
  symlinkSync('f', join(dir, 'l'));
  lchownSync(join(dir, 'l'), 2000, 2000);
  const owner = await h.client(asUser(2000, 2000));
  const other = await h.client(asUser(2001, 2001, [2000]));
  const d = ok(t, await owner.lookup(h.root, 'd')).object;
  for (const name of ['f', 'l']) {
    const fh = ok(t, await owner.lookup(d, name)).object;
    const what = name === 'f' ? 'a file' : 'a symlink';
    t.equal((await other.setattr(fh, { uid: 2000, gid: 2000 })).status, NfsStat.PERM, `${what}: uid 2001 chown to its current 2000:2000: NFS3ERR_PERM`);
    t.equal((await other.setattr(fh, { uid: 2000 })).status, NfsStat.PERM, `${what}: uid 2001 chown to its current owner only: NFS3ERR_PERM`);
    t.equal((await other.setattr(fh, { gid: 2000 })).status, NfsStat.PERM, `${what}: uid 2001 (a member of group 2000) chgrp to its current group: NFS3ERR_PERM`);
    t.equal((await other.setattr(fh, { uid: 2001, gid: 2001 })).status, NfsStat.PERM, `${what}: uid 2001 taking it: NFS3ERR_PERM`);
    t.equal((await owner.setattr(fh, { uid: 2001, gid: 2001 })).status, NfsStat.PERM, `${what}: the owner giving it away: NFS3ERR_PERM`);
    const st = lstatSync(join(dir, name));
    t.same([st.uid, st.gid], [2000, 2000], `${what}: still 2000:2000 on disk`);
  }
});

t.test('the owner may change the group to one of its own groups, to no other', async (t) => {
  if (!requireThat(t, isRoot(), needsRoot)) return;
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

t.test('a WRITE by anyone but root clears setuid, and setgid unless it is a locking mark kept for the group', async (t) => {
  if (!requireThat(t, isRoot(), needsRoot)) return;
  const h = await harness(t);
  chmodSync(h.dir, 0o755);
  // group: the file's; gids: the writer's supplementary groups.
  const cases = [
    { mode: 0o4777, owner: 0, group: 0, writer: 2000, gids: [], after: 0o777, what: 'setuid, written by another user' },
    { mode: 0o2777, owner: 0, group: 0, writer: 2000, gids: [], after: 0o777, what: 'setgid, written by another user' },
    { mode: 0o6777, owner: 0, group: 0, writer: 2000, gids: [], after: 0o777, what: 'setuid and setgid, written by another user' },
    { mode: 0o2767, owner: 0, group: 0, writer: 2000, gids: [], after: 0o767, what: 'setgid without group execute, written by someone outside the group' },
    { mode: 0o6767, owner: 0, group: 0, writer: 2000, gids: [], after: 0o767, what: 'setuid and setgid without group execute, by someone outside the group' },
    { mode: 0o2767, owner: 0, group: 3000, writer: 2000, gids: [3000], after: 0o2767, what: 'setgid without group execute (a locking mark), written by a member of the group' },
    { mode: 0o6767, owner: 0, group: 3000, writer: 2000, gids: [3000], after: 0o2767, what: 'setuid and the locking mark, written by a member: setuid goes' },
    { mode: 0o2777, owner: 0, group: 3000, writer: 2000, gids: [3000], after: 0o777, what: 'setgid with group execute, written by a member of the group' },
    { mode: 0o4757, owner: 2000, group: 2000, writer: 2000, gids: [], after: 0o757, what: 'setuid, written by its owner' },
    { mode: 0o2775, owner: 2000, group: 2000, writer: 2000, gids: [], after: 0o775, what: 'setgid, written by its owner' },
    { mode: 0o6777, owner: 2000, group: 2000, writer: 0, gids: [], after: 0o6777, what: 'setuid and setgid, written by root' },
    { mode: 0o0777, owner: 0, group: 0, writer: 2000, gids: [], after: 0o777, what: 'neither, written by another user' },
  ];
  for (const [i, k] of cases.entries()) {
    const name = `f${i}`;
    const path = join(h.dir, name);
    writeFileSync(path, 'before');
    chownSync(path, k.owner, k.group);
    chmodSync(path, k.mode);
    const writer = await h.client(asUser(k.writer, k.writer, k.gids));
    const fh = ok(t, await writer.lookup(h.root, name)).object;
    ok(t, await writer.write(fh, 0n, Buffer.from('x'), StableHow.FILE_SYNC), `${k.what}: WRITE`);
    const want = k.after.toString(8);
    t.equal((lstatSync(path).mode & 0o7777).toString(8), want, `${k.mode.toString(8)} ${k.what}: ${want} on disk`);
    t.equal((ok(t, await writer.getattr(fh)).attributes.mode & 0o7777).toString(8), want, 'and in GETATTR');
  }
});
