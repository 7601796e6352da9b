import { bool, u32, type ProcedureHandler, type RpcCall, type RpcResult, type XdrCodec } from '@netboot/oncrpc-xdr';
import { NC_TPI_CLTS, NC_TPI_COTS_ORD, PmapProc, RpcbProc } from './constants.js';
import { mergeUaddr } from './local-address.js';
import { callArgs, mapping, pmaplist } from './pmap-messages.js';
import { Registry, netidForProt, toMapping, type Registration } from './registry.js';
import { netbuf, rpcb, rpcbEntryList, rpcblist, rpcbStatByVers, uaddrString, type RpcbEntry } from './rpcb-messages.js';
import { RpcbStats, type StatVersion } from './stats.js';
import { taddrToUaddr, uaddrToTaddr } from './taddr.js';
import { formatUaddr, isLoopback, parseUaddr } from './uaddr.js';

/** What the procedures need from around them; everything with a clock or a socket comes in here. */
export interface PortmapContext {
  registry: Registry;
  stats: RpcbStats;
  /** Milliseconds since the epoch, for GETTIME. */
  now(): number;
  /** Registrations and unregistrations (from loopback only, so never a flood). */
  log(line: string): void;
  /** Refusals, which anyone on the network can provoke: rate-limited per key. */
  logLimited(key: string, line: string): void;
  /** The local address the caller reached (resolving a wildcard-bound socket), or undefined. */
  localAddress(call: RpcCall): string | undefined;
}

export type ProcedureTable = Record<number, ProcedureHandler>;

function ok<T>(type: XdrCodec<T>, v: T): RpcResult {
  return { stat: 0, body: [type.encode(v)] };
}

const VOID: RpcResult = { stat: 0, body: [] };
// CALLIT and friends are never forwarded: see refuseRemoteCall.
const PROC_UNAVAIL: RpcResult = { stat: 3 };

/** The netid of the transport a call came in on; rpcbind answers lookups for that transport. */
export function callNetid(call: RpcCall): string {
  return call.remote.family === 'IPv6' ? `${call.transport}6` : call.transport;
}

function caller(call: RpcCall): string {
  return `${call.remote.address}:${call.remote.port}`;
}

/**
 * Who a loopback caller is, as rpcbind judges it over IP: only root can send
 * from a reserved port, so that makes the caller "superuser"; anyone else is
 * "unknown". The r_owner a caller sends is not believed.
 */
function callerOwner(call: RpcCall): string {
  return call.remote.port < 1024 ? 'superuser' : 'unknown';
}

function describe(r: Registration): string {
  return `program ${r.prog} version ${r.vers} ${r.netid} ${r.addr} owner ${r.owner}`;
}

/**
 * The portmapper's procedures for versions 2, 3 and 4, as handler tables
 * for RpcServer. Registration changes are accepted only from loopback
 * callers, as rpcbind does, so nobody on the network can point a client at
 * their own server.
 */
