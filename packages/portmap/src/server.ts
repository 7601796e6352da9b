import { networkInterfaces } from 'node:os';
import { isIPv6 } from 'node:net';
import { RateLimitedLog } from '@netboot/log-text';
import { RpcServer, type RpcCall, type RpcServerOptions } from '@netboot/oncrpc-xdr';
import { PMAP_PORT, PMAP_PROG, PMAP_VERS, RPCB_VERS, RPCB_VERS4 } from './constants.js';
import { localAddressFor, type InterfaceAddress } from './local-address.js';
import { portmapProcedures } from './procedures.js';
import { Registry } from './registry.js';
import { RpcbStats } from './stats.js';
import { formatUaddr, isLoopback, isWildcard, unmapIPv4 } from './uaddr.js';

export interface PortmapServerOptions {
  /** Where registrations, refusals and RPC faults are logged (default: console.error). */
  log?: (line: string) => void;
  /** Clock for GETTIME (default Date.now). */
  now?: () => number;
  /** Local interfaces, for answering callers of a wildcard-bound socket (default os.networkInterfaces()). */
  interfaces?: () => InterfaceAddress[];
  /** Passed to the RPC server (limits, idle timeout). */
  rpc?: Omit<RpcServerOptions, 'log'>;
}

export interface PortmapListenOptions {
  /** Address to listen on (default 0.0.0.0). */
  host?: string;
  /** Port for UDP and TCP (default 111; 0 picks a free one). */
  port?: number;
}

function systemInterfaces(): InterfaceAddress[] {
  return Object.values(networkInterfaces()).flatMap((list) => list ?? []);
}

/**
 * The portmapper (version 2) and rpcbind (versions 3 and 4) over UDP and
 * TCP. Bound to a specific address it also listens on loopback at the same
 * port, as rpcbind -h does, because registrations are only accepted from
 * loopback callers.
 */
export class PortmapServer {
  readonly registry = new Registry();
  readonly stats = new RpcbStats();
  private readonly rpc: RpcServer;
  private readonly interfaces: () => InterfaceAddress[];

  constructor(opts: PortmapServerOptions = {}) {
    const log = opts.log ?? ((line: string) => console.error(line));
    this.interfaces = opts.interfaces ?? systemInterfaces;
    this.rpc = new RpcServer({ ...opts.rpc, log });
    const limited = new RateLimitedLog(log);
    const procs = portmapProcedures({
      registry: this.registry,
      stats: this.stats,
      now: opts.now ?? Date.now,
      log,
      logLimited: (key, line) => limited.log(key, line),
      localAddress: (call) => this.localAddress(call),
    });
    this.rpc.register(PMAP_PROG, PMAP_VERS, procs[2]);
    this.rpc.register(PMAP_PROG, RPCB_VERS, procs[3]);
    this.rpc.register(PMAP_PROG, RPCB_VERS4, procs[4]);
  }

  /** Binds UDP and TCP and registers the portmapper itself; resolves to the port. */
  async listen(opts: PortmapListenOptions = {}): Promise<number> {
    const host = opts.host ?? '0.0.0.0';
    const port = await this.rpc.listen({ host, port: opts.port ?? PMAP_PORT });
    const v6 = isIPv6(host);
    if (!isWildcard(host) && !isLoopback(host)) {
      await this.rpc.listen({ host: v6 ? '::1' : '127.0.0.1', port });
    }
    // A socket on :: is dual-stack, so it serves IPv4 callers too.
    const families = host === '::' ? ['', '6'] : v6 ? ['6'] : [''];
    for (const vers of [PMAP_VERS, RPCB_VERS, RPCB_VERS4]) {
      for (const six of families) {
        const addr = formatUaddr(six ? '::' : '0.0.0.0', port);
        for (const proto of ['tcp', 'udp']) {
          this.registry.set({ prog: PMAP_PROG, vers, netid: proto + six, addr, owner: 'superuser' });
        }
      }
    }
    return port;
  }

  close(): Promise<void> {
    return this.rpc.close();
  }

  private localAddress(call: RpcCall): string | undefined {
    const local = unmapIPv4(call.local.address);
    if (!isWildcard(local)) return local;
    return localAddressFor(unmapIPv4(call.remote.address), this.interfaces());
  }
}
