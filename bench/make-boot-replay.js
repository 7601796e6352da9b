// Writes bench/boot-replay.json: the root tree of a small diskless node and the
// NFSv3 calls its boot makes, for bench/boot-storm.js to replay per node. It is
// a scripted walk that issues calls the way the Linux NFS client does, not a
// capture: this machine's kernel has no NFS client, and a QEMU guest boot was
// not recorded. What the walk copies from the kernel client:
// - nfsroot's mount: FSINFO, PATHCONF, FSINFO again and GETATTR of the root;
// - each path component is LOOKUPed once and then served from the dentry
//   cache; a directory gets one ACCESS the first time it is searched; symlinks
//   are READLINKed once;
// - opening a cached file revalidates it with GETATTR (close-to-open);
// - exec: ACCESS on the binary, the first page, then the pages the program
//   touches in readahead windows (128 KiB, rsize 1 MiB allows whole windows);
//   a file already in the page cache is not read again;
// - reading a directory is READDIRPLUS until eof (the replayer pages it);
// - writes go to new files (CREATE UNCHECKED, WRITE UNSTABLE, COMMIT on close).
// The init it models: busybox init and rc scripts, modprobe of a dozen modules,
// syslogd, dropbear, getty and login, plus a service manager reading a unit
// directory of a few hundred files (as systemd does at boot).
//
//   node bench/make-boot-replay.js [--out FILE]   (default: rewrites bench/boot-replay.json)
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const PAGE = 4096;
const WINDOW = 128 * 1024;
const KVER = '6.1.0-nb-amd64';

/** The tree: [type, path, size or symlink target]; sizes like Debian 12's files. */
const tree = [];
const dir = (p) => tree.push(['d', p]);
const file = (p, size) => tree.push(['f', p, size]);
const link = (p, target) => tree.push(['l', p, target]);

for (const d of ['bin', 'sbin', 'lib', 'lib/x86_64-linux-gnu', 'lib64', 'etc', 'etc/init.d', 'etc/rc.d', 'etc/network', 'etc/dropbear',
  'usr', 'usr/bin', 'usr/sbin', 'usr/lib', 'usr/lib/x86_64-linux-gnu', 'usr/lib/systemd', 'usr/lib/systemd/system', 'usr/share',
  'usr/share/zoneinfo', 'var', 'var/log', 'var/lib', 'run', 'tmp', 'proc', 'sys', 'dev', 'root', 'home',
  'lib/modules', `lib/modules/${KVER}`, `lib/modules/${KVER}/kernel`, `lib/modules/${KVER}/kernel/drivers`,
  `lib/modules/${KVER}/kernel/drivers/net`, `lib/modules/${KVER}/kernel/fs`]) dir(d);

file('bin/busybox', 772_880);
const APPLETS = ['sh', 'ash', 'cat', 'cp', 'dmesg', 'echo', 'grep', 'hostname', 'kill', 'ln', 'ls', 'mkdir', 'mknod', 'mount', 'mv', 'ps', 'rm',
  'sed', 'sleep', 'stty', 'touch', 'umount', 'uname', 'chmod', 'chown', 'date', 'df', 'login', 'pidof', 'sync', 'true', 'false', 'vi', 'which'];
for (const a of APPLETS) link(`bin/${a}`, 'busybox');
const SBIN = ['init', 'modprobe', 'insmod', 'ifconfig', 'route', 'getty', 'syslogd', 'klogd', 'mdev', 'swapon', 'halt', 'reboot', 'udhcpc', 'sysctl'];
for (const a of SBIN) link(`sbin/${a}`, '../bin/busybox');
const LIBS = { 'ld-linux-x86-64.so.2': 215_000, 'libc.so.6': 1_926_232, 'libm.so.6': 907_784, 'libresolv.so.2': 68_104, 'libnss_files.so.2': 14_408,
  'libcrypt.so.1': 206_520, 'libz.so.1.2.13': 121_280, 'libutil.so.1': 14_408, 'libpthread.so.0': 14_264, 'libdl.so.2': 14_408, 'librt.so.1': 14_664,
  'libgcc_s.so.1': 125_312, 'libselinux.so.1': 166_280, 'libpcre2-8.so.0.11.2': 629_384, 'libblkid.so.1.1.0': 232_720, 'libmount.so.1.1.0': 285_912,
  'libuuid.so.1.3.0': 34_888, 'libudev.so.1.7.5': 170_592, 'libkmod.so.2.4.0': 100_856, 'liblzma.so.5.4.1': 170_456, 'libzstd.so.1.5.4': 804_472,
  'libcap.so.2.66': 38_944, 'libacl.so.1.1.2301': 39_008, 'libattr.so.1.1.2501': 26_696, 'libtinfo.so.6.4': 200_136, 'libncursesw.so.6.4': 227_344 };
