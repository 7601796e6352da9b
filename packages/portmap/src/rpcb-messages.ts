import { XdrError } from '@netboot/oncrpc-xdr';
import { MAX_CALL_ARGS, MAX_LIST, MAX_NETID, MAX_OWNER, MAX_TADDR, MAX_UADDR, RPCBSTAT_HIGHPROC } from './constants.js';
import { XdrType, boundedOpaqueLength, boundedString, boundedStringLength, linkedList } from './xdr-type.js';

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

export const rpcb = new XdrType<Rpcb>(
  'rpcb',
  (r) => ({
    prog: r.u32('rpcb.r_prog'),
    vers: r.u32('rpcb.r_vers'),
    netid: r.string(MAX_NETID, 'rpcb.r_netid'),
    addr: r.string(MAX_UADDR, 'rpcb.r_addr'),
    owner: r.string(MAX_OWNER, 'rpcb.r_owner'),
  }),
  (w, v) => {
    w.u32(v.prog, 'rpcb.r_prog').u32(v.vers, 'rpcb.r_vers');
    w.string(v.netid, MAX_NETID, 'rpcb.r_netid').string(v.addr, MAX_UADDR, 'rpcb.r_addr');
    w.string(v.owner, MAX_OWNER, 'rpcb.r_owner');
  },
  (v) =>
    8 +
    boundedStringLength(v.netid, MAX_NETID, 'rpcb.r_netid') +
    boundedStringLength(v.addr, MAX_UADDR, 'rpcb.r_addr') +
    boundedStringLength(v.owner, MAX_OWNER, 'rpcb.r_owner'),
);

export const rpcblist = linkedList(rpcb, MAX_LIST, 'rpcblist');

/** GETADDR, GETVERSADDR and CALLIT answer with a universal address. */
export const uaddrString = boundedString(MAX_UADDR, 'uaddr');

export const rpcbEntry = new XdrType<RpcbEntry>(
  'rpcb_entry',
  (r) => ({
    maddr: r.string(MAX_UADDR, 'rpcb_entry.r_maddr'),
    netid: r.string(MAX_NETID, 'rpcb_entry.r_nc_netid'),
    semantics: r.u32('rpcb_entry.r_nc_semantics'),
    protofmly: r.string(MAX_NETID, 'rpcb_entry.r_nc_protofmly'),
    proto: r.string(MAX_NETID, 'rpcb_entry.r_nc_proto'),
  }),
  (w, e) => {
    w.string(e.maddr, MAX_UADDR, 'rpcb_entry.r_maddr').string(e.netid, MAX_NETID, 'rpcb_entry.r_nc_netid');
    w.u32(e.semantics, 'rpcb_entry.r_nc_semantics');
    w.string(e.protofmly, MAX_NETID, 'rpcb_entry.r_nc_protofmly').string(e.proto, MAX_NETID, 'rpcb_entry.r_nc_proto');
  },
  (e) =>
    4 +
    boundedStringLength(e.maddr, MAX_UADDR, 'rpcb_entry.r_maddr') +
    boundedStringLength(e.netid, MAX_NETID, 'rpcb_entry.r_nc_netid') +
    boundedStringLength(e.protofmly, MAX_NETID, 'rpcb_entry.r_nc_protofmly') +
    boundedStringLength(e.proto, MAX_NETID, 'rpcb_entry.r_nc_proto'),
);

export const rpcbEntryList = linkedList(rpcbEntry, MAX_LIST, 'rpcb_entry_list');

export const rmtCallRes = new XdrType<RmtCallRes>(
  'rpcb_rmtcallres',
  (r) => ({
    addr: r.string(MAX_UADDR, 'rpcb_rmtcallres.addr'),
    results: r.opaque(MAX_CALL_ARGS, 'rpcb_rmtcallres.results'),
  }),
  (w, v) => {
    w.string(v.addr, MAX_UADDR, 'rpcb_rmtcallres.addr').opaque(v.results, MAX_CALL_ARGS, 'rpcb_rmtcallres.results');
  },
  (v) =>
    boundedStringLength(v.addr, MAX_UADDR, 'rpcb_rmtcallres.addr') +
    boundedOpaqueLength(v.results.length, MAX_CALL_ARGS, 'rpcb_rmtcallres.results'),
);

export const netbuf = new XdrType<Netbuf>(
  'netbuf',
  (r) => ({ maxlen: r.u32('netbuf.maxlen'), buf: r.opaque(MAX_TADDR, 'netbuf.buf') }),
  (w, v) => {
    w.u32(v.maxlen, 'netbuf.maxlen').opaque(v.buf, MAX_TADDR, 'netbuf.buf');
  },
  (v) => 4 + boundedOpaqueLength(v.buf.length, MAX_TADDR, 'netbuf.buf'),
);

