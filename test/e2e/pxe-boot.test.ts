/**
 * The diskless boot, end to end: inside a network namespace the test
 * creates, `netboot serve` alone serves DHCP, TFTP, portmap, mountd and
 * NFSv3 from a dhcpd.conf and an exports file in the guide's style; a QEMU
 * guest with no disk boots through its iPXE ROM and pxelinux, gets its fixed
 * address, loads kernel and initrd over TFTP, mounts its root over NFSv3,
 * reads a file the test wrote, writes one back, and powers off. Four boots:
 * pxelinux config by MAC, by hex IP, by `default`, and MOUNT over UDP.
 * reference-boot.ts runs the same boots against Debian's servers.
 */
import t from 'tap';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePrograms, requireNetns, requireThat } from '../support/programs.js';
import { run, start } from '../support/processes.js';
import type { StatusNode } from '../support/boot-lab.js';
import { netbootCli } from '../support/paths.js';
import { prepareGuest } from './guest.js';
import { bootAll, IPXE_ROM, PARALLEL_BOOTS, writeScenario, type BootCase } from './scenario.js';
import { createVmNetwork, StampedLog, type VmNetwork } from './vm.js';

const STATUS_PORT = 19469;

// Four TCG boots of 40-90 s each, two at a time, plus building the guest on a cold cache.
t.setTimeout(660_000);

/** dhcpd.conf as the Gentoo diskless guide writes it, one host block per node. */
function dhcpdConf(net: VmNetwork, cases: BootCase[]): string {
  const subnet = net.address(0);
  return `# dhcpd.conf for the diskless nodes (the guide's layout, addresses in 198.18.0.0/15)
ddns-update-style none;
option routers ${net.serverAddr};
option domain-name-servers ${net.serverAddr};
option domain-name "cluster.test";
next-server ${net.serverAddr};

option space PXE;
option PXE.mtftp-ip               code 1 = ip-address;
option PXE.mtftp-cport            code 2 = unsigned integer 16;
option PXE.mtftp-sport            code 3 = unsigned integer 16;
option PXE.mtftp-tmout            code 4 = unsigned integer 8;
option PXE.mtftp-delay            code 5 = unsigned integer 8;
option PXE.discovery-control      code 6 = unsigned integer 8;
option PXE.discovery-mcast-addr   code 7 = ip-address;

subnet ${subnet} netmask 255.255.255.0 {
  class "pxeclient" {
    match if substring(option vendor-class-identifier, 0, 9) = "PXEClient";
    vendor-option-space PXE;
    option PXE.mtftp-ip 0.0.0.0;
    filename "pxelinux.0";
  }
${cases
  .map(
    (c, i) => `
  host node${i + 1} {
    hardware ethernet         ${c.mac};
    fixed-address             ${c.ip};
    option root-path          "${c.root.dir}";
  }
`,
  )
  .join('')}}
`;
}

/** /etc/exports as the guide writes it: each node's root to that node only. */
function exportsFile(cases: BootCase[]): string {
  return [
    '# /etc/exports: each diskless node mounts its own root, read-write as root',
    ...cases.map((c) => `${c.root.dir}   ${c.ip}(sync,rw,no_root_squash,no_all_squash,no_subtree_check)`),
    '',
  ].join('\n');
}

