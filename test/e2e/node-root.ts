import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Guest } from './guest.js';

/**
 * The node's root in the guide's shape (`/diskless/<ip>`: etc home dev proc
 * tmp mnt root sys var usr opt, tmp world-writable, dev/console c 5 1) with
 * busybox as its userland, served over NFS. Its /sbin/init reads the
 * request the test wrote, writes a reply, keeps writing over NFS for about
 * three seconds (a running node's activity: boot events count a node `up`
 * after 2 s of NFS calls past the first READ of its init), prints markers
 * and powers off.
 */
const ROOT_INIT = `#!/bin/sh
export PATH=/bin:/sbin
fail() { echo "E2E-FAIL $*"; poweroff -f; sleep 5; }
echo "E2E-ROOT-INIT"
mount -t proc proc /proc || fail "mount /proc"
while read dev mnt type opts rest; do
  [ "$mnt" = / ] && [ "$type" = nfs ] && echo "E2E-NFSROOT $dev $opts"
done < /proc/mounts
read request < /e2e/request || fail "read /e2e/request"
echo "E2E-READ $request"
echo "reply:$request" > /e2e/reply || fail "write /e2e/reply"
sync
echo "E2E-WROTE"
for i in 1 2 3; do
  echo "$i" > /e2e/activity || fail "write /e2e/activity"
  sync
  sleep 1
done
echo "E2E-DONE"
poweroff -f
sleep 5
`;

const APPLETS = ['sh', 'cat', 'echo', 'mount', 'umount', 'sync', 'poweroff', 'ls', 'sleep'];

export interface NodeRoot {
  dir: string;
  /** What the test wrote for the node to read. */
  request: string;
  /** Where the node writes its reply. */
  replyPath: string;
}

/**
 * Builds (or rebuilds) the node's root at `dir` with a fresh request for
 * this boot. `dir` itself is kept: a running NFS server holds its export's
 * root by file handle, so only its contents are replaced.
 */
export function writeNodeRoot(dir: string, guest: Guest, request: string): NodeRoot {
  mkdirSync(dir, { recursive: true });
  for (const entry of readdirSync(dir)) rmSync(join(dir, entry), { recursive: true, force: true });
  for (const d of ['bin', 'sbin', 'etc', 'home', 'dev', 'proc', 'tmp', 'mnt', 'root', 'sys', 'var/log', 'var/run', 'var/tmp', 'usr', 'opt', 'e2e']) {
    mkdirSync(join(dir, d), { recursive: true });
  }
  chmodSync(join(dir, 'tmp'), 0o1777);
  copyFileSync(guest.busybox, join(dir, 'bin', 'busybox'));
  chmodSync(join(dir, 'bin', 'busybox'), 0o755);
  for (const applet of APPLETS) symlinkSync('busybox', join(dir, 'bin', applet));
  writeFileSync(join(dir, 'sbin', 'init'), ROOT_INIT, { mode: 0o755 });
  writeFileSync(join(dir, 'etc', 'hostname'), 'node1\n');
  writeFileSync(join(dir, 'etc', 'fstab'), 'proc /proc proc defaults 0 0\n');
  // A device node needs mknod(2), which Node does not offer; the test runs as root.
  execFileSync('mknod', ['-m', '600', join(dir, 'dev', 'console'), 'c', '5', '1']);
  writeFileSync(join(dir, 'e2e', 'request'), `${request}\n`);
  chmodSync(join(dir, 'e2e'), 0o777);
  return { dir, request, replyPath: join(dir, 'e2e', 'reply') };
}

/** The node's reply, or undefined when it wrote none. */
export function readReply(root: NodeRoot): string | undefined {
  return existsSync(root.replyPath) ? readFileSync(root.replyPath, 'utf8') : undefined;
}
