import { RpcClient, bool, u32, type RpcClientOptions, type XdrCodec } from '@netboot/oncrpc-xdr';
import { IPPROTO_TCP, IPPROTO_UDP, PMAP_PORT, PMAP_PROG, PMAP_VERS, PmapProc, RPCB_VERS4, RpcbProc } from './constants.js';
import { mapping, pmaplist, type Mapping } from './pmap-messages.js';
import {
  netbuf,
  rpcb,
  rpcbEntryList,
  rpcblist,
  rpcbStatByVers,
  uaddrString,
  type Rpcb,
  type RpcbEntry,
  type RpcbStatByVers,
} from './rpcb-messages.js';

export type Protocol = 'tcp' | 'udp';

export interface PortmapClientOptions {
  /** Default 127.0.0.1: registrations are only accepted from loopback. */
  host?: string;
  /** Default 111. */
  port?: number;
  /** Default tcp, as libnfs and the kernel's mount helpers use. */
  transport?: Protocol;
  timeoutMs?: number;
  /** Send from a port below 1024 when running as root, as libtirpc does (default true). */
  reservedPort?: boolean;
}

/** A registration the portmapper refused (already taken, or the caller is not on loopback). */
export class PortmapError extends Error {
  override name = 'PortmapError';
}

const protNumber = (p: Protocol) => (p === 'tcp' ? IPPROTO_TCP : IPPROTO_UDP);

/**
 * A client of a portmapper: ours or Debian's rpcbind. Services use
 * registerService / unregisterService (version 2 SET/UNSET, which every
 * portmapper speaks); clients look ports up with getport. The rpcbind
 * version 3/4 calls are here too; note that rpcbind answers GETADDR for the
 * transport the question came over, whatever netid it names.
 */
export class PortmapClient {
  private constructor(
    private readonly rpc: RpcClient,
    readonly transport: Protocol,
  ) {}

  static async connect(opts: PortmapClientOptions = {}): Promise<PortmapClient> {
    const transport = opts.transport ?? 'tcp';
    const o: RpcClientOptions = {
      host: opts.host ?? '127.0.0.1',
      port: opts.port ?? PMAP_PORT,
      transport,
      reservedPort: opts.reservedPort ?? true,
    };
    if (opts.timeoutMs !== undefined) o.timeoutMs = opts.timeoutMs;
    return new PortmapClient(await RpcClient.connect(o), transport);
  }

  close(): void {
    this.rpc.close();
  }

  private async call<A, R>(vers: number, proc: number, argType: XdrCodec<A> | undefined, arg: A, resType: XdrCodec<R>): Promise<R> {
    const r = await this.rpc.call(PMAP_PROG, vers, proc, argType ? argType.encode(arg) : []);
    return resType.read(r);
  }

  /** NULL of a portmapper version: a liveness check. */
  async ping(vers = PMAP_VERS): Promise<void> {
    await this.rpc.call(PMAP_PROG, vers, PmapProc.NULL);
  }

  // Version 2 (RFC 1833 section 3)

  /** SET: map prog/vers on a protocol to a port. False when that mapping exists already. */
  register(prog: number, vers: number, protocol: Protocol, port: number): Promise<boolean> {
    return this.call(PMAP_VERS, PmapProc.SET, mapping, { prog, vers, prot: protNumber(protocol), port }, bool);
  }

  /** UNSET: drop prog/vers on both protocols. False when there was nothing to drop. */
  unregister(prog: number, vers: number): Promise<boolean> {
    return this.call(PMAP_VERS, PmapProc.UNSET, mapping, { prog, vers, prot: 0, port: 0 }, bool);
  }

  /** GETPORT: the port of prog/vers on a protocol, 0 when not registered. */
  getport(prog: number, vers: number, protocol: Protocol): Promise<number> {
    return this.call(PMAP_VERS, PmapProc.GETPORT, mapping, { prog, vers, prot: protNumber(protocol), port: 0 }, u32);
  }

  /** DUMP (version 2): every IPv4 TCP/UDP mapping. */
  dumpMappings(): Promise<Mapping[]> {
    return this.call(PMAP_VERS, PmapProc.DUMP, undefined, undefined, pmaplist);
  }

