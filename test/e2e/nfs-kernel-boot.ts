/**
 * The diskless boots of pxe-boot.test.ts against dnsmasq (DHCP + TFTP) and `netboot
 * nfs` (portmap, mountd, NFSv3): the Linux kernel's NFS client mounting its
 * root from our server. Not part of `npm test` (it needs dnsmasq-base and
 * QEMU, and takes minutes); run it by hand:
 *
 *   TS_NODE_PROJECT=tsconfig.test.json npx tap --timeout=900 test/e2e/nfs-kernel-boot.ts
 *
 * E2E_BOOTS=N runs only the first N boots.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePrograms } from '../support/programs.js';
import { start } from '../support/processes.js';
import { netbootCli } from '../support/paths.js';
import { prepareGuest } from './guest.js';
import { startReferenceDnsmasq } from './reference-dnsmasq.js';
import { bootAndCheck, writeScenario } from './scenario.js';
import { createVmNetwork } from './vm.js';

t.setTimeout(900_000);

/** Shell run by the first node on its NFS root: each step prints NFS-OK <name> when the kernel client got it right. */
const WORKLOAD = String.raw`B=/bin/busybox
w=/e2e/work
$B mkdir $w && cd $w || fail "mkdir work"
$B mknod cons c 5 1 && $B ls -l cons | $B grep -q '5, *1' && echo "NFS-OK mknod"
$B mkfifo fifo && [ -p fifo ] && echo "NFS-OK mkfifo"
$B ln -s target sym && [ "$($B readlink sym)" = target ] && echo "NFS-OK symlink"
echo a > a && $B ln a hard && [ "$($B stat -c %h a)" = 2 ] && echo "NFS-OK link"
echo b > b && $B mv a b && [ "$($B cat b)" = a ] && echo "NFS-OK rename-over"
$B mkdir -p d1/d2 && echo deep > d1/d2/f && $B mv d1 d3 && [ "$($B cat d3/d2/f)" = deep ] && echo "NFS-OK rename-dir"
$B chmod 640 b && [ "$($B stat -c %a b)" = 640 ] && echo "NFS-OK chmod"
$B chown 1000:1000 b && [ "$($B stat -c %u:%g b)" = 1000:1000 ] && echo "NFS-OK chown"
$B touch -d '2001-02-03 04:05:06' b && [ "$($B stat -c %Y b)" = 981173106 ] && echo "NFS-OK utimes"
$B yes 0123456789abcdef | $B head -c 20971520 > big && $B sync && [ "$($B stat -c %s big)" = 20971520 ] && echo "NFS-OK write"
echo "NFS-MD5 $($B md5sum big)"
echo x > big && [ "$($B stat -c %s big)" = 2 ] && echo "NFS-OK truncate"
$B mkdir many && for i in $($B seq 1 2000); do : > many/f$i; done
[ "$($B ls many | $B wc -l)" = 2000 ] && echo "NFS-OK readdir"
$B rm -r d3 && [ ! -e d3 ] && echo "NFS-OK rmdir"
$B rm many/f1 && [ "$($B ls many | $B wc -l)" = 1999 ] && echo "NFS-OK remove"
`;
const STEPS = ['mknod', 'mkfifo', 'symlink', 'link', 'rename-over', 'rename-dir', 'chmod', 'chown', 'utimes', 'write', 'truncate', 'readdir', 'rmdir', 'remove'];

const progs = requirePrograms(t, {
  'qemu-system-x86_64': 'qemu-system-x86',
  dnsmasq: 'dnsmasq-base',
  'apt-get': 'apt',
  dpkg: 'dpkg',
  unshare: 'util-linux',
});

if (progs) {
  const guest = await prepareGuest((l) => t.comment(l));
  t.comment(`guest: ${guest.packages.join(' ')}; modules ${guest.modules.join(' ')}`);
  const net = createVmNetwork(t, { subnet: 1, guests: 1 });
  const work = mkdtempSync(join(tmpdir(), 'nb-e2e-ref-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const scenario = writeScenario(work, guest, net);
  // The first node also exercises what a running root file system does over NFS before it powers off.
  const first = scenario.cases[0]!;
  const init = join(first.root.dir, 'sbin', 'init');
  writeFileSync(init, readFileSync(init, 'utf8').replace('echo "E2E-DONE"', WORKLOAD + 'echo "E2E-DONE"'));

  const { running: dnsmasq, log: dnsmasqLog } = await startReferenceDnsmasq(t, progs.dnsmasq, net, scenario, work);

  const exportsFile = join(work, 'exports');
  writeFileSync(
    exportsFile,
    scenario.cases.map((c) => `${c.root.dir} ${c.ip}(sync,rw,no_root_squash,no_all_squash,no_subtree_check)`).join('\n') + '\n',
  );
  const nfs = start(t, process.execPath, [netbootCli, 'nfs', '--exports', exportsFile, '--listen', net.serverAddr, '--state-dir', join(work, 'state')], { ns: net.ns });
  await nfs.waitFor(/NFS v3 port 2049/, 30_000);
  const server = {
    log: dnsmasqLog,
    ack: (ip: string) => new RegExp(`DHCPACK\\(${net.iface}\\) ${ip.replace(/\./g, '\\.')} `),
    output: () => `--- dnsmasq:\n${dnsmasq.output()}\n--- netboot nfs:\n${nfs.output()}`,
  };
  const only = process.env.E2E_BOOTS ? Number(process.env.E2E_BOOTS) : scenario.cases.length;
  for (const c of scenario.cases.slice(0, only)) {
    await t.test(`dnsmasq + netboot nfs: ${c.name}`, async (t) => {
      const result = await bootAndCheck(t, net, net.taps[0]!, c, server, c === first ? 400_000 : undefined);
      if (c !== first) return;
      for (const step of STEPS) t.match(result.serial, `NFS-OK ${step}`, `the kernel client: ${step}`);
      const data = Buffer.from('0123456789abcdef\n'.repeat(20971520 / 17 + 1)).subarray(0, 20971520);
      t.match(result.serial, `NFS-MD5 ${createHash('md5').update(data).digest('hex')}`, 'the node read back what it wrote');
      const w = join(c.root.dir, 'e2e', 'work');
      t.ok(lstatSync(join(w, 'cons')).isCharacterDevice(), 'on the server: dev node');
      t.equal(statSync(join(w, 'b')).uid, 1000, 'on the server: owner');
      t.equal(readdirSync(join(w, 'many')).length, 1999, 'on the server: the directory');
    });
  }
}
