import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, mkdir, writeFile, rm, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netbootCli } from '../../../test/support/paths.js';
import { isRoot, requireThat } from '../../../test/support/programs.js';

const run = promisify(execFile);

/** The diskless guide's dhcpd.conf, its addresses moved into 198.18.0.0/15. */
const GUIDE_DHCPD = `
option domain-name "cluster.example";
option domain-name-servers 198.18.1.1;
option routers 198.18.1.1;
default-lease-time 600;
max-lease-time 7200;
ddns-update-style none;
authoritative;

option space PXE;
option PXE.mtftp-ip               code 1 = ip-address;
option PXE.mtftp-cport            code 2 = unsigned integer 16;
option PXE.mtftp-sport            code 3 = unsigned integer 16;
option PXE.mtftp-tmout            code 4 = unsigned integer 8;
option PXE.mtftp-delay            code 5 = unsigned integer 8;
option PXE.discovery-control      code 6 = unsigned integer 8;
option PXE.discovery-mcast-addr   code 7 = ip-address;

class "pxeclient" {
  match if substring(option vendor-class-identifier, 0, 9) = "PXEClient";
  vendor-option-space PXE;
  option PXE.mtftp-ip 0.0.0.0;
  filename "pxelinux.0";
}

class "etherboot" {
  match if substring(option vendor-class-identifier, 0, 9) = "Etherboot";
  filename "vmlinuz_arch";
}

subnet 198.18.1.0 netmask 255.255.255.0 {
  option broadcast-address 198.18.1.255;
  range 198.18.1.100 198.18.1.200;
  next-server 198.18.1.1;
}

host slave21 {
  hardware ethernet 52:54:00:12:34:21;
  fixed-address 198.18.1.21;
  option host-name "slave21";
}
`;

interface Setup {
  dir: string;
  tftp: string;
  root: string;
  flags: string[];
}

