import { XdrWriter, bool, empty, linkedList, opaque, optional, padding, struct, u32, u64, type XdrCodec } from '@netboot/oncrpc-xdr';
import {
  type CreateHow,
  type DirOpArgs,
  type Fattr,
  type MknodData,
  type NfsTime,
  type Result,
  type Sattr,
  type WccData,
  createhow3,
  diropargs3,
  fattr3,
  fh3,
  filename3,
  mknoddata3,
  nfspath3,
  nfstime3,
  postOpAttr,
  postOpFh,
  result,
  sattr3,
  stableHow,
  verf8,
  wccData,
} from './nfs3-types.js';
import type { Stable } from './nfs3-constants.js';

// Arguments and results of the 22 procedures, RFC 1813 section 3.3.

type Attr = { attributes: Fattr | undefined };
const attrOnly = (n: string) => struct<Attr>(n, { attributes: postOpAttr });
type Wcc = { wcc: WccData };
const wccOnly = (n: string) => struct<Wcc>(n, { wcc: wccData });

export interface FhArgs {
  object: Buffer;
}
const fhArgs = (n: string) => struct<FhArgs>(n, { object: fh3 });

export interface GetattrOk {
  attributes: Fattr;
}
export const GETATTR = {
  args: fhArgs('GETATTR3args'),
  res: result(struct<GetattrOk>('GETATTR3resok', { attributes: fattr3 }), empty),
};

export interface SetattrArgs {
  object: Buffer;
  attributes: Sattr;
  guard: NfsTime | undefined;
}
export const SETATTR = {
  args: struct<SetattrArgs>('SETATTR3args', { object: fh3, attributes: sattr3, guard: optional(nfstime3) }),
  res: result(wccOnly('SETATTR3resok'), wccOnly('SETATTR3resfail')),
};

export interface LookupOk {
  object: Buffer;
  attributes: Fattr | undefined;
  dirAttributes: Fattr | undefined;
}
export const LOOKUP = {
  args: diropargs3,
  res: result(
    struct<LookupOk>('LOOKUP3resok', { object: fh3, attributes: postOpAttr, dirAttributes: postOpAttr }),
    struct<{ dirAttributes: Fattr | undefined }>('LOOKUP3resfail', { dirAttributes: postOpAttr }),
  ),
};

export interface AccessArgs {
  object: Buffer;
  access: number;
}
export interface AccessOk {
  attributes: Fattr | undefined;
  access: number;
}
export const ACCESS = {
  args: struct<AccessArgs>('ACCESS3args', { object: fh3, access: u32 }),
  res: result(struct<AccessOk>('ACCESS3resok', { attributes: postOpAttr, access: u32 }), attrOnly('ACCESS3resfail')),
};

export interface ReadlinkOk {
  attributes: Fattr | undefined;
  data: Buffer;
}
export const READLINK = {
  args: fhArgs('READLINK3args'),
  res: result(struct<ReadlinkOk>('READLINK3resok', { attributes: postOpAttr, data: nfspath3 }), attrOnly('READLINK3resfail')),
};

export interface ReadArgs {
  file: Buffer;
  offset: bigint;
  count: number;
}
export interface ReadOk {
  attributes: Fattr | undefined;
  count: number;
  eof: boolean;
  data: Buffer;
}
const anyData = opaque(0xffffffff, 'data');
export const READ = {
  args: struct<ReadArgs>('READ3args', { file: fh3, offset: u64, count: u32 }),
  res: result(
    struct<ReadOk>('READ3resok', { attributes: postOpAttr, count: u32, eof: bool, data: anyData }),
    attrOnly('READ3resfail'),
  ),
};

export interface WriteArgs {
  file: Buffer;
  offset: bigint;
  count: number;
  stable: Stable;
  data: Buffer;
}
export interface WriteOk {
  wcc: WccData;
  count: number;
  committed: Stable;
  verf: Buffer;
}
export const WRITE = {
  args: struct<WriteArgs>('WRITE3args', { file: fh3, offset: u64, count: u32, stable: stableHow, data: anyData }),
  res: result(
    struct<WriteOk>('WRITE3resok', { wcc: wccData, count: u32, committed: stableHow, verf: verf8 }),
    wccOnly('WRITE3resfail'),
  ),
};