const addrStat = new XdrType<AddrStat>(
  'rpcbs_addrlist',
  (r) => ({
    prog: r.u32('rpcbs_addrlist.prog'),
    vers: r.u32('rpcbs_addrlist.vers'),
    success: r.i32('rpcbs_addrlist.success'),
    failure: r.i32('rpcbs_addrlist.failure'),
    netid: r.string(MAX_NETID, 'rpcbs_addrlist.netid'),
  }),
  (w, a) => {
    w.u32(a.prog, 'rpcbs_addrlist.prog').u32(a.vers, 'rpcbs_addrlist.vers');
    w.i32(a.success, 'rpcbs_addrlist.success').i32(a.failure, 'rpcbs_addrlist.failure');
    w.string(a.netid, MAX_NETID, 'rpcbs_addrlist.netid');
  },
  (a) => 16 + boundedStringLength(a.netid, MAX_NETID, 'rpcbs_addrlist.netid'),
);

const rmtCallStat = new XdrType<RmtCallStat>(
  'rpcbs_rmtcalllist',
  (r) => ({
    prog: r.u32('rpcbs_rmtcalllist.prog'),
    vers: r.u32('rpcbs_rmtcalllist.vers'),
    proc: r.u32('rpcbs_rmtcalllist.proc'),
    success: r.i32('rpcbs_rmtcalllist.success'),
    failure: r.i32('rpcbs_rmtcalllist.failure'),
    indirect: r.i32('rpcbs_rmtcalllist.indirect'),
    netid: r.string(MAX_NETID, 'rpcbs_rmtcalllist.netid'),
  }),
  (w, a) => {
    w.u32(a.prog, 'rpcbs_rmtcalllist.prog').u32(a.vers, 'rpcbs_rmtcalllist.vers');
    w.u32(a.proc, 'rpcbs_rmtcalllist.proc').i32(a.success, 'rpcbs_rmtcalllist.success');
    w.i32(a.failure, 'rpcbs_rmtcalllist.failure').i32(a.indirect, 'rpcbs_rmtcalllist.indirect');
    w.string(a.netid, MAX_NETID, 'rpcbs_rmtcalllist.netid');
  },
  (a) => 24 + boundedStringLength(a.netid, MAX_NETID, 'rpcbs_rmtcalllist.netid'),
);

const addrStatList = linkedList(addrStat, MAX_LIST, 'rpcbs_addrlist_ptr');
const rmtCallStatList = linkedList(rmtCallStat, MAX_LIST, 'rpcbs_rmtcalllist_ptr');

export const rpcbStat = new XdrType<RpcbStat>(
  'rpcb_stat',
  (r) => {
    const info: number[] = [];
    for (let i = 0; i < RPCBSTAT_HIGHPROC; i++) info.push(r.i32('rpcb_stat.info'));
    return {
      info,
      setinfo: r.i32('rpcb_stat.setinfo'),
      unsetinfo: r.i32('rpcb_stat.unsetinfo'),
      addrinfo: addrStatList.read(r),
      rmtinfo: rmtCallStatList.read(r),
    };
  },
  (w, s) => {
    if (s.info.length !== RPCBSTAT_HIGHPROC) {
      throw new XdrError('UNREPRESENTABLE', 'rpcb_stat.info', w.offset, `needs ${RPCBSTAT_HIGHPROC} counters, got ${s.info.length}`);
    }
    for (const n of s.info) w.i32(n, 'rpcb_stat.info');
    w.i32(s.setinfo, 'rpcb_stat.setinfo').i32(s.unsetinfo, 'rpcb_stat.unsetinfo');
    addrStatList.write(w, s.addrinfo);
    rmtCallStatList.write(w, s.rmtinfo);
  },
  (s) => RPCBSTAT_HIGHPROC * 4 + 8 + addrStatList.encodingLength(s.addrinfo) + rmtCallStatList.encodingLength(s.rmtinfo),
);

export const rpcbStatByVers = new XdrType<RpcbStatByVers>(
  'rpcb_stat_byvers',
  (r) => [rpcbStat.read(r), rpcbStat.read(r), rpcbStat.read(r)],
  (w, v) => {
    for (const s of v) rpcbStat.write(w, s);
  },
  (v) => rpcbStat.encodingLength(v[0]) + rpcbStat.encodingLength(v[1]) + rpcbStat.encodingLength(v[2]),
);
