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

// Recency is a second chance (CLOCK): past the bound, the oldest idle descriptor not used since eviction last passed it closes.
t.test('past its bound it closes the oldest idle descriptor not used since, never one in use', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nfs3-open-files-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const files = new OpenFiles(3);
  t.teardown(() => files.close());
  const open = async (name: string, ino: bigint) => {
    writeFileSync(join(dir, name), name);
    return files.use(name, ino, async () => ({ fd: openSync(join(dir, name), 'r'), writable: false }), async (fd) => fd);
  };
  const a = await open('a', 1n);
  const b = await open('b', 2n);
  const c = await open('c', 3n);
  t.equal(files.openNow('a', 1n), a, 'a used again: now the most recent');
  const held = files.holdNow('b', 2n)!;
  await open('d', 4n);
  t.equal(files.openNow('c', 3n), undefined, 'c, the oldest one not used since, is no longer handed out');
  await until(() => !isOpen(c), 'c to close');
  t.ok(isOpen(a) && isOpen(b), 'a (used since) and b (held) stay open');
  t.equal(files.openNow('a', 1n), a, 'a still handed out');
  held.release();
  await open('e', 5n);
  await open('f', 6n);
  const handedOut = ['a', 'b', 'd', 'e', 'f'].filter((k, i) => files.openNow(k, BigInt(i < 2 ? i + 1 : i + 2)) !== undefined);
  t.equal(handedOut.length, 3, `never more than the bound kept once none is in use (${handedOut})`);
  t.ok(handedOut.includes('a') && handedOut.includes('f'), 'the one used again and the newest one kept');
});

// The descriptor use() opens is its caller's until fn ends, even when opening it took the set past its bound
// with every other entry used since eviction last passed: a WRITE in the pool must never meet it closed, or
// reused by another open.
t.test('use() never closes the descriptor it opened for its own call, however full the set is', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nfs3-open-files-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const files = new OpenFiles(2);
  t.teardown(() => files.close());
  const opener = (name: string) => async () => {
    writeFileSync(join(dir, name), name);
    return { fd: openSync(join(dir, name), 'r'), writable: false };
  };
  await files.use('a', 1n, opener('a'), async (fd) => fd);
  await files.use('b', 2n, opener('b'), async (fd) => fd);
  // Both used again: each gets a second chance, so eviction walks past them to the newest entry.
  t.ok(files.openNow('a', 1n) !== undefined && files.openNow('b', 2n) !== undefined, 'a and b used again');
  const stillOpen = await files.use('c', 3n, opener('c'), async (fd) => {
    // Long enough for a close the eviction started to have run (it waits on the open, then fs.close).
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    return isOpen(fd);
  });
  t.ok(stillOpen, 'c stayed open through its own call');
});