/** The result of CREATE, MKDIR, SYMLINK and MKNOD. */
export interface NewObjectOk {
  object: Buffer | undefined;
  attributes: Fattr | undefined;
  dirWcc: WccData;
}
const newObjectRes = (n: string) =>
  result(
    struct<NewObjectOk>(`${n}resok`, { object: postOpFh, attributes: postOpAttr, dirWcc: wccData }),
    struct<{ dirWcc: WccData }>(`${n}resfail`, { dirWcc: wccData }),
  );

export interface CreateArgs {
  where: DirOpArgs;
  how: CreateHow;
}
export const CREATE = {
  args: struct<CreateArgs>('CREATE3args', { where: diropargs3, how: createhow3 }),
  res: newObjectRes('CREATE3'),
};

export interface MkdirArgs {
  where: DirOpArgs;
  attributes: Sattr;
}
export const MKDIR = {
  args: struct<MkdirArgs>('MKDIR3args', { where: diropargs3, attributes: sattr3 }),
  res: newObjectRes('MKDIR3'),
};

export interface SymlinkArgs {
  where: DirOpArgs;
  attributes: Sattr;
  data: Buffer;
}
export const SYMLINK = {
  args: struct<SymlinkArgs>('SYMLINK3args', { where: diropargs3, attributes: sattr3, data: nfspath3 }),
  res: newObjectRes('SYMLINK3'),
};

export interface MknodArgs {
  where: DirOpArgs;
  what: MknodData;
}
export const MKNOD = {
  args: struct<MknodArgs>('MKNOD3args', { where: diropargs3, what: mknoddata3 }),
  res: newObjectRes('MKNOD3'),
};

export interface DirWcc {
  dirWcc: WccData;
}
const dirWcc = (n: string) => struct<DirWcc>(n, { dirWcc: wccData });
export const REMOVE = { args: diropargs3, res: result(dirWcc('REMOVE3resok'), dirWcc('REMOVE3resfail')) };
export const RMDIR = { args: diropargs3, res: result(dirWcc('RMDIR3resok'), dirWcc('RMDIR3resfail')) };

export interface RenameArgs {
  from: DirOpArgs;
  to: DirOpArgs;
}
export interface RenameWcc {
  fromWcc: WccData;
  toWcc: WccData;
}
const renameWcc = (n: string) => struct<RenameWcc>(n, { fromWcc: wccData, toWcc: wccData });
export const RENAME = {
  args: struct<RenameArgs>('RENAME3args', { from: diropargs3, to: diropargs3 }),
  res: result(renameWcc('RENAME3resok'), renameWcc('RENAME3resfail')),
};

export interface LinkArgs {
  file: Buffer;
  link: DirOpArgs;
}
export interface LinkWcc {
  attributes: Fattr | undefined;
  dirWcc: WccData;
}
const linkWcc = (n: string) => struct<LinkWcc>(n, { attributes: postOpAttr, dirWcc: wccData });
export const LINK = {
  args: struct<LinkArgs>('LINK3args', { file: fh3, link: diropargs3 }),
  res: result(linkWcc('LINK3resok'), linkWcc('LINK3resfail')),
};

export interface ReaddirArgs {
  dir: Buffer;
  cookie: bigint;
  cookieverf: Buffer;
  count: number;
}
export interface DirEntry {
  fileid: bigint;
  name: Buffer;
  cookie: bigint;
}
export const entry3 = struct<DirEntry>('entry3', { fileid: u64, name: filename3, cookie: u64 });
/** Bounds a hostile or corrupt listing read by the client; a real reply is bounded by its count. */
const MAX_ENTRIES = 1 << 20;
export interface ReaddirOk {
  attributes: Fattr | undefined;
  cookieverf: Buffer;
  entries: DirEntry[];
  eof: boolean;
}
export const READDIR = {
  args: struct<ReaddirArgs>('READDIR3args', { dir: fh3, cookie: u64, cookieverf: verf8, count: u32 }),
  res: result(
    struct<ReaddirOk>('READDIR3resok', {
      attributes: postOpAttr,
      cookieverf: verf8,
      entries: linkedList(entry3, MAX_ENTRIES, 'dirlist3.entries'),
      eof: bool,
    }),
    attrOnly('READDIR3resfail'),
  ),
};

