import type { FsAttrs } from './export-fs.js';
import { Ftype, type FileType } from './nfs3-constants.js';
import type { Fattr, NfsTime, WccAttr } from './nfs3-types.js';

const S_IFMT = 0o170000;
const types: Record<number, FileType> = {
  0o100000: Ftype.REG,
  0o040000: Ftype.DIR,
  0o060000: Ftype.BLK,
  0o020000: Ftype.CHR,
  0o120000: Ftype.LNK,
  0o140000: Ftype.SOCK,
  0o010000: Ftype.FIFO,
};

export function fileType(st: FsAttrs): FileType {
  return types[Number(st.mode) & S_IFMT] ?? Ftype.REG;
}

const NS = 1_000_000_000n;
export function nfsTime(ns: bigint): NfsTime {
  const s = ns < 0n ? 0n : ns;
  return { seconds: Number((s / NS) & 0xffffffffn), nseconds: Number(s % NS) };
}

/** Linux dev_t: major is bits 8..19 and 32..43, minor bits 0..7 and 20..31. */
export function devMajor(dev: bigint): number {
  return Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn & 0xffffffffn));
}
export function devMinor(dev: bigint): number {
  return Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn & 0xffffffffn));
}

/** fattr3 of an object; fsid is the export's id so that every export looks like its own file system. */
export function fattr(st: FsAttrs, fsid: number): Fattr {
  const type = fileType(st);
  const special = type === Ftype.CHR || type === Ftype.BLK;
  return {
    type,
    mode: Number(st.mode) & 0o7777,
    nlink: Number(st.nlink),
    uid: Number(st.uid),
    gid: Number(st.gid),
    size: st.size,
    used: st.blocks * 512n,
    rdev: special ? { specdata1: devMajor(st.rdev), specdata2: devMinor(st.rdev) } : { specdata1: 0, specdata2: 0 },
    fsid: BigInt(fsid),
    fileid: st.ino,
    atime: nfsTime(st.atimeNs),
    mtime: nfsTime(st.mtimeNs),
    ctime: nfsTime(st.ctimeNs),
  };
}

export function wccAttr(st: FsAttrs): WccAttr {
  return { size: st.size, mtime: nfsTime(st.mtimeNs), ctime: nfsTime(st.ctimeNs) };
}
