import t from 'tap';
import { fstatSync, openSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpenFiles } from '../src/open-files.js';
import { until } from '../../../test/support/until.js';

// A descriptor held by holdNow (a READ waiting for the pool) outlives a drop (REMOVE, RENAME) until released,
// as one used through use() does: a read in the pool never meets a closed, or reused, descriptor.

const isOpen = (fd: number) => {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
};

t.test('holdNow keeps a dropped descriptor open until released, then it closes', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nfs3-open-files-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'f'), 'data');
  const files = new OpenFiles();
  t.teardown(() => files.close());
  const fd = await files.use('f', 1n, async () => ({ fd: openSync(join(dir, 'f'), 'r'), writable: false }), async (fd) => fd);
  t.equal(files.holdNow('f', 2n), undefined, 'not for another inode');
  t.equal(files.holdNow('g', 1n), undefined, 'not for a file not open');
  const held = files.holdNow('f', 1n)!;
  t.equal(held.fd, fd, 'the descriptor use() opened');
  await files.drop('f');
  t.ok(isOpen(fd), 'dropped while held: still open');
  t.equal(files.openNow('f', 1n), undefined, 'but no longer handed out');
  held.release();
  await until(() => !isOpen(fd), 'the descriptor to close once released');
  t.pass('closed once released');
});
