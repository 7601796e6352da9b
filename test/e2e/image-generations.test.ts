/**
 * One image, three diskless QEMU guests, two generations: `netboot image
 * import` makes generation 1 of a busybox root, `netboot add-node --image`
 * adds three nodes with their own hostnames (in their layers), and `netboot
 * serve` boots all three from that one image. While the first guest runs,
 * generation 2 is imported and promoted: the guest keeps reading generation
 * 1 (a file it had not read before still has generation 1's text), and
 * `netboot status` shows it on an old generation. Its next boot (a fresh
 * QEMU of the same node) gets generation 2: a file only generation 2 has is
 * there, and status says so; the other two still run generation 1.
 */
import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePrograms, requireNetns, requireThat } from '../support/programs.js';
import { run, start } from '../support/processes.js';
import { netbootCli } from '../support/paths.js';
import { prepareGuest } from './guest.js';
import { writeNodeRoot } from './node-root.js';
import { IPXE_ROM } from './scenario.js';
import { writeTftpRoot } from './tftp-root.js';
import { takeVmSlot } from './vm-slots.js';
import { createVmNetwork, formatTimes, startVm, StampedLog, waitForBoot, type BootResult, type Vm, type VmNetwork } from './vm.js';

const STATUS_PORT = 19471;
const BOOT_MS = 240_000;

// Four TCG boots of 40-120 s each, at most two at once, plus building the guest on a cold cache.
t.setTimeout(900_000);

/**
 * The image's /sbin/init: prints its hostname (from the node's layer) and
 * the generation it booted. The first node on generation 1 stays up until
 * the test writes a line to its console, then reads a file it had not read
 * yet; every other boot powers off at once.
 */
const IMAGE_INIT = `#!/bin/sh
export PATH=/bin:/sbin
mount -t proc proc /proc
hostname -F /etc/hostname
echo "E2E-NODE host=$(hostname) generation=$(cat /etc/generation)"
[ -e /etc/only-in-2 ] && echo "E2E-NEW $(cat /etc/only-in-2)"
if [ "$(hostname)" = img1 ] && [ "$(cat /etc/generation)" = 1 ]; then
  echo "E2E-RUNNING"
  read -t 600 go
  echo "E2E-AFTER release=$(cat /etc/release) new=$(ls /etc/only-in-2 2>/dev/null || echo none)"
fi
echo "E2E-DONE"
poweroff -f
sleep 5
`;

function dhcpdConf(net: VmNetwork): string {
  return `ddns-update-style none;
next-server ${net.serverAddr};
subnet ${net.address(0)} netmask 255.255.255.0 {
  class "pxeclient" {
    match if substring(option vendor-class-identifier, 0, 9) = "PXEClient";
    filename "pxelinux.0";
  }
}
`;
}

interface Node {
  name: string;
  mac: string;
  ip: string;
}

interface ImageView {
  name: string;
  generation: number;
  next: number;
  old: boolean;
}

