/**
 * The Linux kernel's NFS client, on the diskless guest's NFS root served by
 * `netboot nfs`, does what issue 15 says knfsd users rely on: names in
 * Latin-1, Shift-JIS, EUC-KR and no encoding at all are created, listed,
 * renamed, linked and removed byte for byte; `mkdir` in a setgid directory
 * gives a setgid directory of the parent's group; GNU `touch -d` with
 * nanoseconds and `cp -a` keep the nanoseconds. GNU touch, stat and cp (with
 * the libraries ldd names) are copied from this machine into the node's
 * root: busybox sets times to the microsecond only. One boot.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { requirePrograms, requireNetns } from '../support/programs.js';
import { start } from '../support/processes.js';
import { netbootCli } from '../support/paths.js';
import { prepareGuest } from './guest.js';
import { startReferenceDnsmasq } from './reference-dnsmasq.js';
import { bootAndCheck, writeScenario } from './scenario.js';
import { createVmNetwork } from './vm.js';

t.setTimeout(600_000);

/**
 * Each step prints NFS-OK <name> when the kernel client got it right; the server side is checked
 * after. Listings go through the shell's globbing (busybox ls shows unprintable bytes as '?').
 */
const WORKLOAD = String.raw`B=/bin/busybox
G=/e2e/gnu
w=/e2e/names
$B mkdir $w && cd $w || echo "E2E-FAIL mkdir names"
n1=$($B printf 'caf\351')
n2=$($B printf '\223\372\226\173\214\352')
n3=$($B printf '\307\321\261\271\276\356')
n4=$($B printf '\377\376A\200')
for n in "$n1" "$n2" "$n3" "$n4"; do echo "$n" > "$n"; done
echo 3 > /proc/sys/vm/drop_caches
[ "$($B ls | $B wc -l)" = 4 ] && [ "$($B cat "$n2")" = "$n2" ] && [ "$($B cat "$n4")" = "$n4" ] && echo "NFS-OK names-create"
$B mkdir "$n3.d" && $B mv "$n2" "$n3.d/$n4" && echo 3 > /proc/sys/vm/drop_caches && set -- "$n3.d"/* && [ "$#" = 1 ] && [ "$1" = "$n3.d/$n4" ] && [ "$($B cat "$n3.d/$n4")" = "$n2" ] && echo "NFS-OK names-rename"
$B ln -s "$n1" "$n4.l" && [ "$($B readlink "$n4.l")" = "$n1" ] && echo "NFS-OK names-symlink"
$B ln "$n1" "$n2.h" && [ "$($B stat -c %h "$n1")" = 2 ] && echo "NFS-OK names-link"
$B rm "$n3" && [ ! -e "$n3" ] && echo "NFS-OK names-remove"
$B mkdir g && $B chown 0:1234 g && $B chmod 2775 g && $B mkdir g/s && : > g/f
echo 3 > /proc/sys/vm/drop_caches
echo "NFS-SETGID $($B stat -c '%a %g' g/s) $($B stat -c '%a %g' g/f)"
$G/touch -d '@1700000000.123456789' t && $G/cp -a t t2
echo 3 > /proc/sys/vm/drop_caches
echo "NFS-TIME $($G/stat -c '%.9X %.9Y' t) $($G/stat -c '%.9Y' t2)"
`;

/** Copies a program and every shared library ldd names (and the loader) to the same paths under `root`. */
function copyWithLibraries(root: string, program: string, into: string): void {
  const target = join(root, into);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(realpathSync(program), target);
  chmodSync(target, 0o755);
  for (const m of execFileSync('ldd', [program], { encoding: 'utf8' }).matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)) {
    const dest = join(root, m[1]!);
    if (existsSync(dest)) continue;
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(realpathSync(m[1]!), dest);
  }
}

