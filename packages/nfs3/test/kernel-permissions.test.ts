import t, { type Test } from 'tap';
import { chmodSync, chownSync, lstatSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Credential } from '@netboot/oncrpc-xdr';
import { NfsStat, StableHow } from '@netboot/nfs3';
import { asUser, harness, ok, root } from './harness.js';

// Permission rules as the kernel applies them to a local caller (checked with setpriv on Linux 6.x):
// a write or truncate by a caller without CAP_FSETID clears setuid, and setgid when group execute is
// set or the caller is not in the file's group; only root changes a file's owner, even to the owner
// it has; the owner may set the group to its current one or one of its own groups; a chown clears setuid.

const isRoot = process.getuid?.() === 0;
const skip = !isRoot && 'files of other users can only be made by root';

async function setup(t: Test) {
  // Files are changed beside the server between calls: no cached attributes.
  const h = await harness(t, { attributeCacheMs: 0 });
  chmodSync(h.dir, 0o777);
  const file = (name: string, mode: number, uid = 1000, gid = 1000) => {
    const path = join(h.dir, name);
    writeFileSync(path, 'contents');
    chownSync(path, uid, gid);
    chmodSync(path, mode);
    return path;
  };
  const mode = (path: string) => lstatSync(path).mode & 0o7777;
  return { h, file, mode };
}

t.test('a WRITE by a caller other than root clears setuid and setgid', { skip }, async (t) => {
  const { h, file, mode } = await setup(t);
  const other = await h.client(asUser(2000, 2000));
  const cases: [string, number, number, Credential, string][] = [
    ['u', 0o4777, 0o777, asUser(2000, 2000), 'setuid, by a non-owner'],
    ['g', 0o2777, 0o777, asUser(2000, 2000), 'setgid with group execute, by a non-owner'],
    ['ug', 0o6777, 0o777, asUser(2000, 2000), 'both, by a non-owner'],
    ['gnx', 0o2767, 0o767, asUser(2000, 2000), 'setgid without group execute, by a caller outside the group'],
    ['gnx-in', 0o2767, 0o2767, asUser(2000, 1000), 'setgid without group execute kept for a caller in the group'],
    ['own', 0o4755, 0o755, asUser(1000, 1000), 'setuid, by the owner too (no CAP_FSETID)'],
    ['root', 0o6777, 0o6777, root, 'kept when root writes'],
  ];
  for (const [name, before, after, cred, what] of cases) {
    const path = file(name, before);
    const c = await h.client(cred);
    const f = ok(t, await c.lookup(h.root, name)).object;
    const w = ok(t, await c.write(f, 0n, Buffer.from('x'), StableHow.UNSTABLE));
    t.equal(mode(path), after, what);
    t.equal(w.wcc.after?.mode, after, `${what}: WRITE reports the mode after`);
  }
  const path = file('empty-write', 0o4777);
  const f = ok(t, await other.lookup(h.root, 'empty-write')).object;
  ok(t, await other.write(f, 0n, Buffer.alloc(0), StableHow.UNSTABLE));
  t.equal(mode(path), 0o4777, 'a write of no data changes nothing');
});

t.test('a truncate by SETATTR clears them as a write does', { skip }, async (t) => {
  const { h, file, mode } = await setup(t);
  const other = await h.client(asUser(2000, 2000));
  const path = file('t', 0o6777);
  const f = ok(t, await other.lookup(h.root, 't')).object;
  ok(t, await other.setattr(f, { size: 2n }));
  t.equal(mode(path), 0o777, 'size change by a non-owner');
  t.equal(lstatSync(path).size, 2, 'and the size changed');
  const kept = file('k', 0o6777);
  const rf = ok(t, await (await h.client(root)).lookup(h.root, 'k')).object;
  ok(t, await (await h.client(root)).setattr(rf, { size: 1n }));
  t.equal(mode(kept), 0o6777, 'root keeps them');
});

t.test('chown and chgrp as chown(2) allows them', { skip }, async (t) => {
  const { h, file, mode } = await setup(t);
  const path = file('c', 0o644, 1000, 1000);
  const other = await h.client(asUser(2000, 2000, [1000]));
  const owner = await h.client(asUser(1000, 1000, [3000]));
  const fo = ok(t, await other.lookup(h.root, 'c')).object;
  const fw = ok(t, await owner.lookup(h.root, 'c')).object;
  t.equal((await other.setattr(fo, { uid: 1000 })).status, NfsStat.PERM, "a non-owner's chown to the current owner is refused");
  t.equal((await other.setattr(fo, { gid: 1000 })).status, NfsStat.PERM, "a non-owner's chgrp to the current group is refused, even as a member");
  t.equal((await other.setattr(fo, { uid: 2000 })).status, NfsStat.PERM, "a non-owner's chown to itself is refused");
  t.equal((await owner.setattr(fw, { uid: 2000 })).status, NfsStat.PERM, 'the owner cannot give the file away');
  ok(t, await owner.setattr(fw, { uid: 1000 }), 'the owner may chown to itself');
  ok(t, await owner.setattr(fw, { gid: 3000 }), 'the owner may chgrp to one of its groups');
  t.equal(lstatSync(path).gid, 3000);
  t.equal((await owner.setattr(fw, { gid: 4000 })).status, NfsStat.PERM, 'but not to a group it is not in');
  chownSync(path, 1000, 5000);
  ok(t, await owner.setattr(fw, { gid: 5000 }), 'the owner may "change" the group to the current one, member or not');
  ok(t, await (await h.client(root)).setattr(fw, { uid: 2000, gid: 2000 }), 'root may do anything');
  t.same([lstatSync(path).uid, lstatSync(path).gid], [2000, 2000]);

  const s = file('s', 0o6755, 1000, 1000);
  const fs = ok(t, await owner.lookup(h.root, 's')).object;
  ok(t, await owner.setattr(fs, { uid: 1000, gid: 1000 }), 'a chown to the same owner');
  t.equal(mode(s), 0o755, 'clears setuid and setgid (group execute set), as the kernel does');
  chmodSync(s, 0o6755);
  ok(t, await owner.setattr(fs, { uid: 1000, mode: 0o6755 }));
  t.equal(mode(s), 0o755, 'with a mode in the same SETATTR the clearing wins (as knfsd)');
});
