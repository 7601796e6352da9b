import { XdrError, XdrReader, XdrWriter, opaqueLength, stringLength } from '@netboot/oncrpc-xdr';

/*
 * MOUNT, RFC 1813 appendix I (version 3) and RFC 1094 appendix A (version 1):
 *
 *   dirpath  = string<MNTPATHLEN=1024>      name = string<MNTNAMLEN=255>
 *   MNT      dirpath -> v3: mountres3 { mountstat3; case OK: opaque fhandle3<64>, int auth_flavors<> }
 *                       v1: fhstatus  { unsigned status; case 0: opaque fhandle[32] }
 *   DUMP     void    -> mountlist  = *{ name hostname; dirpath directory; mountlist next }
 *   UMNT     dirpath -> void
 *   UMNTALL  void    -> void
 *   EXPORT   void    -> exports    = *{ dirpath dir; groups = *{ name; groups next }; exports next }
 *
 * The linked lists are "optional-data" chains: a TRUE word before each node,
 * FALSE at the end.
 */

export const MOUNT_PROGRAM = 100005;
export const MOUNT_V1 = 1;
export const MOUNT_V3 = 3;

export const MountProc = { NULL: 0, MNT: 1, DUMP: 2, UMNT: 3, UMNTALL: 4, EXPORT: 5 } as const;

/** mountstat3; version 1 carries the same errno-style numbers in an unsigned status. */
export const MountStat = {
  OK: 0,
  PERM: 1,
  NOENT: 2,
  IO: 5,
  ACCES: 13,
  NOTDIR: 20,
  INVAL: 22,
  NAMETOOLONG: 63,
  NOTSUPP: 10004,
  SERVERFAULT: 10006,
} as const;
export type MountStat = (typeof MountStat)[keyof typeof MountStat];
const MOUNT_STATS: ReadonlySet<number> = new Set(Object.values(MountStat));

export const MNTPATHLEN = 1024;
export const MNTNAMLEN = 255;
/** Largest version 3 file handle (FHSIZE3). */
export const FHSIZE3 = 64;
/** The fixed size of a version 1 (NFSv2) file handle (FHSIZE). */
export const FHSIZE = 32;

/** Caps a decoder puts on arrays and lists; each element also needs bytes that remain. */
const MAX_FLAVORS = 64;

/** A codec for one MOUNT argument or result type. */
export interface Codec<T> {
  encodingLength(value: T): number;
  /** Writes `value` at `offset`; returns the bytes written. Throws XdrError (NO_SPACE, UNREPRESENTABLE). */
  encodeInto(value: T, buf: Buffer, offset: number): number;
  /** Decodes one value from `buf[offset, end)`; byte fields are views into `buf`. Throws XdrError. */
  decode(buf: Buffer, offset?: number, end?: number): { value: T; bytes: number };
  read(r: XdrReader): T;
  write(w: XdrWriter, value: T): void;
}

function codec<T>(encodingLength: (v: T) => number, read: (r: XdrReader) => T, write: (w: XdrWriter, v: T) => void): Codec<T> {
  return {
    encodingLength,
    read,
    write,
    encodeInto(value, buf, offset) {
      const w = new XdrWriter(buf, offset);
      write(w, value);
      return w.offset - offset;
    },
    decode(buf, offset = 0, end = buf.length) {
      const r = new XdrReader(buf, offset, end);
      const value = read(r);
      return { value, bytes: r.offset - offset };
    },
  };
}

/** Encodes a value into a new buffer of exactly its encoding length. */
export function encode<T>(c: Codec<T>, value: T): Buffer {
  const buf = Buffer.alloc(c.encodingLength(value));
  c.encodeInto(value, buf, 0);
  return buf;
}

export const dirpath: Codec<string> = codec(
  (p) => stringLength(p),
  (r) => r.string(MNTPATHLEN, 'dirpath'),
  (w, p) => w.string(p, MNTPATHLEN, 'dirpath'),
);

export type MountResult3 =
  | { status: typeof MountStat.OK; fhandle: Uint8Array; authFlavors: number[] }
  | { status: Exclude<MountStat, 0> };