async function guideSetup(t: Test): Promise<Setup> {
  const dir = await mkdtemp(join(tmpdir(), 'netboot-doctor-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const tftp = join(dir, 'tftp');
  const root = join(dir, 'diskless', '198.18.1.21');
  await mkdir(join(tftp, 'pxelinux.cfg'), { recursive: true });
  await writeFile(join(tftp, 'pxelinux.0'), 'pxelinux');
  await writeFile(join(tftp, 'ldlinux.c32'), 'ldlinux');
  await writeFile(join(tftp, 'vmlinuz'), 'kernel');
  await writeFile(join(tftp, 'initrd.img'), 'initrd');
  await writeFile(
    join(tftp, 'pxelinux.cfg', 'default'),
    `DEFAULT linux\nLABEL linux\n  KERNEL vmlinuz\n  APPEND initrd=initrd.img ip=dhcp root=/dev/nfs nfsroot=198.18.1.1:${join(dir, 'diskless')}/%s,vers=3,tcp rw\n  IPAPPEND 2\n`,
  );
  for (const d of ['dev', 'etc', 'home', 'mnt', 'proc', 'root', 'sys', 'tmp', 'var', 'usr', 'opt']) {
    await mkdir(join(root, d), { recursive: true });
  }
  await run('mknod', ['-m', '600', join(root, 'dev/console'), 'c', '5', '1']);
  await writeFile(join(root, 'etc/fstab'), `198.18.1.1:/usr /usr nfs ro,vers=3 0 0\n`);
  await writeFile(join(dir, 'dhcpd.conf'), GUIDE_DHCPD);
  await writeFile(
    join(dir, 'exports'),
    `${root} 198.18.1.21(rw,sync,no_root_squash,no_subtree_check)\n/usr 198.18.1.0/24(ro,sync,no_subtree_check)\n`,
  );
  return {
    dir,
    tftp,
    root,
    flags: ['--dhcp-conf', join(dir, 'dhcpd.conf'), '--tftp-root', tftp, '--exports', join(dir, 'exports')],
  };
}

async function doctor(flags: string[]) {
  return run(process.execPath, [netbootCli, 'doctor', ...flags]).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
}

t.test('the guide setup passes', async (t) => {
  if (!requireThat(t, isRoot(), 'needs root to create dev/console')) return;
  const s = await guideSetup(t);
  const r = await doctor(s.flags);
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.match(r.stdout, /host slave21 \(52:54:00:12:34:21, 198\.18\.1\.21\): can boot/);
  t.match(r.stdout, /pxelinux will use pxelinux\.cfg\/default/);
  t.match(r.stdout, /all 1 nodes can boot/);
  t.match(r.stdout, /^platform: (native|portable) \(/m, 'says whether the platform module is in use');
});

const BROKEN: { name: string; breakIt: (s: Setup) => Promise<unknown>; says: RegExp; fix: RegExp }[] = [
  {
    name: 'missing pxelinux.0',
    breakIt: (s) => rm(join(s.tftp, 'pxelinux.0')),
    says: /boot file pxelinux\.0 is not under the TFTP root/,
    fix: /fix: copy it there/,
  },
  {
    name: 'missing ldlinux.c32',
    breakIt: (s) => rm(join(s.tftp, 'ldlinux.c32')),
    says: /ldlinux\.c32 is missing/,
    fix: /fix: copy ldlinux\.c32/,
  },
  {
    name: 'no pxelinux config for the node',
    breakIt: (s) => rm(join(s.tftp, 'pxelinux.cfg', 'default')),
    says: /pxelinux finds no config for this node/,
    fix: /fix: write .*01-52-54-00-12-34-21/,
  },
  {
    name: 'missing kernel',
    breakIt: (s) => rm(join(s.tftp, 'vmlinuz')),
    says: /kernel vmlinuz named by pxelinux\.cfg\/default is not under/,
    fix: /fix: copy the kernel/,
  },
  {
    name: 'missing initrd',
    breakIt: (s) => rm(join(s.tftp, 'initrd.img')),
    says: /initrd initrd\.img named by pxelinux\.cfg\/default is not under/,
    fix: /fix: copy the initrd/,
  },
  {
    name: 'export not rw for the node',
    breakIt: (s) => writeFile(join(s.dir, 'exports'), `${s.root} 198.18.1.21(ro,sync,no_root_squash)\n/usr 198.18.1.0/24(ro)\n`),
    says: /is exported read-only to 198\.18\.1\.21/,
    fix: /fix: change ro to rw/,
  },
  {
    name: 'root_squash on the root export',
    breakIt: (s) => writeFile(join(s.dir, 'exports'), `${s.root} 198.18.1.21(rw,sync,root_squash)\n/usr 198.18.1.0/24(ro)\n`),
    says: /squashes root for 198\.18\.1\.21/,
    fix: /fix: add no_root_squash/,
  },
  {
    name: 'root exported to another address',
    breakIt: (s) => writeFile(join(s.dir, 'exports'), `${s.root} 198.18.1.22(rw,sync,no_root_squash)\n/usr 198.18.1.0/24(ro)\n`),
    says: /is exported, but not to 198\.18\.1\.21/,
    fix: /fix: add 198\.18\.1\.21\(rw,sync,no_root_squash/,
  },
  {
    name: 'missing dev/console',
    breakIt: (s) => rm(join(s.root, 'dev/console'), { force: true }),
    says: /dev\/console is missing/,
    fix: /fix: mknod -m 600 .*dev\/console c 5 1/,
  },
  {
    name: 'missing proc and sys',
    breakIt: async (s) => {
      await rm(join(s.root, 'proc'), { recursive: true });
      await rm(join(s.root, 'sys'), { recursive: true });
    },
    says: /lacks proc, sys/,
    fix: /fix: mkdir -p .*proc .*sys/,
  },
  {
    name: 'fstab mounting an unexported path',
    breakIt: (s) => appendFile(join(s.root, 'etc/fstab'), '198.18.1.1:/home /home nfs rw,vers=3 0 0\n'),
    says: /fstab mounts \/home on \/home, but \/home is not exported to 198\.18\.1\.21/,
    fix: /fix: export it to 198\.18\.1\.21/,
  },
  {
    name: 'host without a fixed address',
    breakIt: (s) => appendFile(join(s.dir, 'dhcpd.conf'), 'host slave22 { hardware ethernet 52:54:00:12:34:22; }\n'),
    says: /host slave22 has no fixed-address/,
    fix: /fix: add "fixed-address <ip>;"/,
  },
];

for (const b of BROKEN) {
  t.test(`doctor reports: ${b.name}`, async (t) => {
    if (!requireThat(t, isRoot(), 'needs root to create dev/console')) return;
    const s = await guideSetup(t);
    await b.breakIt(s);
    const r = await doctor(s.flags);
    t.equal(r.code, 1, 'exit status says a node cannot boot');
    t.match(r.stdout, b.says);
    t.match(r.stdout, b.fix);
  });
}

t.test('a dhcpd.conf mistake is reported with file, line and column', async (t) => {
  const s = await guideSetup(t);
  await writeFile(join(s.dir, 'dhcpd.conf'), 'subnet 198.18.1.0 netmask 255.255.255.0 {\n  rnage 198.18.1.10 198.18.1.20;\n}\n');
  const r = await doctor(s.flags);
  t.not(r.code, 0);
  t.match(r.stderr, /dhcpd\.conf:2:3/);
});

t.test('per kind of client: the guide config gives UEFI nodes the BIOS pxelinux.0 and HTTP Boot nodes nothing (noted, not failed)', async (t) => {
  if (!requireThat(t, isRoot(), 'needs root to create dev/console')) return;
  const s = await guideSetup(t);
  const r = await doctor(s.flags);
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.match(r.stdout, /ok {4}BIOS PXE node \(option 93 = 0\): boot file pxelinux\.0 is under the TFTP root/);
  t.match(r.stdout, /note {2}UEFI PXE node \(option 93 = 7\): the same boot file as a BIOS node, pxelinux\.0, a BIOS program UEFI firmware cannot run\n {8}fix: .*option arch = 00:07/);
  t.match(r.stdout, /note {2}iPXE node \(user-class iPXE\): the same boot file as a BIOS node, pxelinux\.0\n/);
  t.match(r.stdout, /note {2}UEFI HTTP Boot node \(vendor class HTTPClient\): dhcpd\.conf gives it no boot file/);
});

/** The guide's node on a network of BIOS, UEFI, iPXE and HTTP Boot clients, told apart with if/elsif. */
const MIXED_DHCPD = `
option arch code 93 = unsigned integer 16;
subnet 198.18.1.0 netmask 255.255.255.0 {
  next-server 198.18.1.1;
  if exists user-class and option user-class = "iPXE" {
    filename "http://198.18.1.1/boot.ipxe";
  } elsif substring(option vendor-class-identifier, 0, 10) = "HTTPClient" {
    filename "http://198.18.1.1/efi/ipxe%2Eefi";
  } elsif option arch = 00:07 {
    filename "efi/syslinux.efi";
  } else {
    filename "pxelinux.0";
  }
}
host slave21 { hardware ethernet 52:54:00:12:34:21; fixed-address 198.18.1.21; }
`;

t.test('per kind of client with if/elsif: each file checked under the TFTP root, URLs under the HTTP root', async (t) => {
  if (!requireThat(t, isRoot(), 'needs root to create dev/console')) return;
  const s = await guideSetup(t);
  await writeFile(join(s.dir, 'dhcpd.conf'), MIXED_DHCPD);
  await writeFile(join(s.tftp, 'boot.ipxe'), '#!ipxe\n');
  await mkdir(join(s.tftp, 'efi'));
  await writeFile(join(s.tftp, 'efi', 'ipxe.efi'), 'MZ');
  const missing = await doctor(s.flags);
  t.equal(missing.code, 1, 'a file given only to UEFI nodes is missing: that node cannot boot');
  t.match(missing.stdout, /FAIL {2}UEFI PXE node \(option 93 = 7\): boot file efi\/syslinux\.efi is not under the TFTP root .*\n {8}fix: copy it to .*efi\/syslinux\.efi/);
  t.match(missing.stdout, /ok {4}iPXE node \(user-class iPXE\): boot file http:\/\/198\.18\.1\.1\/boot\.ipxe is boot\.ipxe under the HTTP root/);
  t.match(missing.stdout, /ok {4}UEFI HTTP Boot node \(vendor class HTTPClient\): boot file http:\/\/198\.18\.1\.1\/efi\/ipxe%2Eefi is efi\/ipxe\.efi under the HTTP root/);
  await writeFile(join(s.tftp, 'efi', 'syslinux.efi'), 'MZ');
  const fine = await doctor(s.flags);
  t.equal(fine.code, 0, fine.stdout);
  t.match(fine.stdout, /ok {4}UEFI PXE node \(option 93 = 7\): boot file efi\/syslinux\.efi is under the TFTP root/);

  const httpRoot = join(s.dir, 'www');
  await mkdir(httpRoot);
  const prefixed = await doctor([...s.flags, '--http-root', httpRoot, '--http-url-prefix', 'http://198.18.1.1/']);
  t.equal(prefixed.code, 1);
  t.match(prefixed.stdout, /FAIL {2}iPXE node \(user-class iPXE\): boot file http:\/\/198\.18\.1\.1\/boot\.ipxe is not under the HTTP root .*www \(looked for boot\.ipxe\)/);
  await writeFile(join(httpRoot, 'boot.ipxe'), '#!ipxe\n');
  await mkdir(join(httpRoot, 'efi'));
  await writeFile(join(httpRoot, 'efi', 'ipxe.efi'), 'MZ');
  const served = await doctor([...s.flags, '--http-root', httpRoot, '--http-url-prefix', 'http://198.18.1.1/']);
  t.equal(served.code, 0, served.stdout);

  const otherPort = await doctor([...s.flags, '--http-port', '8080']);
  t.equal(otherPort.code, 1);
  t.match(otherPort.stdout, /the URL's port is 80 and netboot serves HTTP on 8080\)\n {8}fix: use port 8080 in the URL/);
});

t.test('--peer-dhcp-conf: two masters\' dhcpd.conf files agree, or each difference is named', async (t) => {
  if (!requireThat(t, isRoot(), 'needs root to create dev/console')) return;
  const s = await guideSetup(t);
  const peer = join(s.dir, 'peer-dhcpd.conf');
  await writeFile(peer, GUIDE_DHCPD.replace('option routers 198.18.1.1;', 'option routers 198.18.1.2;'));
  const same = await doctor([...s.flags, '--peer-dhcp-conf', peer]);
  t.equal(same.code, 0, same.stdout + same.stderr);
  t.match(same.stdout, /agree on subnets, ranges and fixed hosts/, 'other options may differ (each master names itself)');
  await writeFile(
    peer,
    GUIDE_DHCPD.replace('range 198.18.1.100 198.18.1.200;', 'range 198.18.1.100 198.18.1.150;').replace('fixed-address 198.18.1.21;', 'fixed-address 198.18.1.22;') +
      'subnet 198.18.2.0 netmask 255.255.255.0 { }\nhost extra { hardware ethernet 52:54:00:12:34:99; fixed-address 198.18.1.99; }\n',
  );
  const differ = await doctor([...s.flags, '--peer-dhcp-conf', peer]);
  t.equal(differ.code, 1);
  t.match(differ.stdout, /subnet 198\.18\.1\.0\/255\.255\.255\.0: ranges 198\.18\.1\.100-198\.18\.1\.200 in .*dhcpd\.conf, 198\.18\.1\.100-198\.18\.1\.150 in .*peer-dhcpd\.conf/);
  t.match(differ.stdout, /subnet 198\.18\.2\.0\/255\.255\.255\.0 is in .*peer-dhcpd\.conf only/);
  t.match(differ.stdout, /host 52:54:00:12:34:21: 198\.18\.1\.21 in .*, 198\.18\.1\.22 in /);
  t.match(differ.stdout, /host 52:54:00:12:34:99 \(198\.18\.1\.99\) is in .*peer-dhcpd\.conf only/);
  t.match(differ.stdout, /4 differences between/);
});

t.test("an iPXE script boot file: the kernel, initrd and chained images it names are looked for too", async (t) => {
  if (!requireThat(t, isRoot(), 'needs root to create dev/console')) return;
  const s = await guideSetup(t);
  await writeFile(join(s.dir, 'dhcpd.conf'), MIXED_DHCPD);
  await mkdir(join(s.tftp, 'efi'));
  await writeFile(join(s.tftp, 'efi', 'ipxe.efi'), 'MZ');
  await writeFile(join(s.tftp, 'efi', 'syslinux.efi'), 'MZ');
  await writeFile(join(s.tftp, 'boot.ipxe'), '#!ipxe\nkernel http://198.18.1.1/vmlinuz ip=dhcp\ninitrd initrd.img\nimgfetch ${next-server}/x\nboot\n');
  const ok = await doctor(s.flags);
  t.equal(ok.code, 0, ok.stdout);
  t.match(ok.stdout, /ok {4}iPXE node \(user-class iPXE\): kernel from boot\.ipxe: http:\/\/198\.18\.1\.1\/vmlinuz is vmlinuz under the HTTP root/);
  t.match(ok.stdout, /ok {4}iPXE node \(user-class iPXE\): initrd from boot\.ipxe: http:\/\/198\.18\.1\.1\/initrd\.img is initrd\.img under the HTTP root/, 'a relative name is resolved against the script URL');
  t.match(ok.stdout, /note {2}iPXE node \(user-class iPXE\): imgfetch \$\{next-server\}\/x \(boot\.ipxe line 4\) depends on iPXE settings; not checked/);
  await rm(join(s.tftp, 'initrd.img'));
  const missing = await doctor(s.flags);
  t.equal(missing.code, 1);
  t.match(missing.stdout, /FAIL {2}iPXE node \(user-class iPXE\): initrd from boot\.ipxe: http:\/\/198\.18\.1\.1\/initrd\.img is not under the HTTP root/);
});