t.test('three guests boot from one image; a promotion leaves a running guest alone and its next boot gets the new generation', async (t) => {
  if (!requireNetns(t)) return;
  const progs = requirePrograms(t, { 'qemu-system-x86_64': 'qemu-system-x86', 'apt-get': 'apt', dpkg: 'dpkg' });
  if (!progs) return;
  if (!requireThat(t, existsSync(IPXE_ROM), `missing ${IPXE_ROM} (Debian package ipxe-qemu): apt-get install it to run this test`)) return;

  const guest = await prepareGuest((line) => t.comment(line));
  const net = createVmNetwork(t, { subnet: 3, guests: 2 });
  const work = mkdtempSync(join(tmpdir(), 'nb-e2e-gen-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const state = join(work, 'state');
  const tftpRoot = join(work, 'tftpboot');
  writeTftpRoot(tftpRoot, guest);

  // Generation 1: the busybox root of the other e2e tests with this init.
  const rootfs = join(work, 'rootfs');
  writeNodeRoot(rootfs, guest, 'unused');
  symlinkSync('busybox', join(rootfs, 'bin', 'hostname'));
  writeFileSync(join(rootfs, 'sbin', 'init'), IMAGE_INIT, { mode: 0o755 });
  writeFileSync(join(rootfs, 'etc', 'hostname'), 'image\n');
  writeFileSync(join(rootfs, 'etc', 'generation'), '1\n');
  writeFileSync(join(rootfs, 'etc', 'release'), 'one\n');
  const netboot = (args: string[]) => run(process.execPath, [netbootCli, ...args], { timeoutMs: 120_000 });
  const first = await netboot(['image', 'import', 'deb', rootfs, '--state-dir', state]);
  if (!t.equal(first.stdout, '1\n', `image import: ${first.stderr}`)) return;

  const dhcpConf = join(work, 'dhcpd.conf');
  const exportsFile = join(work, 'exports');
  writeFileSync(dhcpConf, dhcpdConf(net));
  writeFileSync(exportsFile, '');
  const nodes: Node[] = [1, 2, 3].map((i) => ({ name: `img${i}`, mac: `52:54:00:e2:e3:0${i}`, ip: net.address(30 + i) }));
  for (const n of nodes) {
    const added = await netboot([
      'add-node', n.ip, '--mac', n.mac, '--hostname', n.name, '--image', 'deb', '--initrd', 'initrd.gz',
      '--diskless-root', join(work, 'diskless'), '--exports', exportsFile, '--dhcp-conf', dhcpConf, '--tftp-root', tftpRoot, '--state-dir', state,
    ]);
    if (!t.equal(added.code, 0, `add-node ${n.name}: ${added.stderr}`)) return;
  }

  const serve = start(
    t,
    process.execPath,
    [
      netbootCli, 'serve', '--dhcp-conf', dhcpConf, '--interface', net.iface, '--tftp-root', tftpRoot, '--exports', exportsFile,
      '--listen', net.serverAddr, '--state-dir', state, '--status-port', String(STATUS_PORT), '--no-lock',
    ],
    { ns: net.ns },
  );
  const serveLog = new StampedLog(serve);
  await serve.waitFor(/netboot serve: running/, 30_000);

  const taps = [...net.taps];
  /** Starts a guest of `n` in a free VM slot; `boot` resolves when it has powered off (or failed, or run out of time). */
  const launch = async (n: Node, timeoutMs = BOOT_MS): Promise<{ vm: Vm; boot: Promise<BootResult> }> => {
    const release = await takeVmSlot({ onWait: () => t.comment('waiting for a guest slot') });
    const tap = taps.shift()!;
    const vm = startVm(t, { net, tap, mac: n.mac, rom: IPXE_ROM, consoleInput: true });
    vm.running.child.stdin!.on('error', () => {});
    const boot = waitForBoot(vm, { timeoutMs, serverLog: serveLog }).finally(() => {
      taps.push(tap);
      release();
    });
    return { vm, boot };
  };
  const check = (t: Test, n: Node, r: BootResult, generation: number) => {
    t.comment(formatTimes(`${n.name} generation ${generation}`, r.seconds));
    if (r.outcome !== 'done') t.comment(r.timeline);
    t.equal(r.outcome, 'done', `${n.name} booted and powered off`);
    t.match(r.serial, `E2E-NODE host=${n.name} generation=${generation}`, `${n.name}: its own hostname, on generation ${generation}`);
  };
  const status = async (): Promise<Map<string, ImageView | null>> => {
    const r = await run(process.execPath, [netbootCli, 'status', '--json', '--url', `http://127.0.0.1:${STATUS_PORT}`], { ns: net.ns, timeoutMs: 20_000 });
    t.equal(r.code, 0, `netboot status --json: ${r.stderr}`);
    const list = (JSON.parse(r.stdout) as { nodes: { ip: string | null; image: ImageView | null }[] }).nodes;
    return new Map(list.map((x) => [x.ip ?? '', x.image]));
  };
  /** The first console line of `vm` matching `re`, waited for as lines arrive, at most `ms`. */
  const consoleLine = (vm: Vm, re: RegExp, ms: number) =>
    new Promise<boolean>((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        off();
        resolve(ok);
      };
      const timer = setTimeout(() => done(false), ms);
      const off = vm.serial.onLine(() => vm.serial.first(re) && done(true));
      void vm.running.exited.then(() => done(vm.serial.first(re) !== undefined));
      if (vm.serial.first(re)) done(true);
    });

  // The first guest stays up; the other two boot beside it, one after the other.
  const [one, two, three] = nodes as [Node, Node, Node];
  // It stays up while the other two boot one after the other and generation 2 is imported: its bound covers those boots too.
  const running = await launch(one, 3 * BOOT_MS);
  const others = (async () => {
    for (const n of [two, three]) check(t, n, await (await launch(n)).boot, 1);
  })();
  t.ok(await consoleLine(running.vm, /E2E-RUNNING/, BOOT_MS), `${one.name} is up on generation 1`);
  await others;

  // Generation 2 while the first guest runs.
  writeFileSync(join(rootfs, 'etc', 'generation'), '2\n');
  writeFileSync(join(rootfs, 'etc', 'release'), 'two\n');
  writeFileSync(join(rootfs, 'etc', 'only-in-2'), 'new in generation 2\n');
  const second = await netboot(['image', 'import', 'deb', rootfs, '--state-dir', state]);
  t.equal(second.stdout, '2\n', second.stderr);
  t.equal((await netboot(['image', 'promote', 'deb', '2', '--state-dir', state])).code, 0, 'generation 2 promoted');
  const during = await status();
  t.match(during.get(one.ip), { name: 'deb', generation: 1, next: 2, old: true }, `status: ${one.name} still runs generation 1, an old one`);
  const list = await netboot(['image', 'list', '--state-dir', state]);
  t.equal(list.stdout, `deb\t1 2*\n  1\t${nodes.map((n) => `${n.ip}->2`).join(', ')}\n`, 'image list: all three on generation 1, their next boots on 2');

  running.vm.running.child.stdin!.write('go\n');
  const firstBoot = await running.boot;
  check(t, one, firstBoot, 1);
  t.match(firstBoot.serial, 'E2E-AFTER release=one new=none', `${one.name}, running, reads generation 1 after the promotion`);

  // A fresh boot of the same node.
  const again = await (await launch(one)).boot;
  check(t, one, again, 2);
  t.match(again.serial, 'E2E-NEW new in generation 2', 'a file only generation 2 has');
  const after = await status();
  t.match(after.get(one.ip), { name: 'deb', generation: 2, next: 2, old: false }, `status: ${one.name} runs generation 2`);
  for (const n of [two, three]) t.match(after.get(n.ip), { generation: 1, old: true }, `status: ${n.name} still runs generation 1`);
  const table = await run(process.execPath, [netbootCli, 'status', '--url', `http://127.0.0.1:${STATUS_PORT}`], { ns: net.ns, timeoutMs: 20_000 });
  t.match(table.stdout, new RegExp(`${one.ip.replace(/\./g, '\\.')}\\s+\\S+\\s+\\S+\\s+deb:2\\s`), 'the table: deb:2');
  t.match(table.stdout, new RegExp(`${two.ip.replace(/\./g, '\\.')}\\s+\\S+\\s+\\S+\\s+deb:1 old \\(next boot 2\\)`), 'the table: deb:1 old');
  t.equal(await serve.stop(10_000), 0, 'netboot serve exits 0 on SIGTERM');
});