export const mountResult3: Codec<MountResult3> = codec(
  (m) => (m.status === MountStat.OK ? 4 + opaqueLength(m.fhandle.length) + 4 + 4 * m.authFlavors.length : 4),
  (r) => {
    const status = r.enumOf<MountStat>(MOUNT_STATS, 'mountres3.fhs_status');
    if (status !== MountStat.OK) return { status };
    const fhandle = r.opaque(FHSIZE3, 'mountres3.fhandle');
    const n = r.arrayLength(MAX_FLAVORS, 'mountres3.auth_flavors');
    const authFlavors: number[] = [];
    for (let i = 0; i < n; i++) authFlavors.push(r.i32('mountres3.auth_flavors'));
    return { status, fhandle, authFlavors };
  },
  (w, m) => {
    w.i32(m.status, 'mountres3.fhs_status');
    if (m.status !== MountStat.OK) return;
    w.opaque(m.fhandle, FHSIZE3, 'mountres3.fhandle');
    w.u32(m.authFlavors.length, 'mountres3.auth_flavors');
    for (const f of m.authFlavors) w.i32(f, 'mountres3.auth_flavors');
  },
);

export type FhStatus = { status: 0; fhandle: Uint8Array } | { status: number };

export const fhStatus: Codec<FhStatus> = codec(
  (m) => (m.status === 0 ? 4 + FHSIZE : 4),
  (r) => {
    const status = r.u32('fhstatus.fhs_status');
    if (status !== 0) return { status };
    return { status: 0, fhandle: r.fixedOpaque(FHSIZE, 'fhstatus.fhandle') };
  },
  (w, m) => {
    w.u32(m.status, 'fhstatus.fhs_status');
    if ('fhandle' in m && m.status === 0) w.fixedOpaque(m.fhandle, FHSIZE, 'fhstatus.fhandle');
    else if (m.status === 0) throw new XdrError('UNREPRESENTABLE', 'fhstatus.fhandle', w.offset, 'status 0 needs a handle');
  },
);

export interface MountEntry {
  hostname: string;
  directory: string;
}

export const mountList: Codec<MountEntry[]> = codec(
  (list) => list.reduce((n, e) => n + 4 + stringLength(e.hostname) + stringLength(e.directory), 4),
  (r) => {
    const list: MountEntry[] = [];
    // Each node takes at least 12 bytes, so the loop ends with the input.
    while (r.optional('mountlist')) {
      list.push({ hostname: r.string(MNTNAMLEN, 'mountbody.ml_hostname'), directory: r.string(MNTPATHLEN, 'mountbody.ml_directory') });
    }
    return list;
  },
  (w, list) => {
    for (const e of list) {
      w.bool(true, 'mountlist');
      w.string(e.hostname, MNTNAMLEN, 'mountbody.ml_hostname');
      w.string(e.directory, MNTPATHLEN, 'mountbody.ml_directory');
    }
    w.bool(false, 'mountlist');
  },
);

export interface ExportEntry {
  dir: string;
  groups: string[];
}

export const exportList: Codec<ExportEntry[]> = codec(
  (list) => list.reduce((n, e) => n + 4 + stringLength(e.dir) + e.groups.reduce((g, s) => g + 4 + stringLength(s), 4), 4),
  (r) => {
    const list: ExportEntry[] = [];
    while (r.optional('exports')) {
      const dir = r.string(MNTPATHLEN, 'exportnode.ex_dir');
      const groups: string[] = [];
      while (r.optional('groups')) groups.push(r.string(MNTNAMLEN, 'groupnode.gr_name'));
      list.push({ dir, groups });
    }
    return list;
  },
  (w, list) => {
    for (const e of list) {
      w.bool(true, 'exports');
      w.string(e.dir, MNTPATHLEN, 'exportnode.ex_dir');
      for (const g of e.groups) {
        w.bool(true, 'groups');
        w.string(g, MNTNAMLEN, 'groupnode.gr_name');
      }
      w.bool(false, 'groups');
    }
    w.bool(false, 'exports');
  },
);
