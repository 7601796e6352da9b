import { closeSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import t from 'tap';
import { STATX_SLOT, STATX_SLOTS } from '@netboot/platform';
import { expectErrno, requireNative } from './require-native.js';
import { evictableDir } from '../../../test/support/evictable-dir.js';

const n = requireNative(t);
if (n) {
  const c = n.constants;
  const root = mkdtempSync(join(tmpdir(), 'platform-fs-'));
  const outside = mkdtempSync(join(tmpdir(), 'platform-outside-'));
  writeFileSync(join(outside, 'secret'), 'outside');
  mkdirSync(join(root, 'export'));
  mkdirSync(join(root, 'export', 'sub'));
  writeFileSync(join(root, 'export', 'sub', 'file'), 'inside');
  symlinkSync(outside, join(root, 'export', 'out-abs'));
  symlinkSync('../..', join(root, 'export', 'sub', 'up'));
  symlinkSync('file', join(root, 'export', 'sub', 'same-dir'));
  const exportFd = openSync(join(root, 'export'), c.O_RDONLY | c.O_DIRECTORY);
  t.teardown(() => {
    closeSync(exportFd);
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });
  const beneath = c.RESOLVE_BENEATH | c.RESOLVE_NO_MAGICLINKS;

  for (const [label, open] of [
    ['openat2', n.openat2],
    ['the component walk', n.openBeneathWalk],
  ] as const) {
    t.test(`${label}: opens beneath the directory fd, refuses every way out`, async (t) => {
      const fd = open(exportFd, 'sub/file', c.O_RDONLY, 0, beneath);
      t.equal(readFileSync(fd, 'utf8'), 'inside');
      closeSync(fd);
      expectErrno(t, () => open(exportFd, '../x', c.O_RDONLY, 0, beneath), 'EXDEV', 'openat2', '.. out is refused');
      expectErrno(t, () => open(exportFd, 'sub/../../x', c.O_RDONLY, 0, beneath), 'EXDEV', 'openat2', 'a deeper .. out is refused');
      expectErrno(t, () => open(exportFd, join(outside, 'secret'), c.O_RDONLY, 0, beneath), 'EXDEV', 'openat2', 'an absolute path is refused');
      // A symlink to an absolute path, and one climbing with '..': neither leads out.
      t.throws(() => open(exportFd, 'out-abs/secret', c.O_RDONLY, 0, beneath), { code: /^(EXDEV|ELOOP)$/ });
      t.throws(() => open(exportFd, 'sub/up/x', c.O_RDONLY, 0, beneath), { code: /^(EXDEV|ELOOP)$/ });
      expectErrno(t, () => open(exportFd, 'sub/same-dir', c.O_RDONLY, 0, beneath | c.RESOLVE_NO_SYMLINKS), 'ELOOP', 'openat2', 'no symlinks at all with RESOLVE_NO_SYMLINKS');
      expectErrno(t, () => open(exportFd, 'sub/missing', c.O_RDONLY, 0, beneath), 'ENOENT', 'openat2');
      expectErrno(t, () => open(exportFd, '', c.O_RDONLY, 0, beneath), 'ENOENT', 'openat2', 'an empty path names nothing');
      const created = open(exportFd, 'sub/created', c.O_CREAT | c.O_EXCL | c.O_WRONLY, 0o640, beneath);
      closeSync(created);
      t.equal(statSync(join(root, 'export', 'sub', 'created')).mode & 0o777, 0o640 & ~process.umask());
      expectErrno(t, () => open(exportFd, 'sub/created', c.O_CREAT | c.O_EXCL | c.O_WRONLY, 0o640, beneath), 'EEXIST', 'openat2');
      n.unlinkat(exportFd, 'sub/created', 0);
      // O_PATH|O_NOFOLLOW names the symlink itself.
      const link = open(exportFd, 'out-abs', c.O_PATH | c.O_NOFOLLOW, 0, beneath | c.RESOLVE_NO_SYMLINKS);
      t.equal(n.fstat(link).mode & c.S_IFMT, c.S_IFLNK);
      closeSync(link);
    });
  }

  t.test('names as Buffers keep non-UTF-8 bytes', async (t) => {
    const name = Buffer.from([0x66, 0xff, 0xfe, 0x80, 0x2e, 0x62]);
    const dir = n.openat2(exportFd, 'sub', c.O_RDONLY | c.O_DIRECTORY, 0, beneath);
    t.teardown(() => closeSync(dir));
    const fd = n.openat2(dir, name, c.O_CREAT | c.O_WRONLY, 0o600, beneath);
    closeSync(fd);
    const names = n.readdir(dir, 100).map(([nm]) => nm.toString('hex'));
    t.ok(names.includes(name.toString('hex')), 'readdir gives the same bytes back');
    t.equal(n.fstatat(dir, name, 0).mode & c.S_IFMT, c.S_IFREG);
    n.symlinkat(name, dir, Buffer.from([0x6c, 0xc3, 0x28]));
    t.same(n.readlinkat(dir, Buffer.from([0x6c, 0xc3, 0x28])), name, 'symlink target bytes as given');
    n.unlinkat(dir, Buffer.from([0x6c, 0xc3, 0x28]), 0);
    n.unlinkat(dir, name, 0);
    expectErrno(t, () => n.fstatat(dir, name, 0), 'ENOENT', 'fstatat');
  });

  t.test('statxInto: the attributes lstat gives, birth time included, into a caller array', async (t) => {
    const out = new BigInt64Array(STATX_SLOTS);
    const u = new BigUint64Array(out.buffer);
    const S = STATX_SLOT;
    const ref = statSync(join(root, 'export', 'sub', 'file'), { bigint: true });
    t.equal(n.statxInto(exportFd, 'sub/file', c.AT_SYMLINK_NOFOLLOW, out), true);
    t.equal(u[S.ino], ref.ino);
    t.equal(u[S.dev], ref.dev);
    t.equal(Number(out[S.mode]), Number(ref.mode));
    t.equal(out[S.nlink], ref.nlink);
    t.equal(out[S.uid], ref.uid);
    t.equal(out[S.gid], ref.gid);
    t.equal(out[S.size], ref.size);
    t.equal(out[S.blocks], ref.blocks);
    t.equal(out[S.atimeNs], ref.atimeNs);
    t.equal(out[S.mtimeNs], ref.mtimeNs);
    t.equal(out[S.ctimeNs], ref.ctimeNs);
    t.equal(out[S.birthtimeNs], ref.birthtimeNs, 'birth time as Node reads it (0 where the file system keeps none)');
    t.equal(n.statxInto(exportFd, 'out-abs', c.AT_SYMLINK_NOFOLLOW, out), true);
    t.equal(Number(out[S.mode]) & c.S_IFMT, c.S_IFLNK, 'a symlink itself, not what it points to');
    const dir = n.openat2(exportFd, 'sub', c.O_PATH | c.O_DIRECTORY, 0, beneath);
    t.teardown(() => closeSync(dir));
    t.equal(n.statxInto(dir, 'file', c.AT_SYMLINK_NOFOLLOW, u), true, 'a name beneath an O_PATH directory fd, into a BigUint64Array');
    t.equal(u[S.ino], ref.ino);
    t.equal(n.statxInto(dir, '', c.AT_EMPTY_PATH | c.AT_SYMLINK_NOFOLLOW, out), true);
    t.equal(u[S.ino], statSync(join(root, 'export', 'sub'), { bigint: true }).ino, "'' with AT_EMPTY_PATH: the fd itself");
    t.equal(n.statxInto(dir, 'nope', c.AT_SYMLINK_NOFOLLOW, out), false, 'no such name: false, not an Error');
    expectErrno(t, () => n.statxInto(dir, 'file/x', c.AT_SYMLINK_NOFOLLOW, out), 'ENOTDIR', 'statx');
    expectErrno(t, () => n.statxInto(1 << 30, 'file', 0, out), 'EBADF', 'statx');
    t.throws(() => n.statxInto(dir, 'file', 0, new Float64Array(13) as never), { code: 'ERR_INVALID_ARG_TYPE' });
    t.throws(() => n.statxInto(dir, 'file', 0, new BigInt64Array(12)), { code: 'ERR_OUT_OF_RANGE' }, 'too short for every slot');
    t.throws(() => n.statxInto(dir, 'file', 0x40000000, out), { code: 'ERR_OUT_OF_RANGE' }, 'flags other than the known ones');
  });

  t.test('fstatat, fstat, fchownat, fchmod, fchmodat', async (t) => {
    const st = n.fstatat(exportFd, 'sub/file', c.AT_SYMLINK_NOFOLLOW);
    const ref = statSync(join(root, 'export', 'sub', 'file'), { bigint: true });
    t.equal(st.ino, ref.ino);
    t.equal(st.size, 6n);
    t.equal(st.mtimeNs, ref.mtimeNs);
    t.equal(n.fstatat(exportFd, 'out-abs', c.AT_SYMLINK_NOFOLLOW).mode & c.S_IFMT, c.S_IFLNK);
    const fd = n.openat2(exportFd, 'sub/file', c.O_RDWR, 0, beneath);
    t.teardown(() => closeSync(fd));
    t.equal(n.fstatat(fd, '', c.AT_EMPTY_PATH).ino, ref.ino, 'AT_EMPTY_PATH stats the fd');
    n.fchmod(fd, 0o604);
    t.equal(n.fstat(fd).mode & 0o7777, 0o604);
    n.fchmodat(exportFd, 'sub/file', 0o640, 0);
    t.equal(n.fstat(fd).mode & 0o7777, 0o640);
    n.fchownat(exportFd, 'sub/file', -1, -1, 0);
    if (process.getuid?.() === 0) {
      n.fchownat(fd, '', 1234, 5678, c.AT_EMPTY_PATH);
      t.equal(n.fstat(fd).uid, 1234);
      t.equal(n.fstat(fd).gid, 5678);
      n.fchownat(exportFd, 'sub/file', -1, 42, 0);
      t.equal(n.fstat(fd).uid, 1234, 'uid -1 leaves the owner');
      t.equal(n.fstat(fd).gid, 42);
    }
    expectErrno(t, () => n.fchmodat(exportFd, 'nope', 0o600, 0), 'ENOENT', 'fchmodat');
    expectErrno(t, () => n.fchownat(exportFd, 'nope', 0, 0, 0), 'ENOENT', 'fchownat');
    expectErrno(t, () => n.fstat(1 << 30), 'EBADF', 'fstat');
    expectErrno(t, () => n.fchmod(-1, 0o600), 'EBADF', 'fchmod');
  });

  t.test('utimensat: exact to the nanosecond, UTIME_OMIT and UTIME_NOW', async (t) => {
    n.utimensat(exportFd, 'sub/file', 1_000_000_001, 123_456_789, 2_000_000_002, 987_654_321, 0);
    let st = n.fstatat(exportFd, 'sub/file', 0);
    t.equal(st.atimeNs, 1_000_000_001_123_456_789n);
    t.equal(st.mtimeNs, 2_000_000_002_987_654_321n);
    n.utimensat(exportFd, 'sub/file', 0, c.UTIME_OMIT, 3, 1, 0);
    st = n.fstatat(exportFd, 'sub/file', 0);
    t.equal(st.atimeNs, 1_000_000_001_123_456_789n, 'UTIME_OMIT leaves atime');
    t.equal(st.mtimeNs, 3_000_000_001n);
    const before = BigInt(Date.now() - 5000) * 1_000_000n;
    n.utimensat(exportFd, 'sub/file', 0, c.UTIME_NOW, 0, c.UTIME_OMIT, 0);
    t.ok(n.fstatat(exportFd, 'sub/file', 0).atimeNs > before, 'UTIME_NOW sets atime to now');
    // On a symlink itself, and through an O_PATH fd with AT_EMPTY_PATH.
    n.utimensat(exportFd, 'out-abs', 7, 7, 8, 8, c.AT_SYMLINK_NOFOLLOW);
    t.equal(n.fstatat(exportFd, 'out-abs', c.AT_SYMLINK_NOFOLLOW).mtimeNs, 8_000_000_008n);
    t.not(statSync(outside, { bigint: true }).mtimeNs, 8_000_000_008n, 'the target outside is untouched');
    const pathFd = n.openat2(exportFd, 'sub/file', c.O_PATH, 0, beneath);
    t.teardown(() => closeSync(pathFd));
    n.utimensat(pathFd, '', 9, 999_999_999, 10, 1, c.AT_EMPTY_PATH);
    t.equal(n.fstat(pathFd).mtimeNs, 10_000_000_001n, 'AT_EMPTY_PATH on an O_PATH fd');
    t.equal(n.fstat(pathFd).atimeNs, 9_999_999_999n);
    t.throws(() => n.utimensat(exportFd, 'sub/file', 0, 1_000_000_000, 0, 0, 0), { code: 'ERR_OUT_OF_RANGE' });
    expectErrno(t, () => n.utimensat(exportFd, 'nope', 0, 0, 0, 0, 0), 'ENOENT', 'utimensat');
  });

  t.test('mkdirat, mknodat, mkfifoat, linkat, symlinkat, readlinkat, renameat2, unlinkat', async (t) => {
    n.mkdirat(exportFd, 'd', 0o750);
    t.equal(n.fstatat(exportFd, 'd', 0).mode & c.S_IFMT, c.S_IFDIR);
    expectErrno(t, () => n.mkdirat(exportFd, 'd', 0o750), 'EEXIST', 'mkdirat');
    n.mkfifoat(exportFd, 'd/fifo', 0o600);
    t.equal(n.fstatat(exportFd, 'd/fifo', 0).mode & c.S_IFMT, c.S_IFIFO);
    n.mknodat(exportFd, 'd/fifo2', c.S_IFIFO | 0o600, 0, 0);
    t.equal(n.fstatat(exportFd, 'd/fifo2', 0).mode & c.S_IFMT, c.S_IFIFO);
    n.mknodat(exportFd, 'd/sock', c.S_IFSOCK | 0o600, 0, 0);
    t.equal(n.fstatat(exportFd, 'd/sock', 0).mode & c.S_IFMT, c.S_IFSOCK);
    if (process.getuid?.() === 0) {
      n.mknodat(exportFd, 'd/chr', c.S_IFCHR | 0o600, 1, 3);
      const chr = n.fstatat(exportFd, 'd/chr', 0);
      t.equal(chr.mode & c.S_IFMT, c.S_IFCHR);
      t.equal(chr.rdev, statSync('/dev/null', { bigint: true }).rdev, 'char 1,3 is /dev/null');
      n.mknodat(exportFd, 'd/blk', c.S_IFBLK | 0o600, 259, 70000);
      const blk = n.fstatat(exportFd, 'd/blk', 0);
      t.equal(blk.mode & c.S_IFMT, c.S_IFBLK);
      t.equal(blk.rdev, (259n << 8n) | (70000n & 0xffn) | ((70000n & ~0xffn) << 12n), 'major 259 minor 70000');
    }
    expectErrno(t, () => n.mknodat(exportFd, 'd/fifo', c.S_IFIFO | 0o600, 0, 0), 'EEXIST', 'mknodat');
    n.linkat(exportFd, 'sub/file', exportFd, 'd/hard', 0);
    t.equal(n.fstatat(exportFd, 'd/hard', 0).nlink, 2);
    expectErrno(t, () => n.linkat(exportFd, 'nope', exportFd, 'd/x', 0), 'ENOENT', 'linkat');
    n.symlinkat('../sub/file', exportFd, 'd/soft');
    t.equal(n.readlinkat(exportFd, 'd/soft').toString(), '../sub/file');
    expectErrno(t, () => n.readlinkat(exportFd, 'd/hard'), 'EINVAL', 'readlinkat');
    expectErrno(t, () => n.symlinkat('x', exportFd, 'd/soft'), 'EEXIST', 'symlinkat');
    n.renameat2(exportFd, 'd/hard', exportFd, 'd/moved', 0);
    expectErrno(t, () => n.renameat2(exportFd, 'd/moved', exportFd, 'd/soft', c.RENAME_NOREPLACE), 'EEXIST', 'renameat2');
    n.renameat2(exportFd, 'd/moved', exportFd, 'd/soft', c.RENAME_EXCHANGE);
    t.equal(n.fstatat(exportFd, 'd/moved', c.AT_SYMLINK_NOFOLLOW).mode & c.S_IFMT, c.S_IFLNK, 'exchanged');
    expectErrno(t, () => n.unlinkat(exportFd, 'd', 0), 'EISDIR', 'unlinkat');
    expectErrno(t, () => n.unlinkat(exportFd, 'd', c.AT_REMOVEDIR), 'ENOTEMPTY', 'unlinkat');
    for (const name of ['fifo', 'fifo2', 'sock', 'soft', 'moved', 'chr', 'blk']) {
      try {
        n.unlinkat(exportFd, `d/${name}`, 0);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    n.unlinkat(exportFd, 'd', c.AT_REMOVEDIR);
    expectErrno(t, () => n.fstatat(exportFd, 'd', 0), 'ENOENT', 'fstatat');
  });

  t.test('readdir: every entry once across calls of `max`, without . and ..', async (t) => {
    n.mkdirat(exportFd, 'many', 0o755);
    const dir = n.openat2(exportFd, 'many', c.O_RDONLY | c.O_DIRECTORY, 0, beneath);
    t.teardown(() => closeSync(dir));
    const want = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const name = `entry-${i}-${'x'.repeat(i % 50)}`;
      want.add(name);
      closeSync(n.openat2(dir, name, c.O_CREAT | c.O_WRONLY, 0o600, beneath));
    }
    const seen: string[] = [];
    let short = 0;
    for (let calls = 0; calls < 1000; calls++) {
      const batch = n.readdir(dir, 7);
      t.ok(batch.length <= 7);
      // Fewer than `max` only at the end: a caller stops there without another call.
      if (batch.length < 7) short++;
      if (batch.length === 0) break;
      for (const [name, ino, type] of batch) {
        seen.push(name.toString());
        t.equal(typeof ino, 'bigint');
        t.equal(type, 8, 'DT_REG');
      }
    }
    t.equal(seen.length, 300, 'no entry lost or repeated');
    t.equal(short, 2, 'a short batch (300 = 42 x 7 + 6) and then the empty one, nothing short before');
    t.same(new Set(seen), want);
    expectErrno(t, () => n.readdir(exportFd + 1000, 10), 'EBADF', 'getdents64');
    const file = n.openat2(exportFd, 'sub/file', c.O_RDONLY, 0, beneath);
    expectErrno(t, () => n.readdir(file, 10), 'ENOTDIR', 'getdents64');
    closeSync(file);
  });

  t.test('readdirNames: the names as Latin-1 strings, every one once across calls of `max`', async (t) => {
    n.mkdirat(exportFd, 'named', 0o755);
    const dir = n.openat2(exportFd, 'named', c.O_RDONLY | c.O_DIRECTORY, 0, beneath);
    t.teardown(() => closeSync(dir));
    const want = new Set<string>();
    for (let i = 0; i < 100; i++) {
      // Bytes that are not UTF-8 come back one character a byte.
      const name = Buffer.concat([Buffer.from(`n-${i}-`), Buffer.from([0xe9, 0xff, 0x80])]);
      want.add(name.toString('latin1'));
      closeSync(n.openat2(dir, name, c.O_CREAT | c.O_WRONLY, 0o600, beneath));
    }
    const seen: string[] = [];
    for (let calls = 0; calls < 100; calls++) {
      const batch = n.readdirNames(dir, 9);
      t.ok(batch.length <= 9);
      if (batch.length === 0) break;
      seen.push(...batch);
    }
    t.equal(seen.length, 100, 'no name lost or repeated, no . or ..');
    t.same(new Set(seen), want);
    expectErrno(t, () => n.readdirNames(exportFd + 1000, 10), 'EBADF', 'getdents64');
    t.throws(() => n.readdirNames(dir, 0), { code: 'ERR_OUT_OF_RANGE' });
    const file = n.openat2(exportFd, 'sub/file', c.O_RDONLY, 0, beneath);
    expectErrno(t, () => n.readdirNames(file, 10), 'ENOTDIR', 'getdents64');
    closeSync(file);
  });

  t.test('statxNamesInto: the records statxInto writes, for many names beneath a directory fd in one call', async (t) => {
    const dir = n.openat2(exportFd, 'sub', c.O_PATH | c.O_DIRECTORY, 0, beneath);
    t.teardown(() => closeSync(dir));
    const names = ['x', 'file', 'gone', 'up', 'same-dir'];
    const out = new BigInt64Array(4 * STATX_SLOTS);
    t.equal(n.statxNamesInto(dir, names, 1, 4, out), 3, 'three of the four names exist');
    const one = new BigInt64Array(STATX_SLOTS);
    for (const [k, name] of [[0, 'file'], [2, 'up'], [3, 'same-dir']] as const) {
      n.statxInto(dir, name, c.AT_SYMLINK_NOFOLLOW, one);
      t.same(out.subarray(k * STATX_SLOTS, (k + 1) * STATX_SLOTS), one, `${name}: as statxInto, a symlink not followed`);
    }
    t.ok(out.subarray(STATX_SLOTS, 2 * STATX_SLOTS).every((v) => v === 0n), 'a name that is gone: an all-zero record');
    t.equal(Number(out[3 * STATX_SLOTS + STATX_SLOT.mode]!) & c.S_IFMT, c.S_IFLNK);
    t.equal(n.statxNamesInto(dir, names, 5, 0, out), 0, 'an empty range');
    // Every name is one component that stays in the directory, checked before its statx.
    // U+012F would be '/' (0x2F) if only its low byte were kept.
    for (const bad of ['..', '.', '', 'up/x', '../export', 'a\u0000b', '\u012f'])
      t.throws(() => n.statxNamesInto(dir, [bad], 0, 1, out), { code: 'ERR_INVALID_ARG_VALUE' }, `refuses ${JSON.stringify(bad)}`);
    t.equal(n.statxNamesInto(dir, ['x'.repeat(255)], 0, 1, out), 0, '255 bytes is a name (absent)');
    expectErrno(t, () => n.statxNamesInto(dir, ['x'.repeat(256)], 0, 1, out), 'ENAMETOOLONG', 'statx');
    t.throws(() => n.statxNamesInto(dir, [1 as never], 0, 1, out), { code: 'ERR_INVALID_ARG_TYPE' });
    t.throws(() => n.statxNamesInto(dir, 'file' as never, 0, 1, out), { code: 'ERR_INVALID_ARG_TYPE' });
    t.throws(() => n.statxNamesInto(dir, names, 4, 2, out), { code: 'ERR_OUT_OF_RANGE' }, 'past the end of names');
    t.throws(() => n.statxNamesInto(dir, names, 6, 0, out), { code: 'ERR_OUT_OF_RANGE' }, 'from past the end');
    t.throws(() => n.statxNamesInto(dir, names, 0, 5, out), { code: 'ERR_OUT_OF_RANGE' }, 'out too short for five records');
    t.throws(() => n.statxNamesInto(dir, names, 0, 1, new Float64Array(13) as never), { code: 'ERR_INVALID_ARG_TYPE' });
    expectErrno(t, () => n.statxNamesInto(exportFd + 1000, names, 0, 1, out), 'EBADF', 'statx');
    expectErrno(t, () => n.statxNamesInto(-1, names, 0, 1, out), 'EBADF', 'statx');
    t.throws(() => n.statxNamesInto(c.AT_FDCWD, names, 0, 1, out), 'never the working directory');
  });

  t.test('ftruncate', async (t) => {
    const fd = n.openat2(exportFd, 'sub/file', c.O_RDWR, 0, beneath);
    t.teardown(() => closeSync(fd));
    n.ftruncate(fd, 3n);
    t.equal(n.fstat(fd).size, 3n);
    n.ftruncate(fd, 1 << 20);
    t.equal(n.fstat(fd).size, 1n << 20n);
    t.throws(() => n.ftruncate(fd, -1), { code: 'ERR_OUT_OF_RANGE' });
    const ro = n.openat2(exportFd, 'sub/file', c.O_RDONLY, 0, beneath);
    t.throws(() => n.ftruncate(ro, 0), { code: /^(EINVAL|EBADF)$/, syscall: 'ftruncate' });
    closeSync(ro);
  });

  t.test('preadNowait: cached bytes into the buffer at an offset, 0 at the end, ranges checked', async (t) => {
    const data = Buffer.alloc(100_000);
    for (let i = 0; i < data.length; i++) data[i] = i % 251;
    writeFileSync(join(root, 'export', 'data'), data);
    const fd = n.openat2(exportFd, 'data', c.O_RDONLY, 0, beneath);
    t.teardown(() => closeSync(fd));
    readFileSync(fd); // just written, and read once more: in the page cache
    const buf = Buffer.alloc(70_000, 0xee);
    t.equal(n.preadNowait(fd, buf, 16, 65_536, 1000), 65_536, 'a cached range is read whole');
    t.same(buf.subarray(16, 16 + 65_536), data.subarray(1000, 1000 + 65_536));
    t.equal(buf[15], 0xee, 'nothing written before the offset');
    t.equal(buf[16 + 65_536], 0xee, 'nothing written past the length');
    t.equal(n.preadNowait(fd, buf, 0, 8192, 99_000n), 1000, 'short at the end of the file');
    t.equal(n.preadNowait(fd, buf, 0, 8192, 100_000), 0, '0 at the end');
    t.equal(n.preadNowait(fd, buf, 0, 0, 0), 0, 'an empty range');
    t.throws(() => n.preadNowait(fd, buf, 0, 70_001, 0), { code: 'ERR_OUT_OF_RANGE' }, 'length past the buffer');
    t.throws(() => n.preadNowait(fd, buf, 70_000, 1, 0), { code: 'ERR_OUT_OF_RANGE' }, 'offset + length past the buffer');
    t.throws(() => n.preadNowait(fd, buf, 70_001, 0, 0), { code: 'ERR_OUT_OF_RANGE' }, 'offset past the buffer');
    t.throws(() => n.preadNowait(fd, buf, 0, 1, -1), { code: 'ERR_OUT_OF_RANGE' }, 'negative position');
    t.throws(() => n.preadNowait(fd, buf, 0, 1, 2n ** 63n - 1n), { code: 'ERR_OUT_OF_RANGE' }, 'position + length past off_t');
    t.throws(() => n.preadNowait(fd, new Uint16Array(4) as never, 0, 1, 0), { code: 'ERR_INVALID_ARG_TYPE' });
    // No non-blocking reads on a directory: the caller falls back to a blocking read, which says EISDIR.
    t.throws(() => n.preadNowait(exportFd, buf, 0, 1, 0), { code: /^(ENOTSUP|EOPNOTSUPP|EISDIR)$/, syscall: 'preadv2' });
    expectErrno(t, () => n.preadNowait(fd + 1000, buf, 0, 1, 0), 'EBADF', 'preadv2');
    const wo = n.openat2(exportFd, 'data', c.O_WRONLY, 0, beneath);
    expectErrno(t, () => n.preadNowait(wo, buf, 0, 1, 0), 'EBADF', 'preadv2');
    closeSync(wo);
  });

  t.test('cachedPages and fadvise: a file read is cached, one let go of is not (unless the file system keeps it)', async (t) => {
    const disk = evictableDir('platform-paged-');
    const data = Buffer.alloc(256 * 1024 + 100, 7);
    writeFileSync(join(disk, 'paged'), data);
    const fd = openSync(join(disk, 'paged'), 'r');
    t.teardown(() => {
      closeSync(fd);
      rmSync(disk, { recursive: true, force: true });
    });
    fsyncSync(fd); // clean pages: DONTNEED lets go of those only
    readFileSync(fd);
    const whole = n.cachedPages(fd, 0, data.length);
    t.ok(whole.pages > 1, `the pages the file spans (${whole.pages})`);
    t.equal(whole.cached, whole.pages, 'all of a file just read');
    t.same(n.cachedPages(fd, 0, 2n ** 40n), whole, 'a range past the end is clipped at it');
    t.same(n.cachedPages(fd, data.length, 100), { pages: 0, cached: 0 }, 'nothing at the end');
    t.same(n.cachedPages(fd, 10, 0), { pages: 0, cached: 0 }, 'an empty range');
    t.equal(n.cachedPages(fd, 1, 1).pages, 1, 'one byte is one page');
    n.fadvise(fd, 0, 0, c.POSIX_FADV_DONTNEED);
    t.same(n.cachedPages(fd, 0, data.length), { pages: whole.pages, cached: 0 }, 'let go of');
    n.fadvise(fd, 0, 0, c.POSIX_FADV_WILLNEED);
    n.fadvise(fd, 0, 0, c.POSIX_FADV_SEQUENTIAL);
    t.throws(() => n.fadvise(fd, 0, 0, 99), { code: 'ERR_OUT_OF_RANGE' }, 'advice not a POSIX_FADV_* constant');
    t.throws(() => n.fadvise(fd, -1, 0, c.POSIX_FADV_NORMAL), { code: 'ERR_OUT_OF_RANGE' });
    t.throws(() => n.fadvise(fd, 2n ** 63n - 1n, 2, c.POSIX_FADV_NORMAL), { code: 'ERR_OUT_OF_RANGE' }, 'offset + length past off_t');
    t.throws(() => n.cachedPages(fd, 2n ** 63n - 1n, 2), { code: 'ERR_OUT_OF_RANGE' }, 'offset + length past off_t');
    t.throws(() => n.cachedPages(fd, 0, -1), { code: 'ERR_OUT_OF_RANGE' });
    expectErrno(t, () => n.cachedPages(fd + 1000, 0, 1), 'EBADF', 'fstat');
    expectErrno(t, () => n.fadvise(fd + 1000, 0, 0, c.POSIX_FADV_NORMAL), 'EBADF', 'posix_fadvise');
    expectErrno(t, () => n.cachedPages(exportFd, 0, 1), 'EINVAL', 'fstat', 'a directory is not a regular file');
    const wo = openSync(join(disk, 'paged'), 'a');
    expectErrno(t, () => n.cachedPages(wo, 0, 1), 'EACCES', 'mmap', 'a descriptor that cannot read cannot map');
    closeSync(wo);
  });

  t.test('preadNowait on a worker thread', async (t) => {
    const addon = process.env.NETBOOT_PLATFORM_ADDON;
    writeFileSync(join(root, 'export', 'worker-data'), 'read on a worker');
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { openSync, closeSync, readFileSync } = require('node:fs');
      import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)}).then(({ native: n }) => {
        const fd = openSync(workerData, 'r');
        readFileSync(fd);
        const buf = Buffer.alloc(64);
        const got = n.preadNowait(fd, buf, 2, 62, 0);
        closeSync(fd);
        parentPort.postMessage(buf.subarray(2, 2 + got).toString());
      });`;
    const worker = new Worker(code, {
      eval: true,
      workerData: join(root, 'export', 'worker-data'),
      env: { ...process.env, ...(addon ? { NETBOOT_PLATFORM_ADDON: addon } : {}) },
    });
    t.teardown(() => worker.terminate());
    const [got] = (await once(worker, 'message')) as [string];
    t.equal(got, 'read on a worker');
  });
}