for (const [n, s] of Object.entries(LIBS)) file(`lib/x86_64-linux-gnu/${n}`, s);
link('lib/x86_64-linux-gnu/libz.so.1', 'libz.so.1.2.13');
link('lib64/ld-linux-x86-64.so.2', '../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2');
// Libraries present but not loaded: they make the directories as large as a real /lib.
for (let i = 0; i < 120; i++) file(`usr/lib/x86_64-linux-gnu/libunused${i}.so.${i % 7}`, 20_000 + ((i * 7919) % 400_000));
file('usr/lib/x86_64-linux-gnu/libcrypto.so.3', 4_709_656);
file('usr/sbin/dropbear', 318_600);
for (let i = 0; i < 150; i++) file(`usr/bin/tool${i}`, 8_000 + ((i * 104_729) % 300_000));

const ETC = { inittab: 1_102, fstab: 664, passwd: 1_210, group: 620, shadow: 720, hostname: 6, hosts: 186, 'resolv.conf': 56, 'nsswitch.conf': 494,
  profile: 769, issue: 27, 'ld.so.cache': 21_380, 'ld.so.conf': 34, 'mdev.conf': 1_893, modules: 195, securetty: 4_582, shells: 99, 'sysctl.conf': 2_355,
  'os-release': 267, 'network/interfaces': 299, 'dropbear/dropbear_rsa_host_key': 805, 'dropbear/dropbear_ecdsa_host_key': 141,
  'dropbear/dropbear_ed25519_host_key': 83, 'init.d/rcS': 1_424, 'init.d/rcK': 402 };
for (const [n, s] of Object.entries(ETC)) file(`etc/${n}`, s);
const RC = ['S01mountall', 'S02hostname', 'S03sysctl', 'S05modules', 'S10mdev', 'S20syslog', 'S30network', 'S40urandom', 'S50dropbear', 'S60ntpd',
  'S70cron', 'S80motd', 'S90local'];
for (const [i, n] of RC.entries()) file(`etc/rc.d/${n}`, 600 + i * 97);
link('etc/localtime', '../usr/share/zoneinfo/UTC');
file('usr/share/zoneinfo/UTC', 114);
link('var/run', '../run');

const MODS = { 'net/virtio_net.ko': 131_456, 'net/net_failover.ko': 27_648, 'net/failover.ko': 17_232, 'net/e1000.ko': 345_600, 'net/e1000e.ko': 589_312,
  'net/igb.ko': 612_600, 'net/r8169.ko': 231_760, 'net/tg3.ko': 468_032, 'fs/nfsv3.ko': 108_032, 'fs/nfs.ko': 1_108_240, 'fs/lockd.ko': 243_416,
  'fs/sunrpc.ko': 1_193_800, 'fs/grace.ko': 14_616, 'fs/fscache.ko': 139_264, 'fs/overlay.ko': 318_520, 'fs/squashfs.ko': 170_472 };
for (let i = 0; i < 60; i++) MODS[`net/other${i}.ko`] = 30_000 + ((i * 15_485) % 200_000);
for (const [n, s] of Object.entries(MODS)) file(`lib/modules/${KVER}/kernel/drivers/${n}`.replace('drivers/fs/', 'fs/'), s);
for (const [n, s] of Object.entries({ 'modules.dep.bin': 98_304, 'modules.alias.bin': 1_310_720, 'modules.symbols.bin': 794_624,
  'modules.builtin.bin': 16_384, 'modules.softdep': 1_024, 'modules.builtin.alias.bin': 20_480 })) file(`lib/modules/${KVER}/${n}`, s);

const UNITS = [];
for (let i = 0; i < 260; i++) {
  const name = `unit${String(i).padStart(3, '0')}.${i % 5 === 0 ? 'target' : i % 7 === 0 ? 'socket' : 'service'}`;
  UNITS.push(name);
  file(`usr/lib/systemd/system/${name}`, 300 + ((i * 2_654_435) % 1_500));
}
for (let i = 0; i < 12; i++) dir(`usr/lib/systemd/system/target${i}.wants`);
for (let i = 0; i < 12; i++) for (let j = 0; j < 4; j++) link(`usr/lib/systemd/system/target${i}.wants/unit${String(i * 4 + j).padStart(3, '0')}.service`, `../unit${String(i * 4 + j).padStart(3, '0')}.service`);

/** What the boot does, as the kernel client turns it into calls. */
const byPath = new Map(tree.map(([type, p, x]) => [p, { type, size: type === 'f' ? x : undefined, target: type === 'l' ? x : undefined }]));
const steps = [];
const dcache = new Set(['']);
const searched = new Set();
const pageCache = new Set();
const call = (c) => steps.push(c);
const parent = (p) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');
const join = (a, b) => (a ? `${a}/${b}` : b);