t.test('a diskless QEMU guest boots from netboot serve alone', { jobs: PARALLEL_BOOTS }, async (t) => {
  if (!requireNetns(t)) return;
  const progs = requirePrograms(t, {
    'qemu-system-x86_64': 'qemu-system-x86',
    'apt-get': 'apt',
    dpkg: 'dpkg',
  });
  if (!progs) return;
  if (!requireThat(t, existsSync(IPXE_ROM), `missing ${IPXE_ROM} (Debian package ipxe-qemu): apt-get install it to run this test`)) return;

  const guest = await prepareGuest((line) => t.comment(line));
  t.comment(`guest: ${guest.packages.join(' ')}`);
  const net = createVmNetwork(t, { subnet: 1, guests: PARALLEL_BOOTS });
  const work = mkdtempSync(join(tmpdir(), 'nb-e2e-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const scenario = writeScenario(work, guest, net);
  const dhcpConf = join(work, 'dhcpd.conf');
  const exports = join(work, 'exports');
  writeFileSync(dhcpConf, dhcpdConf(net, scenario.cases));
  writeFileSync(exports, exportsFile(scenario.cases));

  const serve = start(
    t,
    process.execPath,
    [
      netbootCli,
      'serve',
      '--dhcp-conf', dhcpConf,
      '--interface', net.iface,
      '--tftp-root', scenario.tftpRoot,
      '--exports', exports,
      '--listen', net.serverAddr,
      '--state-dir', join(work, 'state'),
      '--status-port', String(STATUS_PORT),
      '--verbose',
    ],
    { ns: net.ns },
  );
  const serveLog = new StampedLog(serve);
  try {
    await serve.waitFor(/netboot serve: running/, 30_000);
  } catch (e) {
    t.fail(`netboot serve did not start: ${(e as Error).message}`);
    return;
  }

  const server = { log: serveLog, ack: (ip: string) => new RegExp(`DHCPACK on ${ip.replace(/\./g, '\\.')}\\b`), output: serve.output };
  await bootAll(t, net, scenario.cases, server);

  // Each guest's whole timeline, in order, as `netboot status --json` gives it.
  const status = await run(process.execPath, [netbootCli, 'status', '--json', '--url', `http://127.0.0.1:${STATUS_PORT}`], { ns: net.ns, timeoutMs: 20_000 });
  t.equal(status.code, 0, `netboot status --json: ${status.stderr}`);
  const nodes = (JSON.parse(status.stdout) as { nodes: StatusNode[] }).nodes;
  for (const c of scenario.cases) {
    const node = nodes.find((n) => n.mac === c.mac.toLowerCase());
    t.ok(node, `${c.name}: ${c.mac} is in the status`);
    if (!node) continue;
    t.equal(node.ip, c.ip, `${c.name}: its leased address`);
    t.equal(node.bootCount, 1, `${c.name}: one boot (the kernel's own DHCP is part of it)`);
    t.equal(node.firmware, 'iPXE', `${c.name}: QEMU's iPXE ROM (option 77)`);
    // The init reads and writes for well under the 2 s of NFS activity that make a node up, then powers off.
    t.same(
      node.stages.map((s) => s.name).slice(0, 5),
      ['dhcp', 'loader', 'kernel', 'mounted', 'init'],
      `${c.name}: DHCP, loader, kernel and initrd, root mounted, init read`,
    );
    for (let i = 1; i < node.stages.length; i++) t.ok(node.stages[i].start >= node.stages[i - 1].start, `${c.name}: ${node.stages[i].name} after ${node.stages[i - 1].name}`);
    const files = node.boot!.timeline.filter((x) => x.what === 'tftp' && (x.outcome === 'complete' || x.outcome === 'unconfirmed')).map((x) => x.label);
    t.match(files, ['pxelinux.0', 'ldlinux.c32'], `${c.name}: the loader's files first (${files.join(', ')})`);
    t.ok(files.includes('vmlinuz') && files.some((f) => /initrd/.test(f)), `${c.name}: kernel and initrd over TFTP`);
    t.ok(node.boot!.timeline.some((x) => x.what === 'init' && x.label === 'READ /sbin/init'), `${c.name}: the first READ of /sbin/init`);
    const plausible = node.stages.every((s) => s.end === null || s.end - s.start < 300_000);
    t.ok(plausible, `${c.name}: no stage over 5 minutes (${node.stages.map((s) => `${s.name} ${s.end === null ? '-' : ((s.end - s.start) / 1000).toFixed(1)}`).join(', ')})`);
    t.equal(node.lastError, null, `${c.name}: no error`);
  }
  t.equal(await serve.stop(10_000), 0, 'netboot serve exits 0 on SIGTERM');
});
