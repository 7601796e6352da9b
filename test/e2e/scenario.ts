import type { Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Guest } from './guest.js';
import { readReply, writeNodeRoot, type NodeRoot } from './node-root.js';
import { writePxelinuxConfig, writeTftpRoot, type ConfigLookup } from './tftp-root.js';
import { takeVmSlot } from './vm-slots.js';
import { formatTimes, startVm, waitForBoot, type BootResult, type StampedLog, type VmNetwork } from './vm.js';

/**
 * The four boots of the diskless test, each a node of its own (MAC, fixed
 * address, root under diskless/<ip>), so a server that caches a node's
 * files never sees them replaced behind its back between boots:
 * pxelinux finds the first node's config by MAC, the second's by hex IP,
 * the third falls back to `default`, and the fourth mounts with MOUNT over
 * UDP. All four configs coexist: each node's lookup misses the others'.
 */
export interface BootCase {
  name: string;
  lookup: ConfigLookup;
  mac: string;
  ip: string;
  nfsOptions: string;
  root: NodeRoot;
  /** The pxelinux config this node boots with. */
  config: string;
}

export interface Scenario {
  tftpRoot: string;
  /** The parent of every node root (the guide's /diskless). */
  disklessDir: string;
  cases: BootCase[];
}

const PLAN: { name: string; lookup: ConfigLookup; nfsOptions: string }[] = [
  { name: 'config by MAC', lookup: 'mac', nfsOptions: 'vers=3,tcp' },
  { name: 'config by hex IP', lookup: 'hexip', nfsOptions: 'vers=3,tcp' },
  { name: 'config by default', lookup: 'default', nfsOptions: 'vers=3,tcp' },
  { name: 'MOUNT over UDP', lookup: 'mac', nfsOptions: 'vers=3,tcp,mountproto=udp' },
];

/** Writes the TFTP root, every node's root and pxelinux config under `work`. */
export function writeScenario(work: string, guest: Guest, net: VmNetwork): Scenario {
  const tftpRoot = join(work, 'tftpboot');
  const disklessDir = join(work, 'diskless');
  writeTftpRoot(tftpRoot, guest);
  const cases = PLAN.map((p, i) => {
    const mac = `52:54:00:e2:e0:${(i + 1).toString(16).padStart(2, '0')}`;
    const ip = net.address(10 + i);
    const root = writeNodeRoot(join(disklessDir, ip), guest, randomBytes(8).toString('hex'));
    const config = writePxelinuxConfig(tftpRoot, {
      lookup: p.lookup,
      mac,
      ip,
      server: net.serverAddr,
      rootPath: root.dir,
      nfsOptions: p.nfsOptions,
    });
    return { ...p, mac, ip, root, config };
  });
  return { tftpRoot, disklessDir, cases };
}

export const IPXE_ROM = '/usr/lib/ipxe/qemu/pxe-virtio.rom';

/**
 * Boots one node and checks every step the serial console shows: its fixed
 * address from the second DHCP, the config lookup it booted with, the
 * request read over NFS, the reply written back, and (for the UDP case)
 * the mount options. On failure the console and server logs go to a file.
 */
export async function bootAndCheck(
  t: Test,
  net: VmNetwork,
  tap: string,
  c: BootCase,
  server: { log: StampedLog; ack?: (ip: string) => RegExp; output(): string },
  timeoutMs = 150_000,
): Promise<BootResult> {
  const release = await takeVmSlot({ onWait: () => t.comment('waiting for a guest slot (another test file is booting guests)') });
  let result: BootResult;
  try {
    const vm = startVm(t, { net, tap, mac: c.mac, rom: IPXE_ROM });
    result = await waitForBoot(vm, { timeoutMs, serverLog: server.log, serverAck: server.ack?.(c.ip) });
  } finally {
    release();
  }
  const times = formatTimes(`${c.name} (${c.config}, ${c.nfsOptions})`, result.seconds);
  t.comment(times);
  // The timings are the point of the run: on stderr they show with any reporter.
  process.stderr.write(`e2e ${times}\n`);
  if (result.outcome !== 'done' || process.env.E2E_TIMELINE) {
    const dump = join(tmpdir(), `nb-e2e-${c.ip}-${c.lookup}.log`);
    writeFileSync(dump, `${result.timeline}\nserver output:\n${server.output()}\n`);
    const failed = result.serial.match(/E2E-FAIL.*|Kernel panic.*|PXE-E.*|No more network devices/);
    t.comment(`boot ${result.outcome}${failed ? `: ${failed[0]}` : ''}; serial console and server log in ${dump}`);
  }
  t.equal(result.outcome, 'done', 'the guest reached its marker and powered off');
  t.match(result.serial, new RegExp(`E2E-DHCP ip=${c.ip.replace(/\./g, '\\.')} `), 'the second, plain DHCP got the fixed address');
  t.match(result.serial, `e2e.config=${c.lookup}`, `pxelinux booted ${c.config}`);
  t.match(result.serial, `E2E-READ ${c.root.request}`, 'the node read the file the test wrote');
  t.equal(readReply(c.root), `reply:${c.root.request}\n`, 'the node wrote its reply into its root');
  if (c.nfsOptions.includes('mountproto=udp')) t.match(result.serial, /E2E-NFSROOT .*mountproto=udp/, 'MOUNT went over UDP');
  return result;
}

export { PARALLEL_BOOTS } from './vm-slots.js';

/**
 * Boots every case as a subtest of `t`, which must run `net.taps.length`
 * subtests at once (tap's `jobs`): each boot takes a tap no other running
 * boot holds.
 */
export async function bootAll(
  t: Test,
  net: VmNetwork,
  cases: BootCase[],
  server: Parameters<typeof bootAndCheck>[4],
): Promise<void> {
  const free = [...net.taps];
  await Promise.all(
    cases.map((c) =>
      t.test(c.name, async (t) => {
        const tap = free.shift();
        if (!tap) throw new Error(`more boots at once than the ${net.taps.length} tap devices`);
        try {
          await bootAndCheck(t, net, tap, c, server);
        } finally {
          free.push(tap);
        }
      }),
    ),
  );
}
