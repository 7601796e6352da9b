import { fixedArray, i32, linkedList, opaque, string, struct, u32, type XdrCodec } from '@netboot/oncrpc-xdr';
import { MAX_CALL_ARGS, MAX_LIST, MAX_NETID, MAX_OWNER, MAX_TADDR, MAX_UADDR, RPCBSTAT_HIGHPROC } from './constants.js';

/**
 * rpcbind versions 3 and 4 (RFC 1833 section 2):
 *
 *   struct rpcb { unsigned r_prog; unsigned r_vers; string r_netid<>; string r_addr<>; string r_owner<>; };
 *   struct *rpcblist { rpcb rpcb_map; rpcblist rpcb_next; };
 *   struct rpcb_entry { string r_maddr<>; string r_nc_netid<>; unsigned r_nc_semantics;
 *                       string r_nc_protofmly<>; string r_nc_proto<>; };
 *   struct *rpcb_entry_list { rpcb_entry rpcb_entry_map; rpcb_entry_list rpcb_entry_next; };
 *   struct rpcb_rmtcallargs { unsigned prog; unsigned vers; unsigned proc; opaque args<>; };
 *   struct rpcb_rmtcallres { string addr<>; opaque results<>; };
 *   struct netbuf { unsigned maxlen; opaque buf<>; };
 *   rpcb_stat rpcb_stat_byvers[3];   (index 0: version 2, 1: version 3, 2: version 4)
 */
export interface Rpcb {
  prog: number;
  vers: number;
  netid: string;
  /** A universal address (see uaddr.ts); empty in a GETADDR answer means "not registered". */
  addr: string;
  owner: string;
}

export interface RpcbEntry {
  maddr: string;
  netid: string;
  semantics: number;
  protofmly: string;
  proto: string;
}

export interface RmtCallRes {
  addr: string;
  results: Buffer;
}

export interface Netbuf {
  maxlen: number;
  buf: Buffer;
}

/** GETADDR/GETPORT lookups counted per program, version and netid. */
export interface AddrStat {
  prog: number;
  vers: number;
  success: number;
  failure: number;
  netid: string;
}

/** CALLIT/INDIRECT requests counted per program, version, procedure and netid. */
export interface RmtCallStat {
  prog: number;
  vers: number;
  proc: number;
  success: number;
  failure: number;
  indirect: number;
  netid: string;
}

export interface RpcbStat {
  /** Calls per procedure number, RPCBSTAT_HIGHPROC slots. */
  info: number[];
  setinfo: number;
  unsetinfo: number;
  addrinfo: AddrStat[];
  rmtinfo: RmtCallStat[];
}

export type RpcbStatByVers = [RpcbStat, RpcbStat, RpcbStat];

export const rpcb = struct<Rpcb>('rpcb', {
  prog: [u32, 'r_prog'],
  vers: [u32, 'r_vers'],
  netid: [string(MAX_NETID), 'r_netid'],
  addr: [string(MAX_UADDR), 'r_addr'],
  owner: [string(MAX_OWNER), 'r_owner'],
});

export const rpcblist = linkedList(rpcb, MAX_LIST, 'rpcblist');

/** GETADDR, GETVERSADDR and CALLIT answer with a universal address. */
export const uaddrString = string(MAX_UADDR, 'uaddr');

export const rpcbEntry = struct<RpcbEntry>('rpcb_entry', {
  maddr: [string(MAX_UADDR), 'r_maddr'],
  netid: [string(MAX_NETID), 'r_nc_netid'],
  semantics: [u32, 'r_nc_semantics'],
  protofmly: [string(MAX_NETID), 'r_nc_protofmly'],
  proto: [string(MAX_NETID), 'r_nc_proto'],
});

export const rpcbEntryList = linkedList(rpcbEntry, MAX_LIST, 'rpcb_entry_list');

export const rmtCallRes = struct<RmtCallRes>('rpcb_rmtcallres', { addr: string(MAX_UADDR), results: opaque(MAX_CALL_ARGS) });

export const netbuf = struct<Netbuf>('netbuf', { maxlen: u32, buf: opaque(MAX_TADDR) });

const addrStat = struct<AddrStat>('rpcbs_addrlist', { prog: u32, vers: u32, success: i32, failure: i32, netid: string(MAX_NETID) });

const rmtCallStat = struct<RmtCallStat>('rpcbs_rmtcalllist', {
  prog: u32,
  vers: u32,
  proc: u32,
  success: i32,
  failure: i32,
  indirect: i32,
  netid: string(MAX_NETID),
});

export const rpcbStat = struct<RpcbStat>('rpcb_stat', {
  info: fixedArray(i32, RPCBSTAT_HIGHPROC),
  setinfo: i32,
  unsetinfo: i32,
  addrinfo: linkedList(addrStat, MAX_LIST, 'rpcbs_addrlist_ptr'),
  rmtinfo: linkedList(rmtCallStat, MAX_LIST, 'rpcbs_rmtcalllist_ptr'),
});

export const rpcbStatByVers = fixedArray(rpcbStat, 3, 'rpcb_stat_byvers') as XdrCodec<RpcbStatByVers>;
