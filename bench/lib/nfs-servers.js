// The NFS servers the NFS benchmarks compare, each started in a network
// namespace of its own on 127.0.0.1 (NFS 2049, MOUNT 20048 there, so nothing
// on the host clashes), and the client side: mount an export, find a file.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addVeth, createNetns, sh, startServer, waitFor, which } from './processes.js';

export const NFS_PORT = 2049;
export const MOUNTD_PORT = 20048;
/** The status port of `netboot serve --status-port`, inside the server's own namespace. */
const STATUS_PORT = 9469;
const cli = fileURLToPath(new URL('../../packages/netboot/dist/cli.js', import.meta.url));

/** The NFS threads of a netboot started with `--nfs-workers flag` (undefined: its default, one per core, at most 16). */
export const nfsThreads = (flag) => (flag ? Number(flag) : Math.min(16, availableParallelism()));

/** AUTH_SYS root: both servers export with no_root_squash, so the same caller reads everything. */
export const ROOT_CRED = { flavor: 1, stamp: 0, machine: 'bench', uid: 0, gid: 0, gids: [] };

/**
 * `netboot nfs` (its own portmapper on 111 of its namespace), exporting `dir`.
 * With `profileDir` the server runs under `node --cpu-prof` and writes its
 * profile there when stopped. `checkout` runs another built copy of netboot
 * (a baseline to compare a change with) instead of this one. With
 * `statusPort` the same NFS service runs under `netboot serve --status-port`
 * instead: boot events and metrics on, what they cost the hot path measured
 * by comparing a run with and one without (bench/compare.js); `serve`
 * alone runs `netboot serve` without it (the same process shape, no
 * observer), for comparing the two in one run. `args` are
 * more flags for the command (`--nfs-workers N`), `v8Flags` flags for node
 * itself (`--trace-deopt`: its output goes to the server's log). With `image` the export
 * is an image-backed node root made from the same files (see imageRoot).
 * Returns, besides the server, the export's path and `dataDir`, where its
 * files lie on disk (for warming the page cache).
 */
export async function startNetboot({ dir, work, profileDir, atExit, checkout, tag = 'netboot', statusPort = false, serve = statusPort, args = [], image = false, v8Flags = [] }) {
  const { ns, why } = createNetns('nbnfs', atExit);
  if (!ns) return { why };
  const exportsFile = join(work, `${tag}.exports`);
  const stateDir = join(work, `${tag}-state`);
  const root = image ? imageRoot({ dir, work, tag, stateDir, exportsFile, checkout }) : { exportPath: dir, dataDir: dir };
  if (root.why) return { why: root.why };
  writeFileSync(exportsFile, `${root.exportPath} 127.0.0.1(rw,no_root_squash,insecure,sync)\n`);
  const nodeArgs = [...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), ...v8Flags];
  const server = startServer(
    ns,
    process.execPath,
    [...nodeArgs, checkout ? join(checkout, 'packages/netboot/dist/cli.js') : cli, ...(serve ? ['serve'] : ['nfs']), ...(statusPort ? ['--status-port', String(STATUS_PORT)] : []),
      '--exports', exportsFile, '--listen', '127.0.0.1', '--nfs-port', String(NFS_PORT), '--mountd-port', String(MOUNTD_PORT), '--state-dir', stateDir, ...args],
    join(work, `${tag}.log`),
    atExit,
  );
  const ready = statusPort ? 'status: dashboard and /metrics on' : serve ? 'netboot serve: running' : 'nfs: serving';
  const what = statusPort ? 'netboot serve --status-port' : serve ? 'netboot serve' : 'netboot nfs';
  await waitFor(() => server.output().includes(ready) || server.exited, what);
  if (server.exited) return { why: `${what} did not start: ${server.output().trim()}` };
  if (image && !server.output().includes('is an image-backed node root')) return { why: `${what} did not take ${root.exportPath} as an image-backed root: ${server.output().trim()}` };
  return { ns, server, exportPath: root.exportPath, dataDir: root.dataDir };
}

