import { RpcClient, RpcServer } from '@netboot/oncrpc-xdr';
import { PortmapClient } from '@netboot/portmap';
import { LockService, type LockServiceOptions } from './lock-service.js';
import { NLM_PROGRAM, NLM_V4 } from './nlm-wire.js';
import { NSM_PROGRAM, NSM_V1 } from './nsm-wire.js';

export interface LockDaemonOptions extends LockServiceOptions {
  /** Address to serve on (default 0.0.0.0). */
  listen?: string;
  /** Port of NLM and NSM, UDP and TCP (default 0: one the kernel picks, as rpc.statd and the kernel's lockd do). */
  port?: number;
  /** The portmapper to register with, on this host (default 111). */
  portmapPort?: number;
}

export interface LockDaemon {
  readonly port: number;
  readonly service: LockService;
  /** Unregisters from the portmapper and closes the sockets. */
  close(): Promise<void>;
}

/**
 * NLM v4 and NSM v1 on one UDP+TCP port, registered with the local
 * portmapper. When another lock manager or status monitor is registered
 * there already (the kernel's lockd and rpc.statd run on any host that has
 * NFS mounts or serves NFS itself) this refuses to start rather than take
 * their registrations over and break that host's own locking. A
 * registration nothing answers at (one of ours, killed) is taken over.
 */
/** Whether something answers NULL of prog/vers on this host's `port` (TCP, then UDP). */
async function answers(prog: number, vers: number, port: number): Promise<boolean> {
  for (const transport of ['tcp', 'udp'] as const) {
    try {
      const c = await RpcClient.connect({ host: '127.0.0.1', port, transport, timeoutMs: 1500, retransmitMs: 300 });
      try {
        await c.call(prog, vers, 0);
        return true;
      } finally {
        c.close();
      }
    } catch {
      // refused, or silent: try the other transport
    }
  }
  return false;
}

export async function startLockDaemon(opts: LockDaemonOptions = {}): Promise<LockDaemon> {
  const log = opts.log ?? ((l: string) => console.error(l));
  const host = opts.listen ?? '0.0.0.0';
  const pmap = await PortmapClient.connect({ port: opts.portmapPort ?? 111, timeoutMs: 3000 });
  const closers: (() => Promise<unknown> | unknown)[] = [() => pmap.close()];
  const closeAll = async () => {
    for (const c of closers.reverse()) await Promise.resolve(c()).catch((e: unknown) => log(`nlm: while stopping: ${String(e)}`));
    closers.length = 0;
  };
  try {
    for (const [prog, vers, what] of [
      [NLM_PROGRAM, NLM_V4, 'lock manager (the kernel lockd of an NFS server or client)'],
      [NSM_PROGRAM, NSM_V1, 'status monitor (rpc.statd)'],
    ] as const) {
      const there = (await pmap.getport(prog, vers, 'udp')) || (await pmap.getport(prog, vers, 'tcp'));
      if (there !== 0 && !(await answers(prog, vers, there))) {
        // Left by a run of ours killed before it could unregister: replaced below.
        log(`nlm: program ${prog} is registered on port ${there}, where nothing answers: taking the registration over`);
      } else if (there !== 0) {
        throw new Error(
          `another ${what} is registered with the portmapper (program ${prog}, port ${there}); ` +
            'stop it (systemctl stop rpc-statd nfs-server; umount NFS mounts) or serve without locking (--no-lock)',
        );
      }
    }
    const service = await LockService.start(opts);
    closers.push(() => service.close());
    const rpc = new RpcServer({ log });
    service.register(rpc);
    let port: number;
    try {
      port = await rpc.listen({ host, port: opts.port ?? 0 });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') throw new Error(`the lock manager port ${opts.port} on ${host} is in use: choose another with --nlm-port`);
      throw e;
    }
    closers.push(() => rpc.close());
    await pmap.registerService(NLM_PROGRAM, [NLM_V4], port);
    await pmap.registerService(NSM_PROGRAM, [NSM_V1], port);
    closers.push(async () => {
      await pmap.unregisterService(NSM_PROGRAM, [NSM_V1]);
      await pmap.unregisterService(NLM_PROGRAM, [NLM_V4]);
    });
    service.announceRestart();
    return { port, service, close: closeAll };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