const bytes = (...parts: (string | number[] | Buffer)[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
const N1 = bytes('caf', [0xe9]);
const N2 = bytes([0x93, 0xfa, 0x96, 0x7b, 0x8c, 0xea]);
const N3 = bytes([0xc7, 0xd1, 0xb1, 0xb9, 0xbe, 0xee]);
const N4 = bytes([0xff, 0xfe], 'A', [0x80]);

if (requireNetns(t)) {
  const progs = requirePrograms(t, {
    'qemu-system-x86_64': 'qemu-system-x86',
    dnsmasq: 'dnsmasq-base',
    'apt-get': 'apt',
    dpkg: 'dpkg',
    ldd: 'libc-bin',
    touch: 'coreutils',
    stat: 'coreutils',
    cp: 'coreutils',
  });
  if (progs) {
    const guest = await prepareGuest((l) => t.comment(l));
    const net = createVmNetwork(t, { subnet: 3, guests: 1 });
    const work = mkdtempSync(join(tmpdir(), 'nb-e2e-names-'));
    t.teardown(() => rmSync(work, { recursive: true, force: true }));
    const scenario = writeScenario(work, guest, net);
    const node = scenario.cases[0]!;
    for (const p of ['touch', 'stat', 'cp'] as const) copyWithLibraries(node.root.dir, progs[p], `e2e/gnu/${p}`);
    const init = join(node.root.dir, 'sbin', 'init');
    writeFileSync(init, readFileSync(init, 'utf8').replace('echo "E2E-DONE"', WORKLOAD + 'echo "E2E-DONE"'));

    const { running: dnsmasq, log: dnsmasqLog } = await startReferenceDnsmasq(t, progs.dnsmasq, net, scenario, work);
    const exportsFile = join(work, 'exports');
    writeFileSync(exportsFile, `${node.root.dir} ${node.ip}(sync,rw,no_root_squash,no_subtree_check)\n`);
    const nfs = start(t, process.execPath, [netbootCli, 'nfs', '--exports', exportsFile, '--listen', net.serverAddr, '--state-dir', join(work, 'state')], { ns: net.ns });
    await nfs.waitFor(/NFS v3 port 2049/, 30_000);
    const server = {
      log: dnsmasqLog,
      ack: (ip: string) => new RegExp(`DHCPACK\\(${net.iface}\\) ${ip.replace(/\./g, '\\.')} `),
      output: () => `--- dnsmasq:\n${dnsmasq.output()}\n--- netboot nfs:\n${nfs.output()}`,
    };

    await t.test('the kernel NFS client: byte names, setgid directories, nanosecond times', async (t) => {
      const result = await bootAndCheck(t, net, net.taps[0]!, node, server, 300_000);
      for (const step of ['names-create', 'names-rename', 'names-symlink', 'names-link', 'names-remove']) t.match(result.serial, `NFS-OK ${step}`, `the kernel client: ${step}`);
      const w = join(node.root.dir, 'e2e', 'names');
      const names = readdirSync(Buffer.from(w), { encoding: 'buffer' }).map((n) => n.toString('hex')).sort();
      const expected = [N1, bytes(N3, '.d'), bytes(N4), bytes(N4, '.l'), bytes(N2, '.h'), bytes('g'), bytes('t'), bytes('t2')].map((n) => n.toString('hex')).sort();
      t.same(names, expected, 'on the server: every name as the bytes the node used');
      const at = (...p: Buffer[]) => Buffer.concat([Buffer.from(`${w}/`), ...p]);
      t.equal(readFileSync(at(N3, bytes('.d/'), N4), 'latin1'), `${N2.toString('latin1')}\n`, 'the renamed file under its EUC-KR directory and invalid UTF-8 name');
      t.match(result.serial, /NFS-SETGID 2755 1234 644 1234/, 'the node sees mkdir in a setgid directory give 2755 and the group, a file the group');
      const s = lstatSync(join(w, 'g', 's'));
      t.same([s.mode & 0o7777, s.gid], [0o2755, 1234], 'on the server: g/s is 2755 with the group');
      t.match(result.serial, 'NFS-TIME 1700000000.123456789 1700000000.123456789 1700000000.123456789', 'touch -d with nanoseconds and cp -a keep them');
      const tt = lstatSync(join(w, 't2'), { bigint: true });
      t.equal(tt.mtimeNs, 1_700_000_000_123_456_789n, 'on the server: the copy has the nanoseconds');
    });
  }
}
