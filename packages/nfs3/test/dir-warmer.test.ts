import t from 'tap';
import { lstatSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '@netboot/platform';
import { DirWarmer } from '../src/dir-warmer.js';
import { LocalFs, LocalShared, WARM_DIR_MAX } from '../src/local-fs.js';
import { NativeIo } from '../src/native-io.js';

/** A warmer whose reads are recorded and finished by the test. */
function recorded(w: DirWarmer) {
  const started: string[] = [];
  const running = new Map<string, () => void>();
  const add = (names: string[], inos = names.map((_, i) => BigInt(names[i]!.length * 1000 + i))) =>
    w.add(inos, (i, done) => {
      started.push(names[i]!);
      running.set(names[i]!, done);
    });
  const finish = (name: string) => {
    const done = running.get(name)!;
    running.delete(name);
    done();
  };
  return { started, running, add, finish };
}

t.test('the first listed starts first, a newer listing before older waiting ones, at most maxRunning at once', async (t) => {
  const w = new DirWarmer(2, 100);
  const r = recorded(w);
  r.add(['a', 'b', 'c', 'd']);
  t.same(r.started, ['a', 'b'], 'two running, in listing order');
  r.add(['a/x', 'a/y'], [901n, 902n]);
  t.equal(w.pending, 6);
  r.finish('a');
  t.same(r.started, ['a', 'b', 'a/x'], "a's subdirectory before c: a depth-first walk needs it first");
  r.finish('b');
  r.finish('a/x');
  t.same(r.started, ['a', 'b', 'a/x', 'a/y', 'c']);
  r.finish('a/y');
  r.finish('c');
  r.finish('d');
  t.equal(w.pending, 0, 'nothing left');
});

t.test('bounded: the oldest waiting are dropped, an inode is warmed once, stop() starts nothing more', async (t) => {
  const w = new DirWarmer(1, 3);
  const r = recorded(w);
  r.add(['a', 'b', 'c', 'd', 'e'], [1n, 2n, 3n, 4n, 5n]);
  t.same(r.started, ['a']);
  t.equal(w.pending, 4, 'one running, three waiting of four');
  r.add(['again'], [1n]);
  t.equal(w.pending, 4, 'an inode already warmed is not queued again');
  r.finish('a');
  r.finish('b');
  r.finish('c');
  t.same(r.started, ['a', 'b', 'c', 'd'], 'e, the oldest waiting, was dropped');
  r.add(['f', 'g'], [6n, 7n]);
  w.stop();
  r.finish('d');
  t.same(r.started, ['a', 'b', 'c', 'd'], 'nothing starts after stop()');
  r.add(['h'], [8n]);
  t.equal(w.pending, 0);
});

t.test('a read that finishes at once lets the next start', async (t) => {
  const w = new DirWarmer(1, 10);
  const seen: number[] = [];
  w.add([1n, 2n, 3n], (i, done) => {
    seen.push(i);
    done();
  });
  t.same(seen, [0, 1, 2]);
  t.equal(w.pending, 0);
});

const skip = native ? false : 'needs the platform module';

/** Descriptors this process has open. */
const fds = () => readdirSync('/proc/self/fd').length;

t.test('READDIRPLUS reads the subdirectories of a tree it has not seen ahead, beneath the root, never through a symlink', { skip }, async (t) => {
  const n = native!;
  const top = await mkdtemp(join(tmpdir(), 'nfs3-warm-'));
  t.teardown(() => rm(top, { recursive: true, force: true }));
  const dir = join(top, 'export');
  const outside = join(top, 'outside');
  mkdirSync(join(dir, 'tree', 'a', 'deeper'), { recursive: true });
  mkdirSync(join(dir, 'tree', 'b'));
  // A directory larger than WARM_DIR_MAX is not read ahead (its names would all come back to the serving thread).
  const large = join(dir, 'tree', 'large');
  mkdirSync(large);
  for (let i = 0; i < 20_000 && lstatSync(large).size <= WARM_DIR_MAX; i++) writeFileSync(join(large, `${i}-${'n'.repeat(200)}`), '');
  t.ok(lstatSync(large).size > WARM_DIR_MAX, 'a directory larger than the read-ahead limit');
  writeFileSync(join(dir, 'tree', 'f'), 'x');
  mkdirSync(outside);
  symlinkSync(outside, join(dir, 'tree', 'link'));

  const io = new NativeIo(n, dir);
  const warmed: string[] = [];
  const finished: Promise<void>[] = [];
  const real = io.warmDir.bind(io);
  io.warmDir = (rel, done) => {
    warmed.push(rel);
    finished.push(new Promise((resolve) => real(rel, () => (done(), resolve()))));
  };
  const shared = new LocalShared(1000);
  const fs = LocalFs.open(1, dir, io, shared);
  t.teardown(() => (shared.close(), fs.close()));
  const before = fds();

  const tree = await fs.lookup(await fs.root(), Buffer.from('tree'));
  const listed = await fs.lookupNames!(tree, ['a', 'b', 'f', 'link', 'large']);
  t.same(listed.map((o) => o?.fileid !== undefined), [true, true, true, true, true], 'every entry answered');
  t.same(warmed.sort(), ['tree/a', 'tree/b'], 'its subdirectories, not the file, the symlink to a directory outside or the large directory');
  await Promise.all(finished);
  t.equal(fds(), before, 'every descriptor a read opened is closed');

  await fs.lookupNames!(tree, ['a', 'b']);
  t.equal(warmed.length, 2, 'names the cache holds start no read');

  // A subdirectory swapped for a symlink after its listing: its open refuses the symlink (O_NOFOLLOW with
  // O_DIRECTORY: ENOTDIR), nothing is read through it, and the read still finishes.
  const realOpen = n.openat2;
  t.teardown(() => Object.assign(n, { openat2: realOpen }));
  const refused: string[] = [];
  Object.assign(n, {
    openat2: (...args: Parameters<typeof realOpen>) => {
      try {
        return realOpen(...args);
      } catch (e) {
        refused.push((e as NodeJS.ErrnoException).code ?? '');
        throw e;
      }
    },
  });
  await new Promise<void>((resolve) => real('tree/link', resolve));
  t.same(refused, ['ENOTDIR'], 'the symlink is not followed');
  t.equal(fds(), before, 'a refused read leaves no descriptor');
});
