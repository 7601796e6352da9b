import t from 'tap';
import { lstatSync } from 'node:fs';
import { native } from '@netboot/platform';
import { NfsStat, StableHow } from '@netboot/nfs3';
import { harness, ok } from './harness.js';

// A server that acts from handles and descriptors has no path limit of its own: a client may go as
// deep as its own PATH_MAX allows below the export, however long the export's own path. Each
// component is checked alone (at most 255 bytes). Portable mode works on whole host paths instead.

const skip = !native && !process.env.CI && 'the platform module did not load (portable mode works on host paths, limited to PATH_MAX)';

t.test('paths beyond PATH_MAX below the export, in 127-byte components', { skip }, async (t) => {
  const h = await harness(t);
  const c = await h.client();
  let dir = h.root;
  let depth = 0;
  const levels: [Buffer, string][] = [];
  // 40 components of 127 bytes plus slashes: 5,120 bytes below the export, over 4096 with or without the prefix.
  for (let i = 0; i < 40; i++) {
    const name = String(i).padStart(3, '0') + 'd'.repeat(124);
    levels.push([dir, name]);
    dir = ok(t, await c.mkdir(dir, name, { mode: 0o755 }), `MKDIR at depth ${i + 1}`).object!;
    depth += name.length + 1;
  }
  t.ok(h.dir.length + depth > 4096, 'the host path is longer than PATH_MAX');
  const f = ok(t, await c.create(dir, 'f')).object!;
  ok(t, await c.write(f, 0n, Buffer.from('deep'), StableHow.FILE_SYNC));
  t.equal(ok(t, await c.read(f, 0n, 10)).data.toString(), 'deep', 'READ back');
  ok(t, await c.setattr(f, { mode: 0o600 }), 'SETATTR');
  t.equal(ok(t, await c.getattr(f)).attributes.mode, 0o600);
  t.ok(ok(t, await c.readdirplus(dir)).entries.some((e) => e.name.toString() === 'f'), 'READDIRPLUS');
  ok(t, await c.symlink(dir, 'l', 'f'));
  ok(t, await c.link(f, dir, 'g'));
  ok(t, await c.rename(dir, 'g', dir, 'h'));
  ok(t, await c.remove(dir, 'h'));
  t.equal((await c.lookup(dir, 'x'.repeat(256))).status, NfsStat.NAMETOOLONG, 'a 256-byte component is NAMETOOLONG');

  // After a restart the inode index is rebuilt by a walk that goes as deep.
  const again = await h.restart();
  const c2 = await again.client();
  t.equal(ok(t, await c2.read(f, 0n, 10)).data.toString(), 'deep', 'the deep handle resolves after a restart');
  // Removed through the server, deepest first: rm -r on the host would meet ENAMETOOLONG.
  ok(t, await c2.remove(dir, 'f'));
  ok(t, await c2.remove(dir, 'l'));
  for (const [parent, name] of levels.reverse()) ok(t, await c2.rmdir(parent, name), 'RMDIR');
  t.same(lstatSync(again.dir).nlink, 2, 'the export is empty again');
});
