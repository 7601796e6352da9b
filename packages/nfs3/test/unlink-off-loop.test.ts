import t from 'tap';
import { readdirSync, readlinkSync, writeFileSync, linkSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '@netboot/platform';
import { harness, ok } from './harness.js';

/*
 * REMOVE, or RENAME over, the last name of a regular file: the server holds
 * the file's inode open across unlinkat/renameat2, so the call (on the event
 * loop) only removes a name, and lets go of it in the thread pool, where the
 * file system frees the blocks. Seen from inside: during the call a
 * descriptor of this process still names the file; after the reply none
 * names it.
 */
const descriptorsOf = (path: string) =>
  readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).replace(/ \(deleted\)$/, '') === path;
    } catch {
      return false;
    }
  });

t.test('the last name of a file is dropped with its inode held, and let go after', { skip: native ? false : 'the platform module is not built' }, async (t) => {
  const n = native!;
  const h = await harness(t);
  writeFileSync(join(h.dir, 'big'), Buffer.alloc(1 << 20, 1));
  writeFileSync(join(h.dir, 'over'), 'x');
  writeFileSync(join(h.dir, 'target'), Buffer.alloc(1 << 20, 2));
  writeFileSync(join(h.dir, 'shared'), 'two names');
  linkSync(join(h.dir, 'shared'), join(h.dir, 'shared2'));
  const c = await h.client();

  const seen: Record<string, number> = {};
  const unlinkat = n.unlinkat;
  const renameat2 = n.renameat2;
  t.teardown(() => Object.assign(n, { unlinkat, renameat2 }));
  Object.assign(n, {
    unlinkat: (...a: Parameters<typeof unlinkat>) => {
      const name = Buffer.from(a[1]).toString();
      seen[name] = descriptorsOf(join(h.dir, name)).length;
      return unlinkat(...a);
    },
    renameat2: (...a: Parameters<typeof renameat2>) => {
      const name = Buffer.from(a[3]).toString();
      seen[`over ${name}`] = descriptorsOf(join(h.dir, name)).length;
      return renameat2(...a);
    },
  });

  ok(t, await c.remove(h.root, 'big'), 'REMOVE big');
  t.ok(seen.big! >= 1, 'during unlinkat the server held the file open');
  t.same(descriptorsOf(join(h.dir, 'big')), [], 'and let go of it after');
  ok(t, await c.rename(h.root, 'over', h.root, 'target'), 'RENAME over target');
  t.ok(seen['over target']! >= 1, 'during renameat2 the server held the replaced file open');
  t.same(descriptorsOf(join(h.dir, 'target')), [], 'and let go of it after');
  ok(t, await c.remove(h.root, 'shared'), 'REMOVE of a name with another link');
  t.same(descriptorsOf(join(h.dir, 'shared2')), [], 'nothing left open');
});