function normalize(p) {
  const out = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out.join('/');
}

/** Resolves `p` component by component; returns the final path (symlinks followed when `follow`), or undefined when missing. */
function resolve(p, follow = true, depth = 0) {
  let at = '';
  const parts = normalize(p).split('/').filter(Boolean);
  for (const [i, name] of parts.entries()) {
    if (!searched.has(at)) {
      call({ p: 'ACCESS', f: at, a: 0x1f });
      searched.add(at);
    }
    const next = join(at, name);
    const node = byPath.get(next);
    if (!dcache.has(next)) {
      call(node ? { p: 'LOOKUP', d: at, n: name } : { p: 'LOOKUP', d: at, n: name, x: 2 });
      if (node) dcache.add(next);
    }
    if (!node) return undefined;
    const last = i === parts.length - 1;
    if (node.type === 'l' && (follow || !last)) {
      if (!dcache.has(`${next}\0target`)) {
        call({ p: 'READLINK', f: next });
        dcache.add(`${next}\0target`);
      }
      if (depth > 8) throw new Error(`symlink loop at ${next}`);
      const target = node.target.startsWith('/') ? node.target : join(at, node.target);
      at = resolve(target, true, depth + 1);
      if (at === undefined) return undefined;
    } else at = next;
  }
  return at;
}

/** open(2): resolve, and revalidate an inode the client already had. */
function open(p) {
  const wasCached = dcache.has(normalize(p));
  const f = resolve(p);
  if (f !== undefined && wasCached) call({ p: 'GETATTR', f });
  return f;
}

/** Reads `share` of the file (from the start) in readahead windows, two windows in flight at once. */
function read(f, share = 1) {
  if (pageCache.has(f)) return;
  pageCache.add(f);
  const size = byPath.get(f).size;
  const end = Math.min(size, Math.ceil((size * share) / PAGE) * PAGE);
  const windows = [];
  for (let o = 0; o < Math.max(end, 1); o += WINDOW) {
    const c = Math.min(WINDOW, Math.ceil((Math.max(end, 1) - o) / PAGE) * PAGE);
    windows.push({ p: 'READ', f, o, c });
  }
  for (let i = 0; i < windows.length; i += 2) steps.push(windows.slice(i, i + 2));
}

function cat(p, share = 1) {
  const f = open(p);
  if (f !== undefined) read(f, share);
}

/** exec(2) of a dynamic binary: the binary, ld.so, then its libraries, each read where its pages are touched. */
function exec(p, libs = ['libc.so.6']) {
  const f = open(p);
  if (f === undefined) throw new Error(`exec of ${p}: not in the tree`);
  call({ p: 'ACCESS', f, a: 0x20 });
  if (!pageCache.has(f)) {
    call({ p: 'READ', f, o: 0, c: PAGE });
    read(f, 0.6);
  }
  if (pageCache.has('lib/x86_64-linux-gnu/libc.so.6')) {
    // ld.so and libc are mapped already: the loader only revalidates them.
    for (const l of libs) open(`/lib/x86_64-linux-gnu/${l}`);
    return;
  }
  cat('/lib64/ld-linux-x86-64.so.2', 0.7);
  open('/etc/ld.so.preload');
  cat('/etc/ld.so.cache');
  for (const l of libs) cat(`/lib/x86_64-linux-gnu/${l}`, 0.45);
}

function readdir(p) {
  const f = resolve(p);
  call({ p: 'READDIRPLUS', f });
  for (const [path, node] of byPath) if (parent(path) === f) dcache.add(path);
}

function create(p, bytes) {
  const d = resolve(parent(p));
  const name = p.slice(p.lastIndexOf('/') + 1);
  call({ p: 'CREATE', d, n: name });
  const f = join(d, name);
  for (let o = 0; o < bytes; o += 32 * 1024) call({ p: 'WRITE', f, o, c: Math.min(32 * 1024, bytes - o) });
  call({ p: 'COMMIT', f });
}

