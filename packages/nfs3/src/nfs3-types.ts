import { empty, enumOf, fixed, opaque, optional, struct, u32, u64, union, xdrCodec, type StructCodec, type XdrCodec } from '@netboot/oncrpc-xdr';
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

// File names and paths stay bytes: a name that is not UTF-8 must still map back to the same file.
export const fh3 = opaque(NFS3_FHSIZE, 'nfs_fh3');
export const filename3 = opaque(WIRE_NAME_MAX, 'filename3');
export const nfspath3 = opaque(WIRE_NAME_MAX, 'nfspath3');
export const verf8 = fixed(8, 'verf');

const ftypes = Object.values(Ftype) as FileType[];
export const ftype3 = enumOf<FileType>(ftypes, 'ftype3');

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
const fattr3Members = struct<Fattr>('fattr3', {
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
/** The fixed size of fattr3 on the wire. */
export const FATTR3_SIZE = 84;
/**
 * fattr3 written member by member: the attributes are in nearly every reply
 * (twice in LOOKUP), and the general struct encoder takes about 2 µs for
 * them, several times this. Same checks (each member's range) and the same
 * bytes; read through the general struct.
 */
export const fattr3 = xdrCodec<Fattr>(
  'fattr3',
  (r, f) => fattr3Members.read(r, f),
  (w, v) => {
    ftype3.write(w, v.type, 'fattr3.type');
    w.u32(v.mode, 'fattr3.mode').u32(v.nlink, 'fattr3.nlink').u32(v.uid, 'fattr3.uid').u32(v.gid, 'fattr3.gid');
    w.u64(v.size, 'fattr3.size').u64(v.used, 'fattr3.used');
    w.u32(v.rdev.specdata1, 'fattr3.rdev.specdata1').u32(v.rdev.specdata2, 'fattr3.rdev.specdata2');
    w.u64(v.fsid, 'fattr3.fsid').u64(v.fileid, 'fattr3.fileid');
    w.u32(v.atime.seconds, 'fattr3.atime.seconds').u32(v.atime.nseconds, 'fattr3.atime.nseconds');
    w.u32(v.mtime.seconds, 'fattr3.mtime.seconds').u32(v.mtime.nseconds, 'fattr3.mtime.nseconds');
    w.u32(v.ctime.seconds, 'fattr3.ctime.seconds').u32(v.ctime.nseconds, 'fattr3.ctime.nseconds');
  },
  () => FATTR3_SIZE,
);
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
const timeHow = enumOf([TimeHow.DONT_CHANGE, TimeHow.SET_TO_SERVER_TIME, TimeHow.SET_TO_CLIENT_TIME], 'time_how');
const clientTime = struct<{ time: NfsTime }>('set_time', { time: nfstime3 });
export const setTime = union<SetTime>('set_time', 'how', timeHow, (how) => (how === TimeHow.SET_TO_CLIENT_TIME ? clientTime : empty), 'set_it');

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
const createMode = enumOf([CreateMode.UNCHECKED, CreateMode.GUARDED, CreateMode.EXCLUSIVE], 'createmode3');
const createVerf = struct<{ verf: Buffer }>('createhow3', { verf: verf8 });
const createAttributes = struct<{ attributes: Sattr }>('createhow3', { attributes: sattr3 });
export const createhow3 = union<CreateHow>('createhow3', 'mode', createMode, (m) => (m === CreateMode.EXCLUSIVE ? createVerf : createAttributes));

/** mknoddata3: device numbers for CHR/BLK, attributes for every special type. */
export type MknodData =
  | { type: 3 | 4; attributes: Sattr; spec: SpecData }
  | { type: 6 | 7; attributes: Sattr }
  | { type: 1 | 2 | 5 };
const deviceData = struct<{ attributes: Sattr; spec: SpecData }>('devicedata3', { attributes: [sattr3, 'dev_attributes'], spec: specdata3 });
const pipeData = struct<{ attributes: Sattr }>('mknoddata3', { attributes: [sattr3, 'pipe_attributes'] });
export const mknoddata3 = union<MknodData>('mknoddata3', 'type', ftype3, (type) =>
  type === Ftype.CHR || type === Ftype.BLK ? deviceData : type === Ftype.SOCK || type === Ftype.FIFO ? pipeData : empty,
);

export const stableHow = enumOf<Stable>([0, 1, 2], 'stable_how');

/** Every NFSv3 result: `resok` arm on NFS3_OK, `resfail` arm otherwise. */
export type Result<Ok, Fail> = ({ status: 0 } & Ok) | ({ status: NfsErrorStatus } & Fail);

const nfsstat3 = enumOf(Object.values(NfsStat) as number[], 'nfsstat3');

/** `<PROC>3res`: the union of `ok` (named `<PROC>3resok`) and `fail`, discriminated by status. */
export function result<Ok extends object, Fail extends object>(ok: StructCodec<Ok>, fail: StructCodec<Fail>): XdrCodec<Result<Ok, Fail>> {
  return union<Result<Ok, Fail>>(ok.name.replace(/ok$/, ''), 'status', nfsstat3, (status) => (status === NfsStat.OK ? ok : fail));
}

