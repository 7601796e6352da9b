import t from 'tap';
import { chmodSync, chownSync, lstatSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CreateMode, Ftype, noSattr } from '@netboot/nfs3';
import { isRoot, requireThat } from '../../../test/support/programs.js';
import { asUser, harness, ok } from './harness.js';

// As Linux and knfsd: in a setgid directory, new objects take the directory's group and new
// directories stay setgid (`mkdir d; chmod 2775 d; mkdir d/s` gives d/s 2755), whoever makes them.

t.test('objects made in a setgid directory', async (t) => {
  if (!requireThat(t, isRoot(), 'needs root: the server gives objects to their maker only when it runs as root')) return;
  const h = await harness(t);
  chmodSync(h.dir, 0o777);
  const shared = join(h.dir, 'shared');
  mkdirSync(shared);
  chownSync(shared, 1000, 2000);
  chmodSync(shared, 0o2775);
  const owner = await h.client(asUser(1000, 1000));
  const d = ok(t, await owner.lookup(h.root, 'shared')).object;

  const s = ok(t, await owner.mkdir(d, 's', { mode: 0o755 }), 'MKDIR with mode 0755 (what the Linux client sends)');
  const st = lstatSync(join(shared, 's'));
  t.equal(st.mode & 0o7777, 0o2755, 'the new directory is 2755: setgid kept');
  t.equal(st.gid, 2000, "and has the directory's group");
  t.equal(st.uid, 1000, 'and belongs to its maker');
  t.equal(s.attributes!.mode, 0o2755, 'MKDIR reports the mode it made');
  const deeper = ok(t, await owner.mkdir(s.object!, 't', { mode: 0o700 })).attributes!;
  t.equal(deeper.mode, 0o2700, 'and so on down');
  t.equal(deeper.gid, 2000);

  const f = ok(t, await owner.create(d, 'f')).attributes!;
  t.equal(f.gid, 2000, "a file takes the directory's group");
  t.equal(f.mode, 0o644, 'but no setgid bit');
  t.equal(ok(t, await owner.symlink(d, 'l', 'f')).attributes!.gid, 2000, 'a symlink too');
  const fifo = { type: Ftype.FIFO, attributes: { ...noSattr(), mode: 0o600 } } as const;
  t.equal(ok(t, await owner.mknod(d, 'p', fifo)).attributes!.gid, 2000, 'a FIFO too');
  const excl = ok(t, await owner.create(d, 'x', { mode: CreateMode.EXCLUSIVE, verf: Buffer.alloc(8, 1) })).attributes!;
  t.equal(excl.gid, 2000, 'an EXCLUSIVE create too');

  const setgidFile = ok(t, await owner.create(d, 'sg', { mode: CreateMode.UNCHECKED, attributes: { ...noSattr(), mode: 0o2755 } })).attributes!;
  t.equal(setgidFile.mode, 0o755, 'a file asked 2755 by a caller outside the group loses setgid (as chmod would)');
  const member = await h.client(asUser(1001, 1001, [2000]));
  const memberFile = ok(t, await member.create(d, 'sg2', { mode: CreateMode.UNCHECKED, attributes: { ...noSattr(), mode: 0o2755 } })).attributes!;
  t.equal(memberFile.mode, 0o2755, 'a member of the group keeps it');

  const other = await h.client(asUser(1002, 1002, [2000]));
  const o = ok(t, await other.mkdir(d, 'o', { mode: 0o775 })).attributes!;
  t.same([o.uid, o.gid, o.mode], [1002, 2000, 0o2775], 'another member: its own uid, the group, setgid');

  const plain = ok(t, await owner.mkdir(h.root, 'plain', { mode: 0o755 })).attributes!;
  t.same([plain.uid, plain.gid, plain.mode], [1000, 1000, 0o755], "outside a setgid directory: the caller's group, no setgid");
});

t.test('CREATE attributes cannot give an object away', async (t) => {
  if (!requireThat(t, isRoot(), 'needs root: only a server running as root could give an object away')) return;
  const h = await harness(t);
  chmodSync(h.dir, 0o777);
  const user = await h.client(asUser(1000, 1000));
  const given = { mode: CreateMode.UNCHECKED, attributes: { ...noSattr(), mode: 0o4755, uid: 0, gid: 0 } } as const;
  const f = ok(t, await user.create(h.root, 'f', given)).attributes!;
  t.same([f.uid, f.gid], [1000, 1000], 'uid 0 / gid 0 sent by a non-root caller are ignored, as knfsd does');
  t.equal(f.mode, 0o4755, 'the mode applies to its own file');
  const d = ok(t, await user.mkdir(h.root, 'd', { mode: 0o755, gid: 0 })).attributes!;
  t.equal(d.gid, 1000, 'MKDIR too');
  const r = ok(t, await (await h.client()).create(h.root, 'r', { mode: CreateMode.UNCHECKED, attributes: { ...noSattr(), mode: 0o644, uid: 1234, gid: 4321 } })).attributes!;
  t.same([r.uid, r.gid], [1234, 4321], 'root may name the owner at once');
});
