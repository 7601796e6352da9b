import t from 'tap';
import { mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '@netboot/platform';
import { LocalFs, LocalShared } from '../src/local-fs.js';
import { NativeIo } from '../src/native-io.js';

/*
 * A READDIRPLUS that reads a directory's names from the disk stats them through the descriptor it read them on,
 * in the same turn, instead of opening the directory a second time; the descriptor is closed at the end of that
 * turn, so a later call opens (and checks) the directory again.
 */
const skip = native ? false : 'needs the platform module';

/** Descriptors this process has open. */
const fds = () => readdirSync('/proc/self/fd').length;
const turnEnds = () => new Promise((resolve) => setImmediate(resolve));

t.test('the listing and its names stat share one open; the descriptor is closed when the turn ends', { skip }, async (t) => {
  const n = native!;
  const top = await mkdtemp(join(tmpdir(), 'nfs3-listed-'));
  t.teardown(() => rm(top, { recursive: true, force: true }));
  mkdirSync(join(top, 'd'));
  for (const name of ['a', 'b', 'c']) writeFileSync(join(top, 'd', name), name);

  const realOpen = n.openat2;
  t.teardown(() => Object.assign(n, { openat2: realOpen }));
  const opened: string[] = [];
  Object.assign(n, {
    openat2: (...args: Parameters<typeof realOpen>) => {
      opened.push(String(args[1]));
      return realOpen(...args);
    },
  });
  const shared = new LocalShared(0); // attributes never cached: every lookupNames stats its names
  const fs = LocalFs.open(1, top, new NativeIo(n, top), shared);
  t.teardown(() => (shared.close(), fs.close()));
  const d = await fs.lookup(await fs.root(), Buffer.from('d'));
  const before = fds();

  opened.length = 0;
  const l = await fs.readdir(d, 0n, Buffer.alloc(8));
  const names = l.names.slice(2).sort();
  const objs = await fs.lookupNames!(d, names);
  t.same(names, ['a', 'b', 'c']);
  t.same(objs.map((o) => o !== undefined), [true, true, true], 'every name stat-ed');
  t.same(opened, ['d'], 'one open of the directory for both');
  await turnEnds();
  t.equal(fds(), before, 'its descriptor is closed once the turn ends');

  // The names stat-ed in a later turn than the listing: the directory is opened again.
  await fs.readdir(d, 0n, Buffer.alloc(8));
  await turnEnds();
  opened.length = 0;
  await fs.lookupNames!(d, names);
  t.same(opened, ['d'], 'opened again in a later turn');
  t.equal(fds(), before);

  // A later turn after the directory moved: the open by its old path fails (the handle's path is gone), where
  // a descriptor kept from the listing would have answered from wherever it went.
  const moved = new LocalShared(0);
  const fs2 = LocalFs.open(2, top, new NativeIo(n, top), moved);
  t.teardown(() => (moved.close(), fs2.close()));
  mkdirSync(join(top, 'e'));
  writeFileSync(join(top, 'e', 'x'), 'x');
  const e = await fs2.lookup(await fs2.root(), Buffer.from('e'));
  const before2 = fds();
  await fs2.readdir(e, 0n, Buffer.alloc(8));
  await turnEnds();
  renameSync(join(top, 'e'), join(top, 'e2'));
  await t.rejects(fs2.lookupNames!(e, ['x']), 'the moved directory is not reached through a descriptor kept past its turn');
  t.equal(fds(), before2);
});
