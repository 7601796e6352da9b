import { XdrError, empty, enumOf, fixed, opaque, optional, struct, u32, u64, union, xdrCodec, type StructCodec, type XdrCodec } from '@netboot/oncrpc-xdr';
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
const FTYPES = new Set<number>(ftypes);
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
const U64_MAX = (1n << 64n) - 1n;

/** A member's range check, as the general writer's: an error naming the member and where it was to go. */
function unrepresentable(field: string, at: number, v: unknown, what: string): never {
  throw new XdrError('UNREPRESENTABLE', field, at, `${v} is not ${what}`);
}

function put32(b: Buffer, o: number, v: number, field: string): void {
  if ((v >>> 0) !== v) unrepresentable(field, o, v, 'an unsigned 32-bit integer');
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);
const TWO_32 = 2 ** 32;

function put64(b: Buffer, o: number, v: bigint, field: string): void {
  // Sizes, inode numbers and fsids are nearly always below 2^53: one conversion to a Number, where the
  // shift and the mask each make a bigint (several per fattr3, one fattr3 per entry of a listing).
  if (v >= 0n && v <= SAFE_MAX) {
    const n = Number(v);
    put32(b, o, Math.floor(n / TWO_32), field);
    put32(b, o + 4, n >>> 0, field);
    return;
  }
  if (v < 0n || v > U64_MAX) unrepresentable(field, o, v, 'an unsigned 64-bit integer');
  put32(b, o, Number(v >> 32n), field);
  put32(b, o + 4, Number(v & 0xffffffffn), field);
}

/**
 * fattr3 written byte by byte into 84 bytes claimed at once: the attributes
 * are in nearly every reply (twice in LOOKUP, once per entry of READDIRPLUS),
 * and one writer call per member (with its own bounds and range checks) cost
 * several times this. Same checks (each member's range, the type one of
 * ftype3's) and the same bytes; read through the general struct.
 */
export const fattr3 = xdrCodec<Fattr>(
  'fattr3',
  (r, f) => fattr3Members.read(r, f),
  (w, v) => {
    const o = w.reserve(FATTR3_SIZE, 'fattr3');
    const b = w.buf;
    if (!FTYPES.has(v.type)) unrepresentable('fattr3.type', o, v.type, 'an ftype3');
    put32(b, o, v.type, 'fattr3.type');
    put32(b, o + 4, v.mode, 'fattr3.mode');
    put32(b, o + 8, v.nlink, 'fattr3.nlink');
    put32(b, o + 12, v.uid, 'fattr3.uid');
    put32(b, o + 16, v.gid, 'fattr3.gid');
    put64(b, o + 20, v.size, 'fattr3.size');
    put64(b, o + 28, v.used, 'fattr3.used');
    put32(b, o + 36, v.rdev.specdata1, 'fattr3.rdev.specdata1');
    put32(b, o + 40, v.rdev.specdata2, 'fattr3.rdev.specdata2');
    put64(b, o + 44, v.fsid, 'fattr3.fsid');
    put64(b, o + 52, v.fileid, 'fattr3.fileid');
    put32(b, o + 60, v.atime.seconds, 'fattr3.atime.seconds');
    put32(b, o + 64, v.atime.nseconds, 'fattr3.atime.nseconds');
    put32(b, o + 68, v.mtime.seconds, 'fattr3.mtime.seconds');
    put32(b, o + 72, v.mtime.nseconds, 'fattr3.mtime.nseconds');
    put32(b, o + 76, v.ctime.seconds, 'fattr3.ctime.seconds');
    put32(b, o + 80, v.ctime.nseconds, 'fattr3.ctime.nseconds');
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

