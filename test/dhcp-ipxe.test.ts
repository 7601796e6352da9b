import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createNetns } from './support/netns.js';
import { netbootCli, repoRoot } from './support/paths.js';
import { start } from './support/processes.js';
import { requirePrograms, requireNetns, requireThat } from './support/programs.js';

/*
 * The real first client of a diskless boot: Debian's iPXE option ROM in a
 * QEMU guest (TCG) whose NIC is a tap in a namespace the test creates, with
 * `netboot dhcp` on that tap. iPXE broadcasts with the broadcast flag clear;
 * the server answers by broadcast (no raw socket to unicast before ARP), and
 * this checks that iPXE takes it: address, next-server and boot file.
 */

const ROM = '/usr/lib/ipxe/qemu/efi-virtio.rom';

t.test('iPXE configures itself from netboot dhcp: fixed address, next-server, pxelinux.0', async (t) => {
  const progs = requirePrograms(t, { 'qemu-system-x86_64': 'qemu-system-x86' });
  if (!progs) return;
  if (!requireThat(t, existsSync(ROM), `missing ${ROM}: apt-get install ipxe-qemu to run this test`)) return;
  if (!requireNetns(t)) return;
  const ns = createNetns(t, 'dhq');
  const ip = (...a: string[]) => execFileSync('ip', ['-n', ns, ...a]);
  ip('tuntap', 'add', 'dev', 'tap0', 'mode', 'tap');
  ip('addr', 'add', '198.18.21.1/24', 'dev', 'tap0');
  ip('link', 'set', 'tap0', 'up');
  const dir = mkdtempSync(join(tmpdir(), 'dhcp-ipxe-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const conf = join(dir, 'dhcpd.conf');
  writeFileSync(conf, readFileSync(join(repoRoot, 'packages/dhcp-wire/test/fixtures/gentoo-dhcpd.conf')));
  // Started before the VM: the tap has no carrier yet, as a cable not yet plugged in.
  const server = start(t, process.execPath, [netbootCli, 'dhcp', '--config', conf, '--interface', 'tap0', '--leases', join(dir, 'leases')], { ns });
  await server.waitFor(/serving on tap0/);
  const vm = start(
    t,
    progs['qemu-system-x86_64'],
    [
      '-accel', 'tcg', '-m', '256', '-nographic', '-nodefaults', '-serial', 'stdio',
      '-netdev', 'tap,id=net0,ifname=tap0,script=no,downscript=no',
      '-device', `virtio-net-pci,disable-legacy=on,netdev=net0,mac=00:40:63:c2:ca:c9,romfile=${ROM}`,
      '-boot', 'n', '-no-reboot',
    ],
    { ns },
  );
  await vm.waitFor(/Root path: [^\r\n]+\r?\n/, 120_000);
  await vm.stop();
  const serial = vm.output();
  t.match(serial, /net0: 198\.18\.21\.21\/255\.255\.255\.0 gw 198\.18\.21\.1/, 'iPXE took the fixed address of its MAC and the router');
  t.match(serial, /Next server: 198\.18\.21\.1/);
  t.match(serial, /Filename: pxelinux\.0/);
  t.match(serial, /Root path: \/diskless\/198\.18\.21\.21/);
  const out = server.output();
  t.match(out, 'DHCPDISCOVER from 00:40:63:c2:ca:c9 via tap0');
  t.match(out, 'DHCPACK on 198.18.21.21 to 00:40:63:c2:ca:c9 via tap0');
});