  /**
   * Registers a service's versions on its protocols, replacing whatever an
   * earlier run left behind. A mapping that is already there with the same
   * port counts as done: a version 2 mapping names only a port, so a second
   * instance of the service on another address of this host (registering
   * between our UNSET and SET) means the same to a client. Throws
   * PortmapError, saying which case it is, when the portmapper says no.
   */
  async registerService(prog: number, versions: number[], port: number, protocols: Protocol[] = ['tcp', 'udp']): Promise<void> {
    for (const vers of versions) {
      await this.unregister(prog, vers);
      for (const p of protocols) {
        if (await this.register(prog, vers, p, port)) continue;
        const held = await this.getport(prog, vers, p);
        if (held === port) continue;
        throw new PortmapError(
          held !== 0
            ? `program ${prog} version ${vers} on ${p} is registered at port ${held} by another server on this host, ` +
                `and the portmapper keeps the first registration; stop that server, or drop its entry with \`rpcinfo -d ${prog} ${vers}\``
            : `the portmapper refused to register program ${prog} version ${vers} on ${p} port ${port}; ` +
                'registrations are only accepted from the same host (loopback)',
        );
      }
    }
  }

  /** Drops every version of a service that registerService added. */
  async unregisterService(prog: number, versions: number[]): Promise<void> {
    for (const vers of versions) await this.unregister(prog, vers);
  }

  // rpcbind versions 3 and 4 (RFC 1833 section 2); `vers` picks 3 or 4.

  set(r: Rpcb, vers = RPCB_VERS4): Promise<boolean> {
    return this.call(vers, RpcbProc.SET, rpcb, r, bool);
  }

  /** UNSET of prog/vers on `netid`, or on every netid when it is empty. */
  unset(r: { prog: number; vers: number; netid?: string; owner?: string }, vers = RPCB_VERS4): Promise<boolean> {
    return this.call(vers, RpcbProc.UNSET, rpcb, { netid: '', addr: '', owner: '', ...r }, bool);
  }

  /** GETADDR: the universal address of prog/vers, '' when not registered. */
  getaddr(prog: number, progVers: number, netid: string = this.transport, vers = RPCB_VERS4): Promise<string> {
    return this.call(vers, RpcbProc.GETADDR, rpcb, { prog, vers: progVers, netid, addr: '', owner: '' }, uaddrString);
  }

  /** GETVERSADDR (version 4): like GETADDR, for exactly that version. */
  getversaddr(prog: number, progVers: number, netid: string = this.transport): Promise<string> {
    return this.call(RPCB_VERS4, RpcbProc.GETVERSADDR, rpcb, { prog, vers: progVers, netid, addr: '', owner: '' }, uaddrString);
  }

  dump(vers = RPCB_VERS4): Promise<Rpcb[]> {
    return this.call(vers, RpcbProc.DUMP, undefined, undefined, rpcblist);
  }

  /** GETTIME: the server's clock, seconds since the epoch. */
  gettime(vers = RPCB_VERS4): Promise<number> {
    return this.call(vers, RpcbProc.GETTIME, undefined, undefined, u32);
  }

  /** GETADDRLIST (version 4): every address of prog/vers in the caller's protocol family. */
  getaddrlist(prog: number, progVers: number): Promise<RpcbEntry[]> {
    return this.call(RPCB_VERS4, RpcbProc.GETADDRLIST, rpcb, { prog, vers: progVers, netid: '', addr: '', owner: '' }, rpcbEntryList);
  }

  /** GETSTAT (version 4): the counters `rpcinfo -m` prints. */
  getstat(): Promise<RpcbStatByVers> {
    return this.call(RPCB_VERS4, RpcbProc.GETSTAT, undefined, undefined, rpcbStatByVers);
  }

  /** UADDR2TADDR: the sockaddr bytes of a universal address. */
  async uaddr2taddr(uaddr: string, vers = RPCB_VERS4): Promise<Buffer> {
    return (await this.call(vers, RpcbProc.UADDR2TADDR, uaddrString, uaddr, netbuf)).buf;
  }

  /** TADDR2UADDR: the universal address of sockaddr bytes. */
  taddr2uaddr(taddr: Buffer, vers = RPCB_VERS4): Promise<string> {
    return this.call(vers, RpcbProc.TADDR2UADDR, netbuf, { maxlen: taddr.length, buf: taddr }, uaddrString);
  }
}
