import { NfsStat, type NfsErrorStatus } from './nfs3-constants.js';

const byCode: Record<string, NfsErrorStatus> = {
  EPERM: NfsStat.PERM,
  ENOENT: NfsStat.NOENT,
  EIO: NfsStat.IO,
  ENXIO: NfsStat.NXIO,
  EACCES: NfsStat.ACCES,
  EEXIST: NfsStat.EXIST,
  EXDEV: NfsStat.XDEV,
  ENODEV: NfsStat.NODEV,
  ENOTDIR: NfsStat.NOTDIR,
  EISDIR: NfsStat.ISDIR,
  EINVAL: NfsStat.INVAL,
  EFBIG: NfsStat.FBIG,
  ENOSPC: NfsStat.NOSPC,
  EROFS: NfsStat.ROFS,
  EMLINK: NfsStat.MLINK,
  ENAMETOOLONG: NfsStat.NAMETOOLONG,
  ENOTEMPTY: NfsStat.NOTEMPTY,
  EDQUOT: NfsStat.DQUOT,
  ESTALE: NfsStat.STALE,
  ENOTSUP: NfsStat.NOTSUPP,
  EOPNOTSUPP: NfsStat.NOTSUPP,
  // Opening a symlink's handle as a file (READ, WRITE): knfsd's nfsd_mode_check answers nfserr_symlink for a
  // symlink where a regular file is wanted, which NFSv3 maps to INVAL. A symlink on a handle's path is STALE
  // (NativeIo.at).
  ELOOP: NfsStat.INVAL,
};

/** A status the server answers with directly, thrown through the backend. */
export class NfsError extends Error {
  override name = 'NfsError';
  constructor(
    readonly status: NfsErrorStatus,
    detail?: string,
    /** Fields of the procedure's resfail arm known at the point of failure (attributes, wcc data). */
    readonly body?: object,
  ) {
    super(detail ?? `NFS3ERR ${status}`);
  }
}

/** The NFS status for an error from the file system; anything unexpected is SERVERFAULT. */
export function statusOf(err: unknown): NfsErrorStatus {
  if (err instanceof NfsError) return err.status;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return (code && byCode[code]) || NfsStat.SERVERFAULT;
}
