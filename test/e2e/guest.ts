import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../support/processes.js';
import { repoRoot } from '../support/paths.js';
import { initramfs, type CpioEntry } from './cpio.js';
import { resolveModules } from './kmod.js';

/**
 * The diskless guest, built from Debian packages: the kernel, pxelinux and
 * busybox debs are fetched with `apt-get download` (never installed on the
 * host), unpacked with `dpkg -x`, and turned into boot files. Cached in
 * `.cache/e2e/<key>`, the key covering the package versions and this recipe.
 */
export interface Guest {
  /** The cache directory holding every file below. */
  dir: string;
  kernelRelease: string;
  /** name=version of every package the guest was built from. */
  packages: string[];
  vmlinuz: string;
  initrd: string;
  pxelinux: string;
  ldlinux: string;
  /** Static busybox: the userland of both the initramfs and the node root. */
  busybox: string;
  /** Modules the initramfs loads, in load order. */
  modules: string[];
}

/** The NIC driver (virtio-net-pci in QEMU) and the NFSv3 client, dependencies resolved from the modules. */
const WANTED_MODULES = ['virtio_pci', 'virtio_net', 'nfsv3'];

const CACHE = join(repoRoot, '.cache', 'e2e');

/** The files this recipe is made of: editing any of them rebuilds the guest. */
const RECIPE = ['guest.ts', 'cpio.ts', 'kmod.ts'].map((f) => fileURLToPath(new URL(f, import.meta.url)));

export async function must(cmd: string, args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await run(cmd, args, { timeoutMs: opts.timeoutMs ?? 120_000, cwd: opts.cwd, env: { ...process.env, LC_ALL: 'C' } });
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.timedOut ? 'timed out' : `exit ${r.code ?? r.signal}`}):\n${r.stderr}${r.stdout}`);
  }
  return r.stdout;
}

/** The real kernel package behind the linux-image-amd64 metapackage. */
async function kernelPackage(): Promise<string> {
  const out = await must('apt-cache', ['depends', 'linux-image-amd64']);
  const m = out.match(/Depends: (linux-image-[0-9]\S*)/);
  if (!m) throw new Error(`apt-cache depends linux-image-amd64 names no kernel package (run apt-get update?):\n${out}`);
  return m[1]!;
}

export async function candidateVersion(pkg: string): Promise<string> {
  const out = await must('apt-cache', ['show', '--no-all-versions', pkg]);
  const m = out.match(/^Version: (\S+)$/m);
  if (!m) throw new Error(`apt-cache show ${pkg} gives no version (run apt-get update?)`);
  return m[1]!;
}

/** /init of the initramfs: modules, DHCP, NFS root, switch_root. Markers start with "E2E-". */
const INIT = `#!/bin/sh
export PATH=/bin
fail() { echo "E2E-FAIL $*"; poweroff -f; sleep 5; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "E2E-INITRAMFS"
for m in $(cat /etc/modules); do insmod /lib/modules/$m.ko || fail "insmod $m"; done
ip link set lo up
iface=
for i in 1 2 3 4 5 6 7 8 9 10; do
  for d in /sys/class/net/*; do [ "\${d##*/}" != lo ] && iface=\${d##*/} && break; done
  [ -n "$iface" ] && break
  sleep 1
done
[ -n "$iface" ] || fail "no network interface"
ip link set "$iface" up
# A second, plain DHCP after the ROM's: it must get the same fixed address.
udhcpc -i "$iface" -f -q -n -t 10 -T 2 -s /bin/dhcp-event || fail "no DHCP lease"
nfsroot=
for arg in $(cat /proc/cmdline); do
  case "$arg" in nfsroot=*) nfsroot="\${arg#nfsroot=}" ;; esac
done
[ -n "$nfsroot" ] || fail "no nfsroot= on the kernel command line"
source="\${nfsroot%%,*}"
opts=
case "$nfsroot" in *,*) opts=",\${nfsroot#*,}" ;; esac
server="\${source%%:*}"
# busybox here has no NFS mount helper: mount(2) gets these text options as they are.
echo "E2E-MOUNTING $source nolock,addr=$server$opts"
mount -t nfs -o "nolock,addr=$server$opts" "$source" /root || fail "mount $source"
echo "E2E-ROOT-MOUNTED"
[ -x /root/sbin/init ] || fail "no /sbin/init in the NFS root"
umount /sys
umount /proc
umount /dev
exec switch_root /root /sbin/init
fail "switch_root"
`;

/** udhcpc's event script: configures the address it was given. */
const DHCP_EVENT = `#!/bin/sh
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    echo "E2E-DHCP ip=$ip mask=$mask server=$serverid"
    ;;
