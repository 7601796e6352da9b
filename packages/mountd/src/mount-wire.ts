import { XdrError, array, empty, enumOf, i32, linkedList, opaque, string, struct, union, xdrCodec } from '@netboot/oncrpc-xdr';

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

export const MNTPATHLEN = 1024;
export const MNTNAMLEN = 255;
/** Largest version 3 file handle (FHSIZE3). */
export const FHSIZE3 = 64;
/** The fixed size of a version 1 (NFSv2) file handle (FHSIZE). */
export const FHSIZE = 32;

/** Caps a decoder puts on arrays and lists; each element also needs bytes that remain. */
const MAX_FLAVORS = 64;

export const dirpath = string(MNTPATHLEN, 'dirpath');
/** The same wire as dirpath, as the bytes that came: a directory below an export may have any bytes in its name. */
export const dirpathBytes = opaque(MNTPATHLEN, 'dirpath');

export type MountResult3 =
  | { status: typeof MountStat.OK; fhandle: Uint8Array; authFlavors: number[] }
  | { status: Exclude<MountStat, 0> };

const mountOk = struct<{ fhandle: Uint8Array; authFlavors: number[] }>('mountres3', {
  fhandle: opaque(FHSIZE3),
  authFlavors: [array(i32, MAX_FLAVORS), 'auth_flavors'],
});
const mountStat3 = enumOf(Object.values(MountStat), 'mountstat3');

export const mountResult3 = union<MountResult3>('mountres3', 'status', mountStat3, (s) => (s === MountStat.OK ? mountOk : empty), 'fhs_status');

export type FhStatus = { status: 0; fhandle: Uint8Array } | { status: number };

export const fhStatus = xdrCodec<FhStatus>(
  'fhstatus',
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
  (m) => (m.status === 0 ? 4 + FHSIZE : 4),
);

export interface MountEntry {
  hostname: string;
  directory: string;
}

// Each node takes at least 12 bytes, so the input bounds these lists.
export const mountList = linkedList(
  struct<MountEntry>('mountbody', { hostname: [string(MNTNAMLEN), 'ml_hostname'], directory: [string(MNTPATHLEN), 'ml_directory'] }),
  Infinity,
  'mountlist',
);

export interface ExportEntry {
  dir: string;
  groups: string[];
}

export const exportList = linkedList(
  struct<ExportEntry>('exportnode', {
    dir: [string(MNTPATHLEN), 'ex_dir'],
    groups: [linkedList(string(MNTNAMLEN, 'groupnode.gr_name'), Infinity, 'groups'), 'ex_groups'],
  }),
  Infinity,
  'exports',
);
