import t from 'tap';
import { lstatSync, mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NfsStat } from '@netboot/nfs3';
import { harness, ok } from './harness.js';

/*
 * A directory on a handle's path swapped for a symlink between the handle's
 * check and the call: the path no longer leads to the object beneath the
 * export, so the call answers NFS3ERR_STALE, as knfsd does for a handle it
 * cannot follow to its object (never INVAL, which says the arguments were
 * wrong, and which the kernel client reports as EINVAL to the program). The
 * client's next call finds the object where it went.
 */
t.test('a handle whose path went through a swapped-in symlink is STALE, then found again', async (t) => {
  // Attributes cached long, so the handle's check passes from the cache and the swap is met by the call itself.
  const h = await harness(t, { attributeCacheMs: 600_000 });
  mkdirSync(join(h.dir, 'a', 'b'), { recursive: true });
  writeFileSync(join(h.dir, 'a', 'b', 'f'), 'data');
  const c = await h.client();
  const a = ok(t, await c.lookup(h.root, 'a')).object;
  const b = ok(t, await c.lookup(a, 'b')).object;
  const f = ok(t, await c.lookup(b, 'f')).object;
  ok(t, await c.getattr(f), 'GETATTR before the swap');

  renameSync(join(h.dir, 'a'), join(h.dir, 'moved'));
  symlinkSync('moved', join(h.dir, 'a'));
  const r = await c.setattr(f, { mode: 0o600 });
  t.equal(r.status, NfsStat.STALE, 'SETATTR through the swapped path: NFS3ERR_STALE');
  t.equal(lstatSync(join(h.dir, 'moved', 'b', 'f')).mode & 0o777, 0o644, 'nothing changed');

  ok(t, await c.setattr(f, { mode: 0o600 }), 'the next SETATTR finds the file under its new path');
  t.equal(lstatSync(join(h.dir, 'moved', 'b', 'f')).mode & 0o777, 0o600);
});

/*
 * READDIRPLUS opens the directory for reading by its path beneath the root in one call (no O_PATH descriptor
 * first): a directory on that path swapped for a symlink, or the directory itself swapped for a file, is
 * STALE there too, as at() answers, and nothing is listed.
 */
t.test('READDIRPLUS of a directory whose path was swapped is STALE', async (t) => {
  // Attributes cached long, so the handle's check passes from the cache and the swap is met by the listing itself.
  const h = await harness(t, { attributeCacheMs: 600_000 });
  mkdirSync(join(h.dir, 'a', 'b'), { recursive: true });
  mkdirSync(join(h.dir, 'c', 'd'), { recursive: true });
  writeFileSync(join(h.dir, 'a', 'b', 'f'), 'data');
  writeFileSync(join(h.dir, 'c', 'd', 'g'), 'data');
  const c = await h.client();
  const b = ok(t, await c.lookup(ok(t, await c.lookup(h.root, 'a')).object, 'b')).object;
  const d = ok(t, await c.lookup(ok(t, await c.lookup(h.root, 'c')).object, 'd')).object;

  renameSync(join(h.dir, 'a'), join(h.dir, 'moved'));
  symlinkSync('moved', join(h.dir, 'a'));
  t.equal((await c.readdirplus(b)).status, NfsStat.STALE, 'a directory on the path now a symlink: NFS3ERR_STALE');

  renameSync(join(h.dir, 'c', 'd'), join(h.dir, 'c', 'd-old'));
  writeFileSync(join(h.dir, 'c', 'd'), 'not a directory');
  t.equal((await c.readdirplus(d)).status, NfsStat.STALE, 'the directory itself now a file: NFS3ERR_STALE');
});