esac
exit 0
`;

function recipeHash(packages: string[]): string {
  const h = createHash('sha256');
  for (const p of packages) h.update(`${p}\n`);
  for (const f of RECIPE) h.update(readFileSync(f));
  return h.digest('hex').slice(0, 16);
}

function find(dir: string, name: string): string {
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.name === name && entry.isFile()) return join(entry.parentPath, entry.name);
  }
  throw new Error(`${name} not found under ${dir}`);
}

function buildInitramfs(busybox: Buffer, modules: { name: string; path: string }[]): Buffer {
  const entries: CpioEntry[] = [
    ...['bin', 'dev', 'etc', 'lib', 'lib/modules', 'proc', 'sys', 'root', 'tmp'].map((path) => ({ kind: 'dir' as const, path })),
    // The kernel opens /dev/console for init before anything is mounted.
    { kind: 'chardev', path: 'dev/console', major: 5, minor: 1 },
    { kind: 'file', path: 'bin/busybox', data: busybox, mode: 0o755 },
    ...['sh', 'cat', 'mount', 'umount', 'insmod', 'ip', 'udhcpc', 'sleep', 'poweroff', 'switch_root', 'echo'].map((applet) => ({
      kind: 'symlink' as const,
      path: `bin/${applet}`,
      target: 'busybox',
    })),
    { kind: 'file', path: 'init', data: Buffer.from(INIT), mode: 0o755 },
    { kind: 'file', path: 'bin/dhcp-event', data: Buffer.from(DHCP_EVENT), mode: 0o755 },
    { kind: 'file', path: 'etc/modules', data: Buffer.from(modules.map((m) => m.name).join('\n') + '\n') },
    ...modules.map((m) => ({ kind: 'file' as const, path: `lib/modules/${m.name}.ko`, data: readFileSync(m.path) })),
  ];
  return initramfs(entries);
}

/**
 * Returns the guest's boot files, building them (download, unpack, initramfs)
 * unless the cache already holds them for the current package versions.
 */
export async function prepareGuest(log: (line: string) => void = () => {}): Promise<Guest> {
  const kernel = await kernelPackage();
  const names = [kernel, 'pxelinux', 'syslinux-common', 'busybox-static'];
  const packages = await Promise.all(names.map(async (n) => `${n}=${await candidateVersion(n)}`));
  const key = recipeHash(packages);
  const dir = join(CACHE, key);
  const manifestPath = join(dir, 'guest.json');
  if (existsSync(manifestPath)) return JSON.parse(readFileSync(manifestPath, 'utf8')) as Guest;

  log(`building the guest from ${packages.join(' ')} into ${dir}`);
  mkdirSync(CACHE, { recursive: true });
  const work = mkdtempSync(join(CACHE, 'work-'));
  try {
    await must('apt-get', ['download', '-o', 'APT::Sandbox::User=root', ...packages], { cwd: work, timeoutMs: 300_000 });
    const tree = join(work, 'tree');
    for (const deb of readdirSync(work).filter((f) => f.endsWith('.deb'))) {
      await must('dpkg', ['-x', join(work, deb), tree]);
    }
    const kernelRelease = readdirSync(join(tree, 'lib', 'modules'))[0];
    if (!kernelRelease) throw new Error(`${kernel} holds no lib/modules/<release>`);
    const modules = resolveModules(join(tree, 'lib', 'modules', kernelRelease), WANTED_MODULES);
    const busybox = join(tree, 'bin', 'busybox');

    const out = mkdtempSync(join(CACHE, 'build-'));
    copyFileSync(join(tree, 'boot', `vmlinuz-${kernelRelease}`), join(out, 'vmlinuz'));
    copyFileSync(find(join(tree, 'usr', 'lib', 'PXELINUX'), 'pxelinux.0'), join(out, 'pxelinux.0'));
    copyFileSync(join(tree, 'usr', 'lib', 'syslinux', 'modules', 'bios', 'ldlinux.c32'), join(out, 'ldlinux.c32'));
    copyFileSync(busybox, join(out, 'busybox'));
    writeFileSync(join(out, 'initrd.gz'), buildInitramfs(readFileSync(busybox), modules));
    const guest: Guest = {
      dir,
      kernelRelease,
      packages,
      vmlinuz: join(dir, 'vmlinuz'),
      initrd: join(dir, 'initrd.gz'),
      pxelinux: join(dir, 'pxelinux.0'),
      ldlinux: join(dir, 'ldlinux.c32'),
      busybox: join(dir, 'busybox'),
      modules: modules.map((m) => m.name),
    };
    writeFileSync(join(out, 'guest.json'), JSON.stringify(guest, null, 2));
    // Older keys are stale package versions or recipes, and work dirs an
    // hour old were left by killed runs: keep only this build.
    for (const old of readdirSync(CACHE)) {
      const path = join(CACHE, old);
      const stale =
        (/^[0-9a-f]{16}$/.test(old) && old !== key) ||
        (/^(work|build)-/.test(old) && path !== work && path !== out && Date.now() - statSync(path).mtimeMs > 3_600_000);
      if (stale) rmSync(path, { recursive: true, force: true });
    }
    // Another test file built the same guest meanwhile (tap runs files in parallel): use its build,
    // whose files that test may be copying right now.
    if (existsSync(manifestPath)) {
      rmSync(out, { recursive: true, force: true });
      return JSON.parse(readFileSync(manifestPath, 'utf8')) as Guest;
    }
    rmSync(dir, { recursive: true, force: true });
    chmodSync(out, 0o755);
    renameSync(out, dir);
    return guest;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
