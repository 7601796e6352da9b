import t from 'tap';
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NfsStat, StableHow } from '@netboot/nfs3';
import { harness, ok } from './harness.js';

// The server reuses lstat results (AttributeCache): what changes through it must show at once,
// what changes beside it within the cache's lifetime, and a path gone beside it must not stick.

t.test('changes made through the server are seen at once', async (t) => {
  const h = await harness(t, { attributeCacheMs: 60_000 });
  const c = await h.client();
  const f = ok(t, await c.create(h.root, 'f')).object!;
  t.equal(ok(t, await c.getattr(f)).attributes.size, 0n, 'cached while empty');
  ok(t, await c.write(f, 0n, Buffer.alloc(5000, 1), StableHow.UNSTABLE));
  t.equal(ok(t, await c.getattr(f)).attributes.size, 5000n, 'size after WRITE');
  t.equal(ok(t, await c.read(f, 0n, 10_000)).eof, true, 'READ sees the new end of file');
  ok(t, await c.setattr(f, { mode: 0o600 }));
  t.equal(ok(t, await c.getattr(f)).attributes.mode, 0o600, 'mode after SETATTR');
  const d = ok(t, await c.mkdir(h.root, 'd')).object!;
  const rootBefore = ok(t, await c.getattr(h.root)).attributes;
  ok(t, await c.rename(h.root, 'f', d, 'g'));
  t.equal((await c.lookup(h.root, 'f')).status, NfsStat.NOENT, 'old name gone after RENAME');
  t.equal(ok(t, await c.lookup(d, 'g')).attributes?.size, 5000n, 'new name after RENAME');
  t.equal(ok(t, await c.getattr(f)).attributes.size, 5000n, 'the handle follows the rename');
  const rootAfter = ok(t, await c.getattr(h.root)).attributes;
  t.not(rootAfter.nlink === rootBefore.nlink && rootAfter.mtime.nseconds === rootBefore.mtime.nseconds && rootAfter.mtime.seconds === rootBefore.mtime.seconds, true, 'directory attributes change with its entries');
  ok(t, await c.remove(d, 'g'));
  t.equal((await c.getattr(f)).status, NfsStat.STALE, 'STALE after REMOVE');
});

t.test('changes made beside the server show once the cached attributes expire', async (t) => {
  // The cache reads the monotonic clock (performance.now): the test moves it on instead of waiting.
  let skew = 0;
  const clock = performance.now.bind(performance);
  t.intercept(performance, 'now', { value: () => clock() + skew });
  const h = await harness(t, { attributeCacheMs: 60_000 });
  const c = await h.client();
  await writeFile(join(h.dir, 'f'), 'x');
  const f = ok(t, await c.lookup(h.root, 'f')).object;
  t.equal(ok(t, await c.getattr(f)).attributes.size, 1n, 'first look, now cached');
  await chmod(join(h.dir, 'f'), 0o600);
  await writeFile(join(h.dir, 'f'), 'longer');
  t.equal(ok(t, await c.getattr(f)).attributes.size, 1n, 'still the cached attributes within their lifetime');
  skew += 60_000;
  const a = ok(t, await c.getattr(f)).attributes;
  t.equal(a.mode, 0o600, 'mode changed beside the server');
  t.equal(a.size, 6n, 'size changed beside the server');
});

t.test('a path renamed beside the server fails once at most, then is found again', async (t) => {
  const h = await harness(t, { attributeCacheMs: 60_000 });
  const c = await h.client();
  await mkdir(join(h.dir, 'a'));
  await writeFile(join(h.dir, 'a', 'f'), 'content');
  const a = ok(t, await c.lookup(h.root, 'a')).object;
  const f = ok(t, await c.lookup(a, 'f')).object;
  ok(t, await c.read(f, 0n, 100));
  await rename(join(h.dir, 'a'), join(h.dir, 'b'));
  const first = await c.read(f, 0n, 100);
  t.ok(first.status === NfsStat.OK || first.status === NfsStat.NOENT, `first READ after the rename: ${first.status}`);
  t.equal(ok(t, await c.read(f, 0n, 100)).data.toString(), 'content', 'the next READ finds the file where it went');
});

t.test('a name made in one directory shows in its attributes at once and leaves the other objects cached', async (t) => {
  const h = await harness(t, { attributeCacheMs: 60_000 });
  const c = await h.client();
  // Two nodes' roots under one export, as a boot storm has them.
  const a = ok(t, await c.mkdir(h.root, 'node-a')).object!;
  const b = ok(t, await c.mkdir(h.root, 'node-b')).object!;
  ok(t, await c.create(b, 'hostname'));
  const before = ok(t, await c.lookup(h.root, 'node-a')).attributes!;
  t.equal(ok(t, await c.lookup(b, 'hostname')).attributes?.size, 0n, 'node-b/hostname looked up, now cached');
  // Changed beside the server: a cached object keeps its attributes until they expire.
  await writeFile(join(h.dir, 'node-b', 'hostname'), 'beside');
  ok(t, await c.mkdir(a, 'log'));
  ok(t, await c.create(a, 'pid'));
  const after = ok(t, await c.lookup(h.root, 'node-a')).attributes!;
  t.equal(after.nlink, before.nlink + 1, "MKDIR: the directory's link count at once");
  t.equal(ok(t, await c.lookup(a, 'pid')).attributes?.size, 0n, 'the new name is found');
  t.equal(ok(t, await c.lookup(b, 'hostname')).attributes?.size, 0n, "node-a's new names left node-b's cached attributes");
});