/**
 * `dir` as an image-backed node root, as a user makes one: `netboot image
 * import bench DIR`, then `netboot add-node 127.0.0.1 --image bench` (the
 * bench's client address), whose root is then the export. add-node's exports
 * line is replaced by the bench's own (insecure: the clients do not bind a
 * reserved port). The node's reads fall through to the image's copy of the
 * files, `dataDir`.
 */
function imageRoot({ dir, work, tag, stateDir, exportsFile, checkout }) {
  const netboot = checkout ? join(checkout, 'packages/netboot/dist/cli.js') : cli;
  const step = (args) => {
    const r = spawnSync(process.execPath, [netboot, ...args], { encoding: 'utf8', timeout: 600_000 });
    return r.status === 0 ? { out: r.stdout } : { why: `netboot ${args.slice(0, 2).join(' ')} failed: ${(r.stderr || r.error?.message || '').trim()}` };
  };
  const imported = step(['image', 'import', 'bench', dir, '--state-dir', stateDir]);
  if (imported.why) return imported;
  const generation = imported.out.trim();
  const diskless = join(work, `${tag}-diskless`);
  writeFileSync(exportsFile, '');
  writeFileSync(join(work, `${tag}.dhcpd.conf`), 'next-server 127.0.0.1;\n');
  const added = step(['add-node', '127.0.0.1', '--mac', '52:54:00:00:00:01', '--image', 'bench', '--state-dir', stateDir, '--diskless-root', diskless,
    '--exports', exportsFile, '--dhcp-conf', join(work, `${tag}.dhcpd.conf`), '--tftp-root', join(work, `${tag}-tftp`)]);
  if (added.why) return added;
  return { exportPath: join(diskless, '127.0.0.1'), dataDir: join(stateDir, 'images', 'bench', generation) };
}

function ganeshaConfig(dir, maxIo, bindAddress, clients, maxConnections) {
  return `NFS_CORE_PARAM {
  Protocols = 3;
  Bind_addr = ${bindAddress};${maxConnections ? `\n  RPC_Max_Connections = ${maxConnections};` : ''}
  NFS_Port = ${NFS_PORT};
  MNT_Port = ${MOUNTD_PORT};
  Enable_NLM = false;
  Enable_RQUOTA = false;
}
NFSV4 { Graceless = true; }
NFS_KRB5 { Active_krb5 = false; }
LOG { Default_Log_Level = EVENT; }
EXPORT {
  Export_Id = 1;
  Path = ${dir};
  Pseudo = ${dir};
  Protocols = 3;
  Transports = TCP, UDP;
  Access_Type = RW;
  Squash = No_Root_Squash;
  SecType = sys;
  MaxRead = ${maxIo};
  MaxWrite = ${maxIo};
  PrefRead = ${maxIo};
  PrefWrite = ${maxIo};
  FSAL { Name = VFS; }${clients ? `\n  CLIENT { Clients = ${clients}; Access_Type = RW; Squash = No_Root_Squash; }` : ''}
}
`;
}

/**
 * NFS-Ganesha (VFS FSAL, NFSv3 only) with Debian's rpcbind, both under a
 * private /run (rpcbind's socket and Ganesha's pid file live there). In a
 * namespace of its own on 127.0.0.1, or in `ns` (which has an address besides
 * loopback already) on `bindAddress`; `clients` (e.g. "198.18.0.0/15") adds a
 * CLIENT block for them; `maxConnections` raises Ganesha's TCP connection cap
 * (1024 by default).
 */
