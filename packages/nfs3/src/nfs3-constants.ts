/** RPC program and version of NFS (RFC 1813). */
export const NFS_PROGRAM = 100003;
export const NFS_V3 = 3;

/** Procedure numbers of NFSv3. */
export const Proc = {
  NULL: 0,
  GETATTR: 1,
  SETATTR: 2,
  LOOKUP: 3,
  ACCESS: 4,
  READLINK: 5,
  READ: 6,
  WRITE: 7,
  CREATE: 8,
  MKDIR: 9,
  SYMLINK: 10,
  MKNOD: 11,
  REMOVE: 12,
  RMDIR: 13,
  RENAME: 14,
  LINK: 15,
  READDIR: 16,
  READDIRPLUS: 17,
  FSSTAT: 18,
  FSINFO: 19,
  PATHCONF: 20,
  COMMIT: 21,
} as const;
export type ProcName = keyof typeof Proc;

/** nfsstat3. */
export const NfsStat = {
  OK: 0,
  PERM: 1,
  NOENT: 2,
  IO: 5,
  NXIO: 6,
  ACCES: 13,
  EXIST: 17,
  XDEV: 18,
  NODEV: 19,
  NOTDIR: 20,
  ISDIR: 21,
  INVAL: 22,
  FBIG: 27,
  NOSPC: 28,
  ROFS: 30,
  MLINK: 31,
  NAMETOOLONG: 63,
  NOTEMPTY: 66,
  DQUOT: 69,
  STALE: 70,
  REMOTE: 71,
  BADHANDLE: 10001,
  NOT_SYNC: 10002,
  BAD_COOKIE: 10003,
  NOTSUPP: 10004,
  TOOSMALL: 10005,
  SERVERFAULT: 10006,
  BADTYPE: 10007,
  JUKEBOX: 10008,
} as const;
export type NfsStatus = (typeof NfsStat)[keyof typeof NfsStat];
export type NfsErrorStatus = Exclude<NfsStatus, 0>;
export const nfsStatusName = (s: number): string =>
  (Object.entries(NfsStat).find(([, v]) => v === s)?.[0] ?? String(s));

/** ftype3. */
export const Ftype = { REG: 1, DIR: 2, BLK: 3, CHR: 4, LNK: 5, SOCK: 6, FIFO: 7 } as const;
export type FileType = (typeof Ftype)[keyof typeof Ftype];

/** stable_how. */
export const StableHow = { UNSTABLE: 0, DATA_SYNC: 1, FILE_SYNC: 2 } as const;
export type Stable = (typeof StableHow)[keyof typeof StableHow];

/** createmode3. */
export const CreateMode = { UNCHECKED: 0, GUARDED: 1, EXCLUSIVE: 2 } as const;

/** time_how. */
export const TimeHow = { DONT_CHANGE: 0, SET_TO_SERVER_TIME: 1, SET_TO_CLIENT_TIME: 2 } as const;

/** ACCESS3 bits. */
export const Access = {
  READ: 0x01,
  LOOKUP: 0x02,
  MODIFY: 0x04,
  EXTEND: 0x08,
  DELETE: 0x10,
  EXECUTE: 0x20,
} as const;

/** FSINFO properties bits. */
export const FsProperties = { LINK: 0x01, SYMLINK: 0x02, HOMOGENEOUS: 0x08, CANSETTIME: 0x10 } as const;

export const NFS3_FHSIZE = 64;
export const NFS3_COOKIEVERFSIZE = 8;
export const NFS3_CREATEVERFSIZE = 8;
export const NFS3_WRITEVERFSIZE = 8;
/** The longest name or path accepted off the wire; longer names are garbage, not NAMETOOLONG. */
export const WIRE_NAME_MAX = 4096;
/** The longest single path component the server creates or looks up (NAME_MAX on Linux). */
export const NAME_MAX = 255;
