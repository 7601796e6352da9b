import type { Test } from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, start, type Running } from '../support/processes.js';
import type { VmNetwork } from './vm.js';

/** Where Ganesha and rpcbind are found (from `requirePrograms`). */
export interface GaneshaPrograms {
  'ganesha.nfsd': string;
  rpcbind: string;
  rpcinfo: string;
  unshare: string;
}

/** One node's root: exported read-write to that node's address only, root not squashed (as the guide's exports). */
export interface GaneshaRoot {
  dir: string;
  ip: string;
}

function ganeshaConfig(net: VmNetwork, roots: readonly GaneshaRoot[]): string {
  const exports = roots.map(
    (r, i) => `EXPORT {
  Export_Id = ${i + 1};
  Path = ${r.dir};
  Pseudo = ${r.dir};
  Protocols = 3;
  Transports = TCP, UDP;
  Access_Type = NONE;
  Squash = No_Root_Squash;
  SecType = sys;
  FSAL { Name = VFS; }
  CLIENT { Clients = ${r.ip}; Access_Type = RW; }
}
`,
  );
  return `NFS_CORE_PARAM {
  Protocols = 3;
  Bind_addr = ${net.serverAddr};
  NFS_Port = 2049;
  MNT_Port = 20048;
  Enable_NLM = false;
  Enable_RQUOTA = false;
}
NFSV4 { Graceless = true; }
NFS_KRB5 { Active_krb5 = false; }
LOG { Default_Log_Level = EVENT; }
${exports.join('')}`;
}

/**
 * NFS-Ganesha (Debian's, VFS FSAL, NFSv3 without NLM) with its own rpcbind
 * in the scenario's network namespace, as the reference NFS server of the
 * hand-run boots that put netboot beside Debian's servers. Resolves once
 * Ganesha has registered MOUNT and NFS with rpcbind (it carries on when it
 * can't, and a boot would then fail at the portmapper); stopped by the test.
 */
export async function startReferenceGanesha(
  t: Test,
  progs: GaneshaPrograms,
  net: VmNetwork,
  roots: readonly GaneshaRoot[],
  work: string,
): Promise<Running> {
  const conf = join(work, 'ganesha.conf');
  writeFileSync(conf, ganeshaConfig(net, roots));
  // Ganesha registers with rpcbind through rpcbind's socket under /run,
  // which is not per namespace: both get a private /run.
  const script = [
    'set -e',
    'mount -t tmpfs tmpfs /run',
    'mkdir -p /run/ganesha',
    // -d keeps rpcbind's complaints on stderr rather than in a syslog nobody reads.
    `${progs.rpcbind} -f -d > /dev/null &`,
    'for i in $(seq 50); do [ -S /run/rpcbind.sock ] && break; sleep 0.1; done',
    '[ -S /run/rpcbind.sock ] || { echo "rpcbind did not start" >&2; exit 1; }',
    `exec ${progs['ganesha.nfsd']} -F -L STDERR -f ${conf} -p /run/ganesha/ganesha.pid -N NIV_EVENT`,
  ].join('\n');
  const ganesha = start(t, progs.unshare, ['-m', '--propagation', 'private', 'sh', '-c', script], { ns: net.ns });
  await ganesha.waitFor(/NFS SERVER INITIALIZED/, 60_000);
  const registered = await run(progs.rpcinfo, ['-p', net.serverAddr], { ns: net.ns, timeoutMs: 10_000 });
  t.match(registered.stdout, /100005\s+3\s+tcp\s+20048\s+mountd/, 'Ganesha registered MOUNT v3 with rpcbind');
  t.match(registered.stdout, /100003\s+3\s+tcp\s+2049\s+nfs/, 'Ganesha registered NFS v3 with rpcbind');
  return ganesha;
}