// The kernel mounts the root (nfs_get_root), then runs /sbin/init.
call({ p: 'FSINFO', f: '' });
call({ p: 'PATHCONF', f: '' });
call({ p: 'FSINFO', f: '' });
call({ p: 'GETATTR', f: '' });
exec('/sbin/init', ['libc.so.6', 'libm.so.6', 'libresolv.so.2']);
cat('/etc/inittab');
exec('/bin/sh');
cat('/etc/init.d/rcS');
readdir('/etc/rc.d');
const applets = ['mount', 'mkdir', 'hostname', 'sysctl', 'modprobe', 'mdev', 'syslogd', 'klogd', 'ifconfig', 'route', 'udhcpc', 'cat', 'grep', 'sed', 'echo', 'date', 'touch', 'chmod'];
for (const [i, s] of RC.entries()) {
  cat(`/etc/rc.d/${s}`);
  for (let k = 0; k < 4; k++) {
    const a = applets[(i * 3 + k) % applets.length];
    exec(`/${APPLETS.includes(a) ? 'bin' : 'sbin'}/${a}`);
  }
}
cat('/etc/fstab');
call({ p: 'FSSTAT', f: '' });
cat('/etc/hostname');
cat('/etc/sysctl.conf');
// modprobe: the index files, then each module and what it depends on.
for (const n of ['modules.softdep', 'modules.dep.bin', 'modules.alias.bin', 'modules.symbols.bin', 'modules.builtin.bin', 'modules.builtin.alias.bin']) {
  cat(`/lib/modules/${KVER}/${n}`, n === 'modules.alias.bin' ? 0.3 : 1);
}
cat('/etc/modules');
for (const m of ['drivers/net/failover.ko', 'drivers/net/net_failover.ko', 'drivers/net/virtio_net.ko', 'drivers/net/e1000.ko', 'fs/grace.ko',
  'fs/sunrpc.ko', 'fs/lockd.ko', 'fs/fscache.ko', 'fs/nfs.ko', 'fs/nfsv3.ko', 'fs/overlay.ko', 'fs/squashfs.ko']) cat(`/lib/modules/${KVER}/kernel/${m}`);
cat('/etc/mdev.conf');
cat('/etc/network/interfaces');
cat('/etc/hosts');
cat('/etc/resolv.conf');
cat('/etc/localtime');
create('/var/log/messages', 48 * 1024);
create('/run/syslogd.pid', 6);
// The service manager: its unit directory, the wants directories, the units it starts.
readdir('/usr/lib/systemd/system');
for (let i = 0; i < 12; i++) readdir(`/usr/lib/systemd/system/target${i}.wants`);
for (let i = 0; i < 48; i++) cat(`/usr/lib/systemd/system/target${Math.floor(i / 4)}.wants/${UNITS[i]}`);
for (let i = 48; i < 140; i += 2) cat(`/usr/lib/systemd/system/${UNITS[i]}`);
// dropbear with its libraries and host keys.
exec('/usr/sbin/dropbear', ['libc.so.6', 'libz.so.1', 'libcrypt.so.1', 'libutil.so.1']);
cat('/usr/lib/x86_64-linux-gnu/libcrypto.so.3', 0.25);
for (const k of ['rsa', 'ecdsa', 'ed25519']) cat(`/etc/dropbear/dropbear_${k}_host_key`);
create('/run/dropbear.pid', 5);
// Tools the scripts run once each from /usr/bin.
for (let i = 0; i < 30; i++) exec(`/usr/bin/tool${i * 5}`, ['libc.so.6', ...(i % 3 === 0 ? ['libselinux.so.1', 'libpcre2-8.so.0.11.2'] : [])]);
readdir('/usr/lib/x86_64-linux-gnu');
// getty and login.
exec('/sbin/getty');
cat('/etc/issue');
cat('/etc/securetty');
exec('/bin/login');
for (const n of ['nsswitch.conf', 'passwd', 'group', 'shadow', 'shells', 'profile', 'os-release']) cat(`/etc/${n}`);
cat('/lib/x86_64-linux-gnu/libnss_files.so.2', 0.5);
create('/run/utmp', 384);
create('/var/log/wtmp', 384);
create('/var/log/lastlog', 292);
call({ p: 'FSSTAT', f: '' });

const calls = steps.reduce((a, s) => a + (Array.isArray(s) ? s.length : 1), 0);
const readBytes = steps.flat().filter((c) => c.p === 'READ').reduce((a, c) => a + Math.min(c.c, byPath.get(c.f).size - c.o), 0);
const out = {
  about:
    'The NFSv3 calls of one diskless boot, per node against its own root (paths relative to it), from a scripted walk that issues calls as the ' +
    'Linux NFS client does (bench/make-boot-replay.js says how); not a capture. tree: [type d|f|l, path, size or symlink target]. steps: a call, ' +
    'or calls issued together; READDIRPLUS means paging the directory to eof; x is the expected NFS status when not 0.',
  source: 'scripted kernel-client-like walk (bench/make-boot-replay.js)',
  calls,
  readBytes,
  tree,
  steps,
};
const outAt = process.argv.indexOf('--out');
const path = outAt > 0 ? process.argv[outAt + 1] : fileURLToPath(new URL('boot-replay.json', import.meta.url));
writeFileSync(path, `${JSON.stringify(out)}\n`);
console.log(`${path}: ${tree.length} tree entries, ${steps.length} steps, ${calls} calls, ${(readBytes / 1024 / 1024).toFixed(1)} MiB read`);