export async function startGanesha({ dir, work, atExit, maxIo = 1024 * 1024, ns: given, bindAddress = '127.0.0.1', clients, maxConnections }) {
  const ganesha = which('ganesha.nfsd');
  const rpcbind = which('rpcbind');
  if (!ganesha) return { why: 'not installed (apt-get install nfs-ganesha nfs-ganesha-vfs)' };
  if (!rpcbind) return { why: 'rpcbind is not installed (apt-get install rpcbind)' };
  if (sh('test', ['-e', '/usr/lib/x86_64-linux-gnu/ganesha/libfsalvfs.so']).status !== 0 && sh('sh', ['-c', 'ls /usr/lib/*/ganesha/libfsalvfs.so']).status !== 0) {
    return { why: 'the VFS FSAL is not installed (apt-get install nfs-ganesha-vfs)' };
  }
  let ns = given;
  if (!ns) {
    const made = createNetns('nbgan', atExit);
    if (!made.ns) return { why: made.why };
    ns = made.ns;
    // Ganesha resolves Bind_addr with AI_ADDRCONFIG: it needs an address besides loopback.
    const vethError = addVeth(ns);
    if (vethError) return { why: vethError };
  }
  const conf = join(work, 'ganesha.conf');
  writeFileSync(conf, ganeshaConfig(dir, maxIo, bindAddress, clients, maxConnections));
  const script = [
    'set -e',
    'mount -t tmpfs tmpfs /run',
    'mkdir -p /run/ganesha',
    `${rpcbind} -f > /dev/null 2>&1 &`,
    'for i in $(seq 50); do [ -S /run/rpcbind.sock ] && break; sleep 0.1; done',
    `exec ${ganesha} -F -L STDERR -f ${conf} -p /run/ganesha/ganesha.pid -N NIV_EVENT`,
  ].join('\n');
  const server = startServer(ns, 'unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], join(work, 'ganesha.log'), atExit);
  try {
    await waitFor(() => server.output().includes('NFS SERVER INITIALIZED') || server.exited, 'ganesha.nfsd', 30_000);
  } catch (e) {
    return { why: `${e.message}: ${server.output().trim().split('\n').slice(-3).join(' | ')}` };
  }
  if (server.exited) return { why: `ganesha.nfsd did not start: ${server.output().trim().split('\n').slice(-3).join(' | ')}` };
  return { ns, server, exportPath: dir };
}

/** Client side: MNT the export over TCP and return an NfsClient plus the root handle. */
export async function mountExport({ exportPath, transport = 'tcp', timeoutMs = 10_000 }) {
  const { MountClient } = await import('@netboot/mountd');
  const { NfsClient } = await import('@netboot/nfs3');
  const m = await MountClient.connect({ host: '127.0.0.1', port: MOUNTD_PORT, transport: 'tcp', cred: ROOT_CRED });
  let root;
  try {
    const r = await m.mnt(exportPath);
    if (r.status !== 0) throw new Error(`MNT ${exportPath} failed with status ${r.status}`);
    root = Buffer.from(r.fhandle);
  } finally {
    m.close();
  }
  const client = await NfsClient.connect({ host: '127.0.0.1', port: NFS_PORT, transport, cred: ROOT_CRED, timeoutMs, retransmitMs: 1000 });
  return { client, root };
}

/** The handle of `name` in the export root. */
export async function lookupFile(client, root, name) {
  const r = await client.lookup(root, name);
  if (r.status !== 0) throw new Error(`LOOKUP ${name} failed with status ${r.status}`);
  return r.object;
}

/**
 * The NFS server's own pid under the one started (for Ganesha the started pid is the unshare/sh wrapper, for
 * netboot its node), looked for among the started process and its descendants, at most 64 of them.
 */
export function nfsServerPid(startedPid, name) {
  const want = name === 'ganesha' ? /ganesha/ : /node/;
  const queue = [startedPid];
  for (let seen = 0; queue.length && seen < 64; seen++) {
    const p = queue.shift();
    try {
      if (want.test(readFileSync(`/proc/${p}/comm`, 'utf8').trim())) return p;
      for (const t of readdirSync(`/proc/${p}/task`)) {
        const kids = readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim();
        if (kids) queue.push(...kids.split(' ').map(Number));
      }
    } catch {
      // gone
    }
  }
  return undefined;
}