export interface ReaddirplusArgs {
  dir: Buffer;
  cookie: bigint;
  cookieverf: Buffer;
  dircount: number;
  maxcount: number;
}
export interface DirEntryPlus extends DirEntry {
  attributes: Fattr | undefined;
  handle: Buffer | undefined;
}
export const entryplus3 = struct<DirEntryPlus>('entryplus3', {
  fileid: u64,
  name: filename3,
  cookie: u64,
  attributes: postOpAttr,
  handle: postOpFh,
});
export interface ReaddirplusOk {
  attributes: Fattr | undefined;
  cookieverf: Buffer;
  entries: DirEntryPlus[];
  eof: boolean;
}
export const READDIRPLUS = {
  args: struct<ReaddirplusArgs>('READDIRPLUS3args', {
    dir: fh3,
    cookie: u64,
    cookieverf: verf8,
    dircount: u32,
    maxcount: u32,
  }),
  res: result(
    struct<ReaddirplusOk>('READDIRPLUS3resok', {
      attributes: postOpAttr,
      cookieverf: verf8,
      entries: linkedList(entryplus3, MAX_ENTRIES, 'dirlistplus3.entries'),
      eof: bool,
    }),
    attrOnly('READDIRPLUS3resfail'),
  ),
};

export interface FsstatOk {
  attributes: Fattr | undefined;
  tbytes: bigint;
  fbytes: bigint;
  abytes: bigint;
  tfiles: bigint;
  ffiles: bigint;
  afiles: bigint;
  invarsec: number;
}
export const FSSTAT = {
  args: fhArgs('FSSTAT3args'),
  res: result(
    struct<FsstatOk>('FSSTAT3resok', {
      attributes: postOpAttr,
      tbytes: u64,
      fbytes: u64,
      abytes: u64,
      tfiles: u64,
      ffiles: u64,
      afiles: u64,
      invarsec: u32,
    }),
    attrOnly('FSSTAT3resfail'),
  ),
};

export interface FsinfoOk {
  attributes: Fattr | undefined;
  rtmax: number;
  rtpref: number;
  rtmult: number;
  wtmax: number;
  wtpref: number;
  wtmult: number;
  dtpref: number;
  maxfilesize: bigint;
  timeDelta: NfsTime;
  properties: number;
}
export const FSINFO = {
  args: fhArgs('FSINFO3args'),
  res: result(
    struct<FsinfoOk>('FSINFO3resok', {
      attributes: postOpAttr,
      rtmax: u32,
      rtpref: u32,
      rtmult: u32,
      wtmax: u32,
      wtpref: u32,
      wtmult: u32,
      dtpref: u32,
      maxfilesize: u64,
      timeDelta: nfstime3,
      properties: u32,
    }),
    attrOnly('FSINFO3resfail'),
  ),
};

export interface PathconfOk {
  attributes: Fattr | undefined;
  linkmax: number;
  nameMax: number;
  noTrunc: boolean;
  chownRestricted: boolean;
  caseInsensitive: boolean;
  casePreserving: boolean;
}
export const PATHCONF = {
  args: fhArgs('PATHCONF3args'),
  res: result(
    struct<PathconfOk>('PATHCONF3resok', {
      attributes: postOpAttr,
      linkmax: u32,
      nameMax: u32,
      noTrunc: bool,
      chownRestricted: bool,
      caseInsensitive: bool,
      casePreserving: bool,
    }),
    attrOnly('PATHCONF3resfail'),
  ),
};

export interface CommitArgs {
  file: Buffer;
  offset: bigint;
  count: number;
}
export interface CommitOk {
  wcc: WccData;
  verf: Buffer;
}
export const COMMIT = {
  args: struct<CommitArgs>('COMMIT3args', { file: fh3, offset: u64, count: u32 }),
  res: result(struct<CommitOk>('COMMIT3resok', { wcc: wccData, verf: verf8 }), wccOnly('COMMIT3resfail')),
};

export const NULL = { args: empty, res: empty };

