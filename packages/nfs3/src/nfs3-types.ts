import { XdrError } from '@netboot/oncrpc-xdr';
import {
  type Codec,
  bool,
  empty,
  enumOf,
  fixed,
  list,
  name,
  opaque,
  optional,
  struct,
  u32,
  u64,
} from './xdr-codec.js';
import {
  CreateMode,
  type FileType,
  Ftype,
  NFS3_FHSIZE,
  NfsStat,
  type NfsErrorStatus,
  type Stable,
  TimeHow,
  WIRE_NAME_MAX,
} from './nfs3-constants.js';

// The data types of RFC 1813 section 2.5 and 2.6, one declaration each.

export const fh3 = opaque(NFS3_FHSIZE);
export const filename3 = name(WIRE_NAME_MAX);
export const nfspath3 = name(WIRE_NAME_MAX);
export const verf8 = fixed(8);

const ftypes = Object.values(Ftype) as FileType[];
export const ftype3 = enumOf<FileType>(ftypes);

export interface SpecData {
  specdata1: number;
  specdata2: number;
}
export const specdata3 = struct<SpecData>('specdata3', { specdata1: u32, specdata2: u32 });

export interface NfsTime {
  seconds: number;
  nseconds: number;
}
export const nfstime3 = struct<NfsTime>('nfstime3', { seconds: u32, nseconds: u32 });

export interface Fattr {
  type: FileType;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: bigint;
  used: bigint;
  rdev: SpecData;
  fsid: bigint;
  fileid: bigint;
  atime: NfsTime;
  mtime: NfsTime;
  ctime: NfsTime;
}
export const fattr3 = struct<Fattr>('fattr3', {
  type: ftype3,
  mode: u32,
  nlink: u32,
  uid: u32,
  gid: u32,
  size: u64,
  used: u64,
  rdev: specdata3,
  fsid: u64,
  fileid: u64,
  atime: nfstime3,
  mtime: nfstime3,
  ctime: nfstime3,
});
export const postOpAttr = optional(fattr3);

export interface WccAttr {
  size: bigint;
  mtime: NfsTime;
  ctime: NfsTime;
}
export const wccAttr = struct<WccAttr>('wcc_attr', { size: u64, mtime: nfstime3, ctime: nfstime3 });

export interface WccData {
  before: WccAttr | undefined;
  after: Fattr | undefined;
}
export const wccData = struct<WccData>('wcc_data', { before: optional(wccAttr), after: postOpAttr });
export const postOpFh = optional(fh3);

/** set_atime / set_mtime. */
export type SetTime = { how: 0 } | { how: 1 } | { how: 2; time: NfsTime };
export const setTime: Codec<SetTime> = {
  read(r, f) {
    const how = r.enumOf<0 | 1 | 2>(new Set([0, 1, 2]), f);
    return how === TimeHow.SET_TO_CLIENT_TIME ? { how, time: nfstime3.read(r, f) } : { how };
  },
  write(w, v, f) {
    w.u32(v.how, f);
    if (v.how === TimeHow.SET_TO_CLIENT_TIME) nfstime3.write(w, v.time, f);
    else if (v.how !== TimeHow.DONT_CHANGE && v.how !== TimeHow.SET_TO_SERVER_TIME) {
      throw new XdrError('UNREPRESENTABLE', f, w.offset, `time_how ${String((v as { how: unknown }).how)}`);
    }
  },
  size: (v) => (v.how === TimeHow.SET_TO_CLIENT_TIME ? 12 : 4),
};

export interface Sattr {
  mode: number | undefined;
  uid: number | undefined;
  gid: number | undefined;
  size: bigint | undefined;
  atime: SetTime;
  mtime: SetTime;
}
export const sattr3 = struct<Sattr>('sattr3', {
  mode: optional(u32),
  uid: optional(u32),
  gid: optional(u32),
  size: optional(u64),
  atime: setTime,
  mtime: setTime,
});
/** A sattr3 that changes nothing. */
export const noSattr = (): Sattr => ({
  mode: undefined,
  uid: undefined,
  gid: undefined,
  size: undefined,
  atime: { how: 0 },
  mtime: { how: 0 },
});

export interface DirOpArgs {
  dir: Buffer;
  name: Buffer;
}
export const diropargs3 = struct<DirOpArgs>('diropargs3', { dir: fh3, name: filename3 });

export type CreateHow =
  | { mode: 0 | 1; attributes: Sattr }
  | { mode: 2; verf: Buffer };
export const createhow3: Codec<CreateHow> = {
  read(r, f) {
    const mode = r.enumOf<0 | 1 | 2>(new Set([0, 1, 2]), f);
    return mode === CreateMode.EXCLUSIVE ? { mode, verf: verf8.read(r, f) } : { mode, attributes: sattr3.read(r, f) };
  },
  write(w, v, f) {
    w.u32(v.mode, f);
    if (v.mode === CreateMode.EXCLUSIVE) verf8.write(w, v.verf, f);
    else sattr3.write(w, v.attributes, f);
  },
  size: (v) => 4 + (v.mode === CreateMode.EXCLUSIVE ? 8 : sattr3.size(v.attributes)),
};

/** mknoddata3: device numbers for CHR/BLK, attributes for every special type. */
export type MknodData =
  | { type: 3 | 4; attributes: Sattr; spec: SpecData }
  | { type: 6 | 7; attributes: Sattr }
  | { type: 1 | 2 | 5 };
export const mknoddata3: Codec<MknodData> = {
  read(r, f) {
    const type = ftype3.read(r, f);
    if (type === Ftype.CHR || type === Ftype.BLK) {
      return { type, attributes: sattr3.read(r, f), spec: specdata3.read(r, f) };
    }
    if (type === Ftype.SOCK || type === Ftype.FIFO) return { type, attributes: sattr3.read(r, f) };
    return { type };
  },
  write(w, v, f) {
    ftype3.write(w, v.type, f);
    if ('attributes' in v) sattr3.write(w, v.attributes, f);
    if ('spec' in v) specdata3.write(w, v.spec, f);
  },
  size: (v) => 4 + ('attributes' in v ? sattr3.size(v.attributes) : 0) + ('spec' in v ? 8 : 0),
};

export const stableHow = enumOf<Stable>([0, 1, 2]);

/** Every NFSv3 result: `resok` arm on NFS3_OK, `resfail` arm otherwise. */
export type Result<Ok, Fail> = ({ status: 0 } & Ok) | ({ status: NfsErrorStatus } & Fail);

const statuses = Object.values(NfsStat) as number[];
const nfsstat3 = enumOf<number>(statuses);

export function result<Ok extends object, Fail extends object>(ok: Codec<Ok>, fail: Codec<Fail>): Codec<Result<Ok, Fail>> {
  return {
    read(r, f) {
      const status = nfsstat3.read(r, `${f}.status`);
      const body = status === 0 ? ok.read(r, f) : fail.read(r, f);
      return { status, ...body } as Result<Ok, Fail>;
    },
    write(w, v, f) {
      nfsstat3.write(w, v.status, `${f}.status`);
      if (v.status === 0) ok.write(w, v as Ok, f);
      else fail.write(w, v as Fail, f);
    },
    size: (v) => 4 + (v.status === 0 ? ok.size(v as Ok) : fail.size(v as Fail)),
  };
}

export { bool, empty, list, u32, u64, struct, optional };
