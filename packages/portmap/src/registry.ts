import { IPPROTO_TCP, IPPROTO_UDP } from './constants.js';
import type { Mapping } from './pmap-messages.js';
import { parseUaddr } from './uaddr.js';

/** One registered service: program, version and netid name an address, and who registered it. */
export interface Registration {
  prog: number;
  vers: number;
  netid: string;
  /** Universal address; a wildcard host means "whichever local address the caller reached". */
  addr: string;
  owner: string;
}

/** The netid a version 2 protocol number stands for (version 2 only knows IPv4). */
export function netidForProt(prot: number): 'tcp' | 'udp' | undefined {
  return prot === IPPROTO_TCP ? 'tcp' : prot === IPPROTO_UDP ? 'udp' : undefined;
}

/** The version 2 protocol number of a netid, for IPv4 netids only. */
export function protForNetid(netid: string): number | undefined {
  return netid === 'tcp' ? IPPROTO_TCP : netid === 'udp' ? IPPROTO_UDP : undefined;
}

/** A registration as a version 2 mapping, or undefined when version 2 can't express it (IPv6, other netids). */
export function toMapping(r: Registration): Mapping | undefined {
  const prot = protForNetid(r.netid);
  const t = parseUaddr(r.addr);
  if (prot === undefined || !t || t.family !== 4) return undefined;
  return { prog: r.prog, vers: r.vers, prot, port: t.port };
}

/**
 * The table of registrations, keyed by program, version and netid. Pure:
 * policy (who may change it) lives with the procedures.
 */
export class Registry {
  private readonly entries: Registration[] = [];

  /** Adds a registration; false when that program, version and netid is already taken (as rpcbind answers). */
  set(r: Registration): boolean {
    if (this.entries.some((e) => e.prog === r.prog && e.vers === r.vers && e.netid === r.netid)) return false;
    this.entries.push({ ...r });
    return true;
  }

  /** The registrations of a program and version on `netid`, or on every netid when it is empty. */
  matching(prog: number, vers: number, netid = ''): Registration[] {
    return this.entries.filter((e) => e.prog === prog && e.vers === vers && (netid === '' || e.netid === netid));
  }

  /** Removes the registrations of a program and version on `netid`, or on every netid when it is empty. */
  unset(prog: number, vers: number, netid = ''): Registration[] {
    const removed: Registration[] = [];
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i];
      if (e.prog === prog && e.vers === vers && (netid === '' || e.netid === netid)) {
        removed.unshift(e);
        this.entries.splice(i, 1);
      }
    }
    return removed;
  }

  /**
   * The registration for a program on a netid: the exact version, or with
   * `anyVersion` the first registered version of the program, as the classic
   * portmapper answers GETPORT (and rpcbind GETADDR) so that a client asking
   * for version 0 or an unknown version still finds the service.
   */
  find(prog: number, vers: number, netid: string, anyVersion: boolean): Registration | undefined {
    let fallback: Registration | undefined;
    for (const e of this.entries) {
      if (e.prog !== prog || e.netid !== netid) continue;
      if (e.vers === vers) return e;
      fallback ??= e;
    }
    return anyVersion ? fallback : undefined;
  }

  /** Every registration of a program and version, on every netid. */
  versions(prog: number, vers: number): Registration[] {
    return this.entries.filter((e) => e.prog === prog && e.vers === vers);
  }

  /** Every registration, in the order they were made. */
  list(): readonly Registration[] {
    return this.entries;
  }
}
