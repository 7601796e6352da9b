import { run, start, type Running } from './processes.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

/**
 * Debian's rpcbind in network namespace `ns`, with a private /run (its socket
 * and lock files live there, and /run is not per namespace). Resolves once it
 * answers `rpcinfo -p 127.0.0.1` there: bounded retries, each one a refused
 * connection while rpcbind starts (it prints nothing when ready).
 */
export async function startRpcbind(t: Teardown, ns: string, programs: { rpcbind: string; rpcinfo: string }): Promise<Running> {
  const rpcbind = start(t, 'unshare', ['-m', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs tmpfs /run && exec ${programs.rpcbind} -f -w`], { ns });
  let gone = false;
  void rpcbind.exited.then(() => (gone = true));
  for (let attempt = 1; ; attempt++) {
    const p = await run(programs.rpcinfo, ['-p', '127.0.0.1'], { ns, timeoutMs: 5000 });
    if (p.code === 0) return rpcbind;
    if (gone || attempt === 300) throw new Error(`rpcbind did not answer rpcinfo after ${attempt} tries: ${p.stderr.trim()}; its output: ${rpcbind.output()}`);
  }
}