/** Every procedure's codecs, by name. */
export const procedures = {
  NULL,
  GETATTR,
  SETATTR,
  LOOKUP,
  ACCESS,
  READLINK,
  READ,
  WRITE,
  CREATE,
  MKDIR,
  SYMLINK,
  MKNOD,
  REMOVE,
  RMDIR,
  RENAME,
  LINK,
  READDIR,
  READDIRPLUS,
  FSSTAT,
  FSINFO,
  PATHCONF,
  COMMIT,
} as const;
export type Procedures = typeof procedures;
export type ArgsOf<P extends keyof Procedures> = Procedures[P]['args'] extends XdrCodec<infer A> ? A : never;
export type ResOf<P extends keyof Procedures> = Procedures[P]['res'] extends XdrCodec<infer R> ? R : never;

export type GetattrRes = ResOf<'GETATTR'>;
export type ReadRes = Result<ReadOk, Attr>;
export type WriteRes = ResOf<'WRITE'>;

/**
 * A READ reply as a vector: the encoded fields up to the data length, then a
 * view of the file data, then its padding. The data is never copied.
 */
export function encodeReadRes(res: ReadRes, scratch?: Buffer): Uint8Array[] {
  if (res.status !== 0) return [encodeWith(READ.res, res, scratch)];
  const headLen = 4 + postOpAttr.encodingLength(res.attributes) + 12;
  const head = scratch && scratch.length >= headLen ? scratch.subarray(0, headLen) : Buffer.allocUnsafe(headLen);
  const w = new XdrWriter(head);
  w.u32(0, 'READ3res.status');
  postOpAttr.write(w, res.attributes, 'READ3resok.attributes');
  w.u32(res.count, 'READ3resok.count');
  w.bool(res.eof, 'READ3resok.eof');
  w.u32(res.data.length, 'READ3resok.data');
  const pad = padding(res.data.length);
  return pad ? [head, res.data, ZEROS.subarray(0, pad)] : [head, res.data];
}

/** Bytes of the READ3resok header: status, attributes (present), count, eof, data length. */
export const READ_HEAD_MAX = 4 + 4 + 84 + 12;

/**
 * A successful READ result encoded around data already in place: `buf`
 * holds the data at `[at, at + count)` with at least READ_HEAD_MAX bytes in
 * front and 3 spare bytes after (for the XDR padding). Writes the header
 * right before the data and the padding right after; returns the whole
 * result as one view, and how many bytes remain free in front of it.
 */
export function encodeReadResAround(res: Omit<ReadOk, 'data'>, buf: Buffer, at: number, count: number): { body: Buffer; headroom: number } {
  const headLen = 4 + postOpAttr.encodingLength(res.attributes) + 12;
  const start = at - headLen;
  const w = new XdrWriter(buf.subarray(start, at));
  w.u32(0, 'READ3res.status');
  postOpAttr.write(w, res.attributes, 'READ3resok.attributes');
  w.u32(res.count, 'READ3resok.count');
  w.bool(res.eof, 'READ3resok.eof');
  w.u32(count, 'READ3resok.data');
  const pad = padding(count);
  buf.fill(0, at + count, at + count + pad);
  return { body: buf.subarray(start, at + count + pad), headroom: start };
}

/** WRITE arguments as a vector, so a client sends file data without copying it. */
export function encodeWriteArgs(args: WriteArgs): Uint8Array[] {
  const headLen = fh3.encodingLength(args.file) + 8 + 4 + 4 + 4;
  const head = Buffer.allocUnsafe(headLen);
  const w = new XdrWriter(head);
  fh3.write(w, args.file, 'WRITE3args.file');
  w.u64(args.offset, 'WRITE3args.offset');
  w.u32(args.count, 'WRITE3args.count');
  stableHow.write(w, args.stable, 'WRITE3args.stable');
  w.u32(args.data.length, 'WRITE3args.data');
  const pad = padding(args.data.length);
  return pad ? [head, args.data, ZEROS.subarray(0, pad)] : [head, args.data];
}

const ZEROS = Buffer.alloc(4);

function encodeWith<T>(c: XdrCodec<T>, v: T, scratch?: Buffer): Buffer {
  const n = c.encodingLength(v);
  const buf = scratch && scratch.length >= n ? scratch.subarray(0, n) : Buffer.allocUnsafe(n);
  c.write(new XdrWriter(buf), v);
  return buf;
}
