import t from 'tap';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HandleCodec, NfsClient, NfsStat, StableHow } from '@netboot/nfs3';
import { asUser, harness, ok, rw } from './harness.js';

// These two change the tree beside the server and look at once: the attribute cache is off (see attribute-cache.test.ts).
t.test('handles survive a server restart and renames of the file and of a directory above it', async (t) => {
  let h = await harness(t, { attributeCacheMs: 0 });
  await mkdir(join(h.dir, 'a', 'b'), { recursive: true });
  await writeFile(join(h.dir, 'a', 'b', 'f'), 'content');
  let c = await h.client();
  const a = ok(t, await c.lookup(h.root, 'a')).object;
  const b = ok(t, await c.lookup(a, 'b')).object;
  const f = ok(t, await c.lookup(b, 'f')).object;
  await rename(join(h.dir, 'a'), join(h.dir, 'renamed-a'));
  t.equal(ok(t, await c.read(f, 0n, 100)).data.toString(), 'content', 'after a local rename of a directory above');
  ok(t, await c.rename(b, 'f', h.root, 'moved'));
  t.equal(ok(t, await c.read(f, 0n, 100)).data.toString(), 'content', 'after an NFS rename of the file');
  h = await h.restart();
  c = await h.client();
  t.equal(ok(t, await c.read(f, 0n, 100)).data.toString(), 'content', 'after a restart (index rebuilt by search)');
  t.equal(ok(t, await c.getattr(b)).attributes.type, 2, 'a directory handle after a restart');
  await rename(join(h.dir, 'renamed-a', 'b'), join(h.dir, 'b2'));
  h = await h.restart();
  c = await h.client();
  t.equal(ok(t, await c.getattr(b)).attributes.type, 2, 'after a rename while the server was down');
});

t.test('forged, truncated and stale handles', async (t) => {
  const h = await harness(t, { attributeCacheMs: 0 });
  const c = await h.client();
  await writeFile(join(h.dir, 'f'), 'x');
  const f = ok(t, await c.lookup(h.root, 'f')).object;
  for (let i = 0; i < f.length; i++) {
    const bad = Buffer.from(f);
    bad[i]! ^= 0x01;
    t.equal((await c.getattr(bad)).status, NfsStat.BADHANDLE, `bit flipped in byte ${i}`);
  }
  t.equal((await c.getattr(f.subarray(0, 20))).status, NfsStat.BADHANDLE, 'truncated');
  t.equal((await c.getattr(Buffer.alloc(0))).status, NfsStat.BADHANDLE, 'empty');
  const otherKey = new HandleCodec(Buffer.alloc(32, 9)).encode({ exportId: 1, ino: 2n, birth: 0n });
  t.equal((await c.getattr(otherKey)).status, NfsStat.BADHANDLE, 'signed with another key');
  const signed = new HandleCodec(Buffer.alloc(32, 7));
  const outside = signed.encode({ exportId: 1, ino: 1n, birth: 0n });
  t.equal((await c.getattr(outside)).status, NfsStat.STALE, 'an inode that is not in the export');
  t.equal((await c.getattr(signed.encode({ exportId: 99, ino: 2n, birth: 0n }))).status, NfsStat.STALE, 'an export that does not exist');
  await rm(join(h.dir, 'f'));
  await writeFile(join(h.dir, 'f'), 'a new file, maybe with the same inode number');
  t.equal((await c.getattr(f)).status, NfsStat.STALE, 'the old handle is STALE, not the new file');
});

t.test('nothing outside the export is reachable', async (t) => {
  const outside = await mkdtemp(join(tmpdir(), 'nfs3-outside-'));
  t.teardown(() => rm(outside, { recursive: true, force: true }));
  await writeFile(join(outside, 'secret'), 'secret');
  const other = await mkdtemp(join(tmpdir(), 'nfs3-other-'));
  t.teardown(() => rm(other, { recursive: true, force: true }));
  await writeFile(join(other, 'private'), 'private');
  const h = await harness(t, {
    extra: [{ id: 2, path: other, optionsFor: (addr) => (addr === '192.0.2.1' ? rw : undefined) }],
  });
  const c = await h.client();
  await symlink(outside, join(h.dir, 'out'));
  await symlink(join(outside, 'secret'), join(h.dir, 'secret-link'));
  t.same(ok(t, await c.lookup(h.root, '..')).object, h.root, '.. of the export root is the root');
  const up = ok(t, await c.lookup(h.root, '..')).object;
  t.same(ok(t, await c.lookup(up, '..')).object, h.root, 'and again');
  const out = ok(t, await c.lookup(h.root, 'out'));
  t.equal(out.attributes?.type, 5, 'a symlink is reported as a symlink');
  t.equal((await c.lookup(out.object, 'secret')).status, NfsStat.NOTDIR, 'LOOKUP through a symlink is refused');
  t.equal((await c.readdir(out.object)).status, NfsStat.NOTDIR, 'READDIR through a symlink is refused');
  const sl = ok(t, await c.lookup(h.root, 'secret-link')).object;
  t.equal((await c.read(sl, 0n, 100)).status, NfsStat.INVAL, 'READ of a symlink does not follow it');
  t.equal((await c.write(sl, 0n, Buffer.from('x'), StableHow.FILE_SYNC)).status, NfsStat.INVAL, 'nor does WRITE');
  t.equal((await c.setattr(sl, { size: 0n })).status, NfsStat.INVAL, 'nor does SETATTR');
  t.equal((await c.create(out.object, 'new')).status, NfsStat.NOTDIR, 'CREATE through a symlink is refused');
  t.equal((await c.lookup(h.root, '../' + 'x')).status, NfsStat.ACCES, 'a name with a slash is refused');
  const otherRoot = h.server.rootHandle(other)!;
  t.equal((await c.getattr(otherRoot)).status, NfsStat.ACCES, 'a handle of an export this client may not use');
  t.equal((await c.rename(h.root, 'secret-link', otherRoot, 'x')).status, NfsStat.ACCES);
});

t.test('secure exports refuse unprivileged source ports with NFS3ERR_PERM', async (t) => {
  const h = await harness(t, { options: { ...rw, secure: true } });
  const c = await h.client(asUser(0));
  t.equal((await c.getattr(h.root)).status, NfsStat.PERM);
  const privileged = await NfsClient.connect({ host: '127.0.0.1', port: h.port, transport: 'tcp', cred: asUser(0), reservedPort: true });
  t.teardown(() => privileged.close());
  ok(t, await privileged.getattr(h.root), 'a reserved source port is served');
});