export function portmapProcedures(ctx: PortmapContext): { 2: ProcedureTable; 3: ProcedureTable; 4: ProcedureTable } {
  const { registry, stats } = ctx;

  const counted =
    (v: StatVersion, proc: number, handler: ProcedureHandler): ProcedureHandler =>
    (call) => {
      stats.call(v, proc);
      return handler(call);
    };

  const allowedToChange = (call: RpcCall, what: string, prog: number): boolean => {
    if (isLoopback(call.remote.address)) return true;
    ctx.logLimited(
      `portmap refusal ${call.remote.address}`,
      `portmap: refused ${what} of program ${prog} from ${caller(call)}: only loopback callers may change registrations`,
    );
    return false;
  };

  const lookup = (v: StatVersion, call: RpcCall, prog: number, vers: number, netid: string, anyVersion: boolean) => {
    const found = registry.find(prog, vers, netid, anyVersion);
    stats.lookup(v, prog, vers, netid, found !== undefined);
    return found && mergeUaddr(found.addr, ctx.localAddress(call));
  };

  /** UNSET of prog/vers on a netid ('' = all), allowed when the caller owns every entry it would drop, or is root. */
  const unset = (call: RpcCall, prog: number, vers: number, netids: string[]): boolean => {
    const owner = callerOwner(call);
    const doomed = netids.flatMap((n) => registry.matching(prog, vers, n));
    const foreign = doomed.find((r) => owner !== 'superuser' && r.owner !== owner);
    if (foreign) {
      ctx.logLimited(
        `portmap unset owner ${call.remote.address}`,
        `portmap: refused UNSET of ${describe(foreign)} from ${caller(call)} (${owner}): only its owner or root may`,
      );
      return false;
    }
    const removed = netids.flatMap((n) => registry.unset(prog, vers, n));
    for (const r of removed) ctx.log(`portmap: unregistered ${describe(r)}`);
    return removed.length > 0;
  };

  const refuseRemoteCall = (v: StatVersion, call: RpcCall): RpcResult => {
    // rpcbind forwards CALLIT only when started with -r: forwarding lets anyone bounce
    // calls off this host with its address (and reserved port) as the source. A refusal
    // reply rather than silence, so a TCP caller is not left waiting for its timeout.
    const a = callArgs.read(call.args);
    stats.refusedCall(v, a.prog, a.vers, a.proc, callNetid(call));
    return PROC_UNAVAIL;
  };

  const v2: ProcedureTable = {
    [PmapProc.NULL]: counted(0, PmapProc.NULL, () => VOID),
    [PmapProc.SET]: counted(0, PmapProc.SET, (call) => {
      const m = mapping.read(call.args);
      const netid = netidForProt(m.prot);
      let done = false;
      if (allowedToChange(call, 'SET', m.prog) && netid !== undefined && m.port <= 65535) {
        const addr = formatUaddr('0.0.0.0', m.port);
        const r: Registration = { prog: m.prog, vers: m.vers, netid, addr, owner: callerOwner(call) };
        done = registry.set(r);
        ctx.log(done ? `portmap: registered ${describe(r)}` : `portmap: SET of ${describe(r)} refused: already registered`);
      }
      stats.set(0, done);
      return ok(bool, done);
    }),
    [PmapProc.UNSET]: counted(0, PmapProc.UNSET, (call) => {
      const m = mapping.read(call.args);
      // Version 2 UNSET ignores the protocol and port: it drops the version on TCP and UDP.
      const done = allowedToChange(call, 'UNSET', m.prog) && unset(call, m.prog, m.vers, ['tcp', 'udp']);
      stats.unset(0, done);
      return ok(bool, done);
    }),
    [PmapProc.GETPORT]: counted(0, PmapProc.GETPORT, (call) => {
      const m = mapping.read(call.args);
      const netid = netidForProt(m.prot);
      const uaddr = netid === undefined ? undefined : lookup(0, call, m.prog, m.vers, netid, true);
      return ok(u32, (uaddr && parseUaddr(uaddr)?.port) || 0);
    }),
    [PmapProc.DUMP]: counted(0, PmapProc.DUMP, () =>
      ok(pmaplist, registry.list().flatMap((r) => toMapping(r) ?? [])),
    ),
    [PmapProc.CALLIT]: counted(0, PmapProc.CALLIT, (call) => refuseRemoteCall(0, call)),
  };

  const rpcbProcedures = (v: 1 | 2): ProcedureTable => ({
    [RpcbProc.NULL]: counted(v, RpcbProc.NULL, () => VOID),
    [RpcbProc.SET]: counted(v, RpcbProc.SET, (call) => {
      const a = rpcb.read(call.args);
      let done = false;
      if (allowedToChange(call, 'SET', a.prog) && a.netid !== '' && parseUaddr(a.addr) !== undefined) {
        const r: Registration = { ...a, owner: callerOwner(call) };
        done = registry.set(r);
        ctx.log(done ? `portmap: registered ${describe(r)}` : `portmap: SET of ${describe(r)} refused: already registered`);
      }
      stats.set(v, done);
      return ok(bool, done);
    }),
    [RpcbProc.UNSET]: counted(v, RpcbProc.UNSET, (call) => {
      const a = rpcb.read(call.args);
      const done = allowedToChange(call, 'UNSET', a.prog) && unset(call, a.prog, a.vers, [a.netid]);
      stats.unset(v, done);
      return ok(bool, done);
    }),
    [RpcbProc.GETADDR]: counted(v, RpcbProc.GETADDR, (call) => {
      const a = rpcb.read(call.args);
      return ok(uaddrString, lookup(v, call, a.prog, a.vers, callNetid(call), true) ?? '');
    }),
    [RpcbProc.DUMP]: counted(v, RpcbProc.DUMP, () => ok(rpcblist, [...registry.list()])),
    [RpcbProc.CALLIT]: counted(v, RpcbProc.CALLIT, (call) => refuseRemoteCall(v, call)),
    [RpcbProc.GETTIME]: counted(v, RpcbProc.GETTIME, () => ok(u32, Math.floor(ctx.now() / 1000) >>> 0)),
    [RpcbProc.UADDR2TADDR]: counted(v, RpcbProc.UADDR2TADDR, (call) => {
      const taddr = uaddrToTaddr(uaddrString.read(call.args));
      return ok(netbuf, taddr ? { maxlen: taddr.length, buf: taddr } : { maxlen: 0, buf: Buffer.alloc(0) });
    }),
    [RpcbProc.TADDR2UADDR]: counted(v, RpcbProc.TADDR2UADDR, (call) => {
      return ok(uaddrString, taddrToUaddr(netbuf.read(call.args).buf) ?? '');
    }),
  });

  const v4: ProcedureTable = {
    ...rpcbProcedures(2),
    [RpcbProc.GETVERSADDR]: counted(2, RpcbProc.GETVERSADDR, (call) => {
      const a = rpcb.read(call.args);
      return ok(uaddrString, lookup(2, call, a.prog, a.vers, callNetid(call), false) ?? '');
    }),
    [RpcbProc.INDIRECT]: counted(2, RpcbProc.INDIRECT, (call) => refuseRemoteCall(2, call)),
    [RpcbProc.GETADDRLIST]: counted(2, RpcbProc.GETADDRLIST, (call) => {
      const a = rpcb.read(call.args);
      const family = call.remote.family === 'IPv6' ? 'inet6' : 'inet';
      const local = ctx.localAddress(call);
      const entries: RpcbEntry[] = [];
      for (const r of registry.versions(a.prog, a.vers)) {
        const nc = netconfig(r.netid);
        // Like rpcbind: only addresses of the caller's protocol family.
        if (!nc || nc.protofmly !== family) continue;
        entries.push({ maddr: mergeUaddr(r.addr, local), netid: r.netid, ...nc });
      }
      stats.lookup(2, a.prog, a.vers, callNetid(call), entries.length > 0);
      return ok(rpcbEntryList, entries);
    }),
    [RpcbProc.GETSTAT]: counted(2, RpcbProc.GETSTAT, () => ok(rpcbStatByVers, stats.snapshot())),
  };

  return { 2: v2, 3: rpcbProcedures(1), 4: v4 };
}

/** The netconfig(5) facts GETADDRLIST reports for the netids an IP portmapper knows. */
function netconfig(netid: string): { semantics: number; protofmly: string; proto: string } | undefined {
  switch (netid) {
    case 'udp':
      return { semantics: NC_TPI_CLTS, protofmly: 'inet', proto: 'udp' };
    case 'tcp':
      return { semantics: NC_TPI_COTS_ORD, protofmly: 'inet', proto: 'tcp' };
    case 'udp6':
      return { semantics: NC_TPI_CLTS, protofmly: 'inet6', proto: 'udp' };
    case 'tcp6':
      return { semantics: NC_TPI_COTS_ORD, protofmly: 'inet6', proto: 'tcp' };
    default:
      return undefined;
  }
}
