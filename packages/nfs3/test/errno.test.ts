import t from 'tap';
import { NfsError, NfsStat, statusOf } from '@netboot/nfs3';

t.test('errno to NFS status', async (t) => {
  const e = (code: string) => Object.assign(new Error(code), { code });
  const table: [string, number][] = [
    ['ENOENT', NfsStat.NOENT],
    ['EEXIST', NfsStat.EXIST],
    ['ENOTDIR', NfsStat.NOTDIR],
    ['EISDIR', NfsStat.ISDIR],
    ['ENOTEMPTY', NfsStat.NOTEMPTY],
    ['EACCES', NfsStat.ACCES],
    ['EPERM', NfsStat.PERM],
    ['EROFS', NfsStat.ROFS],
    ['ENAMETOOLONG', NfsStat.NAMETOOLONG],
    ['EINVAL', NfsStat.INVAL],
    ['ENOSPC', NfsStat.NOSPC],
    ['EFBIG', NfsStat.FBIG],
    ['EDQUOT', NfsStat.DQUOT],
    ['EXDEV', NfsStat.XDEV],
    ['ENOTSUP', NfsStat.NOTSUPP],
    ['EOPNOTSUPP', NfsStat.NOTSUPP],
    ['ESTALE', NfsStat.STALE],
    ['ELOOP', NfsStat.INVAL],
    ['EBADF', NfsStat.SERVERFAULT],
  ];
  for (const [code, status] of table) t.equal(statusOf(e(code)), status, code);
  t.equal(statusOf(new TypeError('bug')), NfsStat.SERVERFAULT, 'anything unexpected is SERVERFAULT');
  t.equal(statusOf(new NfsError(NfsStat.BAD_COOKIE)), NfsStat.BAD_COOKIE);
});
