import { closeSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { expectErrno, requireNative } from './require-native.js';

const n = requireNative(t);
if (n) {
  const c = n.constants;
  const dir = mkdtempSync(join(tmpdir(), 'platform-xattr-'));
  const file = join(dir, 'file');
  writeFileSync(file, 'x');
  symlinkSync('file', join(dir, 'link'));
  const fd = openSync(file, 'r+');
  t.teardown(() => {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  });
  const names = (list: Buffer[]) => list.map((b) => b.toString('latin1')).sort();

  t.test('lsetxattr, lgetxattr, llistxattr: exact bytes, the name itself', async (t) => {
    const value = Buffer.from([0, 1, 0xff, 0x80, 0]);
    n.lsetxattr(file, 'user.bytes', value, 0);
    t.same(n.lgetxattr(file, 'user.bytes'), value, 'NUL and high bytes kept');
    n.lsetxattr(file, 'user.empty', Buffer.alloc(0), 0);
    t.equal(n.lgetxattr(file, 'user.empty').length, 0, 'an empty value');
    t.same(names(n.llistxattr(file)), ['user.bytes', 'user.empty']);
    expectErrno(t, () => n.lsetxattr(file, 'user.bytes', value, c.XATTR_CREATE), 'EEXIST', 'lsetxattr', 'XATTR_CREATE on a present name');
    expectErrno(t, () => n.lsetxattr(file, 'user.absent', value, c.XATTR_REPLACE), 'ENODATA', 'lsetxattr', 'XATTR_REPLACE on an absent name');
    expectErrno(t, () => n.lgetxattr(file, 'user.absent'), 'ENODATA', 'lgetxattr');
    // The symlink itself, not its target: user.* is not allowed on a symlink, trusted.* is (root).
    t.same(names(n.llistxattr(join(dir, 'link'))), [], 'the link has none of its target\'s');
    if (process.getuid?.() === 0) {
      n.lsetxattr(join(dir, 'link'), 'trusted.on-link', Buffer.from('l'), 0);
      t.same(names(n.llistxattr(join(dir, 'link'))), ['trusted.on-link']);
      t.notOk(names(n.llistxattr(file)).includes('trusted.on-link'), 'the target is untouched');
    }
    expectErrno(t, () => n.llistxattr(join(dir, 'absent')), 'ENOENT', 'llistxattr');
  });

  t.test('fsetxattr, fgetxattr, flistxattr on an open fd; O_PATH fds refused', async (t) => {
    n.fsetxattr(fd, 'user.by-fd', Buffer.from('v'), 0);
    t.equal(n.fgetxattr(fd, 'user.by-fd').toString(), 'v');
    t.ok(names(n.flistxattr(fd)).includes('user.by-fd'));
    const pathFd = n.openat2(c.AT_FDCWD, file, c.O_PATH, 0, 0);
    try {
      expectErrno(t, () => n.fgetxattr(pathFd, 'user.by-fd'), 'EBADF', 'fgetxattr');
    } finally {
      closeSync(pathFd);
    }
  });

  t.test('lengths are checked before the kernel sees them', async (t) => {
    expectErrno(t, () => n.lsetxattr(file, '', Buffer.from('v'), 0), 'ERANGE', 'lsetxattr', 'an empty name');
    expectErrno(t, () => n.lsetxattr(file, `user.${'n'.repeat(251)}`, Buffer.from('v'), 0), 'ERANGE', 'lsetxattr', 'a name of 256 bytes');
    n.lsetxattr(file, `user.${'n'.repeat(250)}`, Buffer.from('v'), 0);
    t.pass('a name of 255 bytes');
    expectErrno(t, () => n.fsetxattr(fd, 'user.big', Buffer.alloc(65537), 0), 'E2BIG', 'fsetxattr', 'a value over 64 KiB');
    expectErrno(t, () => n.fgetxattr(fd, 'x'.repeat(256)), 'ERANGE', 'fgetxattr');
    t.throws(() => n.lsetxattr(file, 'user.v', 'text' as unknown as Buffer, 0), { code: 'ERR_INVALID_ARG_TYPE' }, 'a value must be bytes');
    t.throws(() => n.lsetxattr(file, 'user.v', Buffer.from('v'), 8), { code: 'ERR_OUT_OF_RANGE' }, 'unknown flags');
    expectErrno(t, () => n.fsetxattr(-1, 'user.v', Buffer.from('v'), 0), 'EBADF', 'fsetxattr');
  });
}
