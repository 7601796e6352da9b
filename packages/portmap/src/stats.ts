import { RPCBSTAT_HIGHPROC } from './constants.js';
import type { AddrStat, RmtCallStat, RpcbStat, RpcbStatByVers } from './rpcb-messages.js';

/** GETSTAT's slot for a protocol version: 0 for portmapper version 2, 1 for rpcbind 3, 2 for rpcbind 4. */
export type StatVersion = 0 | 1 | 2;

// Counters are XDR ints; they stop at the top instead of wrapping negative.
const INT_MAX = 0x7fffffff;
const bump = (n: number) => (n < INT_MAX ? n + 1 : n);

function empty(): RpcbStat {
  return { info: new Array<number>(RPCBSTAT_HIGHPROC).fill(0), setinfo: 0, unsetinfo: 0, addrinfo: [], rmtinfo: [] };
}

/** Bound on distinct (program, version, netid) rows, so lookups of random programs can't grow the table forever. */
const MAX_ROWS = 256;

/**
 * The counters rpcbind keeps for GETSTAT (`rpcinfo -m`): calls per
 * procedure, successful SETs and UNSETs, and lookups per program.
 */
export class RpcbStats {
  private readonly byVers: RpcbStatByVers = [empty(), empty(), empty()];

  call(v: StatVersion, proc: number): void {
    const s = this.byVers[v];
    if (proc < RPCBSTAT_HIGHPROC) s.info[proc] = bump(s.info[proc]);
  }

  set(v: StatVersion, ok: boolean): void {
    if (ok) this.byVers[v].setinfo = bump(this.byVers[v].setinfo);
  }

  unset(v: StatVersion, ok: boolean): void {
    if (ok) this.byVers[v].unsetinfo = bump(this.byVers[v].unsetinfo);
  }

  lookup(v: StatVersion, prog: number, vers: number, netid: string, found: boolean): void {
    const rows = this.byVers[v].addrinfo;
    let row: AddrStat | undefined = rows.find((r) => r.prog === prog && r.vers === vers && r.netid === netid);
    if (!row) {
      if (rows.length >= MAX_ROWS) return;
      row = { prog, vers, netid, success: 0, failure: 0 };
      rows.push(row);
    }
    if (found) row.success = bump(row.success);
    else row.failure = bump(row.failure);
  }

  /** A remote call that was refused (this portmapper never forwards). */
  refusedCall(v: StatVersion, prog: number, vers: number, proc: number, netid: string): void {
    const rows = this.byVers[v].rmtinfo;
    let row: RmtCallStat | undefined = rows.find(
      (r) => r.prog === prog && r.vers === vers && r.proc === proc && r.netid === netid,
    );
    if (!row) {
      if (rows.length >= MAX_ROWS) return;
      row = { prog, vers, proc, netid, success: 0, failure: 0, indirect: 0 };
      rows.push(row);
    }
    row.failure = bump(row.failure);
  }

  snapshot(): RpcbStatByVers {
    return this.byVers;
  }
}
