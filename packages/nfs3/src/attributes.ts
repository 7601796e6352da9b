import type { FsAttrs } from './export-fs.js';
import { Ftype, type FileType } from './nfs3-constants.js';
import type { Fattr, NfsTime, SpecData, WccAttr } from './nfs3-types.js';

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

/*
 * The objects made here per attribute set are classes, not object literals: a literal's allocation site
 * is what V8 decides to pretenure once the attribute cache keeps most of what it made, and that decision
 * throws away the optimised code of every function the site was inlined into (a cold tree walk recompiled
 * a dozen of them, READDIRPLUS and LOOKUP among them). An object made by `new` has no allocation site.
 */

class Time implements NfsTime {
  constructor(
    readonly seconds: number,
    readonly nseconds: number,
  ) {}
}

class Spec implements SpecData {
  constructor(
    readonly specdata1: number,
    readonly specdata2: number,
  ) {}
}

/** rdev of everything but devices: shared, never modified. */
const NO_RDEV = new Spec(0, 0);

const NS = 1_000_000_000n;
export function nfsTime(ns: bigint): NfsTime {
  const s = ns < 0n ? 0n : ns;
  return new Time(Number((s / NS) & 0xffffffffn), Number(s % NS));
}

/** Linux dev_t: major is bits 8..19 and 32..43, minor bits 0..7 and 20..31. */
export function devMajor(dev: bigint): number {
  return Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn & 0xffffffffn));
}
export function devMinor(dev: bigint): number {
  return Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn & 0xffffffffn));
}

class Fattr3 implements Fattr {
  constructor(
    readonly type: FileType,
    readonly mode: number,
    readonly nlink: number,
    readonly uid: number,
    readonly gid: number,
    readonly size: bigint,
    readonly used: bigint,
    readonly rdev: SpecData,
    readonly fsid: bigint,
    readonly fileid: bigint,
    readonly atime: NfsTime,
    readonly mtime: NfsTime,
    readonly ctime: NfsTime,
  ) {}
}

/** fattr3 of an object; fsid is the export's id so that every export looks like its own file system. */
export function fattr(st: FsAttrs, fsid: number): Fattr {
  const type = fileType(st);
  const special = type === Ftype.CHR || type === Ftype.BLK;
  return new Fattr3(
    type,
    Number(st.mode) & 0o7777,
    Number(st.nlink),
    Number(st.uid),
    Number(st.gid),
    st.size,
    st.blocks * 512n,
    special ? new Spec(devMajor(st.rdev), devMinor(st.rdev)) : NO_RDEV,
    BigInt(fsid),
    st.ino,
    nfsTime(st.atimeNs),
    nfsTime(st.mtimeNs),
    nfsTime(st.ctimeNs),
  );
}

export function wccAttr(st: FsAttrs): WccAttr {
  return { size: st.size, mtime: nfsTime(st.mtimeNs), ctime: nfsTime(st.ctimeNs) };
}
