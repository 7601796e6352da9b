/** The portmapper's program number and well-known port (RFC 1833). */
export const PMAP_PROG = 100000;
export const PMAP_PORT = 111;

/** Versions: 2 is the classic portmapper, 3 and 4 are rpcbind. */
export const PMAP_VERS = 2;
export const RPCB_VERS = 3;
export const RPCB_VERS4 = 4;

/** Portmapper version 2 procedures. */
export const PmapProc = {
  NULL: 0,
  SET: 1,
  UNSET: 2,
  GETPORT: 3,
  DUMP: 4,
  CALLIT: 5,
} as const;

/** rpcbind version 3 and 4 procedures (4 adds the last four; 5 is BCAST in version 4). */
export const RpcbProc = {
  NULL: 0,
  SET: 1,
  UNSET: 2,
  GETADDR: 3,
  DUMP: 4,
  CALLIT: 5,
  BCAST: 5,
  GETTIME: 6,
  UADDR2TADDR: 7,
  TADDR2UADDR: 8,
  GETVERSADDR: 9,
  INDIRECT: 10,
  GETADDRLIST: 11,
  GETSTAT: 12,
} as const;

/** IP protocol numbers the version 2 mapping uses in place of a netid. */
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

/** Transport semantics from netconfig(5), carried in GETADDRLIST entries. */
export const NC_TPI_CLTS = 1;
export const NC_TPI_COTS = 2;
export const NC_TPI_COTS_ORD = 3;

/** Slots in a GETSTAT per-version procedure table: version 4's highest procedure plus one. */
export const RPCBSTAT_HIGHPROC = 13;

/** Wire limits. RFC 1833 leaves the strings unbounded; these are generous for any real netid or address. */
export const MAX_NETID = 64;
export const MAX_UADDR = 128;
export const MAX_OWNER = 255;
/** Entries decoded from one DUMP, GETADDRLIST or GETSTAT list before the reply is refused. */
export const MAX_LIST = 16384;
/** Bytes of arguments or results forwarded through CALLIT. */
export const MAX_CALL_ARGS = 65536;
/** Bytes of a transport address (a sockaddr) in UADDR2TADDR/TADDR2UADDR. */
export const MAX_TADDR = 128;
