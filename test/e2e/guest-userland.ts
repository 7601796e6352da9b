import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Programs of this machine put into a node's root for the guest to run:
 * the node root has only static busybox, so a dynamically linked program
 * goes in with the shared libraries (and loader) `ldd` names, at the same
 * paths.
 */

/** Copies a program and every shared library ldd names (and the loader) to the same paths under `root`. */
export function copyWithLibraries(root: string, program: string, into: string): void {
  const target = join(root, into);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(realpathSync(program), target);
  chmodSync(target, 0o755);
  const ldd = execFileSync('ldd', [program], { encoding: 'utf8' });
  for (const m of ldd.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)) {
    const lib = m[1]!;
    const dest = join(root, lib);
    if (existsSync(dest)) continue;
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(realpathSync(lib), dest);
  }
}

/**
 * What the guest's lockd needs to mount without `nolock`: Debian's rpcbind
 * and rpc.statd (without them the mount fails or locks fail with ENOLCK),
 * flock, and the files they read.
 */
export function addLockingUserland(root: string, server: string, ip: string): void {
  copyWithLibraries(root, '/usr/sbin/rpcbind', 'sbin/rpcbind');
  copyWithLibraries(root, '/usr/sbin/rpc.statd', 'sbin/rpc.statd');
  copyWithLibraries(root, '/usr/bin/flock', 'bin/flock');
  for (const f of ['netconfig', 'protocols', 'services']) copyFileSync(join('/etc', f), join(root, 'etc', f));
  writeFileSync(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n_rpc:x:100:65534::/run/rpcbind:/bin/false\nstatd:x:101:65534::/var/lib/nfs:/bin/false\n');
  writeFileSync(join(root, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  writeFileSync(join(root, 'etc', 'nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files\n');
  writeFileSync(join(root, 'etc', 'hosts'), `127.0.0.1 localhost\n${ip} node1\n${server} master\n`);
  for (const d of ['run/rpcbind', 'var/lib/nfs/sm', 'var/lib/nfs/sm.bak']) mkdirSync(join(root, d), { recursive: true });
  // The kernel asks rpcbind at /var/run/rpcbind.sock.
  rmSync(join(root, 'var', 'run'), { recursive: true, force: true });
  execFileSync('ln', ['-s', '../run', join(root, 'var', 'run')]);
}

/**
 * Shell for the node's init that starts rpcbind and statd (on tmpfs /run,
 * with devtmpfs /dev) so an NFS mount with locking works; each daemon is
 * waited for, up to 30 s (loading libraries over NFS under TCG takes
 * seconds).
 */
export const START_LOCK_DAEMONS = String.raw`B=/bin/busybox
$B mount -t devtmpfs devtmpfs /dev
$B mount -t tmpfs tmpfs /run && $B mkdir -p /run/rpcbind
/sbin/rpcbind -f -w &
for i in $($B seq 1 30); do [ -S /run/rpcbind.sock ] && break; $B sleep 1; done
/sbin/rpc.statd -F --no-notify &
for i in $($B seq 1 30); do [ -e /run/rpc.statd.pid ] && break; $B sleep 1; done
`;
