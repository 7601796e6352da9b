import { isUefiArch } from './firmware.js';
import { loaderFirmware } from './boot-files.js';
import type { NodeState } from './node-state.js';

/** One finding of the live doctor about a node, from its own traffic. */
export interface Diagnosis {
  /** Stable identifier, e.g. `offer-ignored`. */
  code: 'offer-ignored' | 'tftp-blksize' | 'wrong-arch' | 'mount-refused' | 'nfs-v2' | 'stuck-initramfs' | 'reboot-loop';
  /** What is wrong and what to do, one sentence or two. */
  text: string;
}

export interface DiagnoseOptions {
  /** DISCOVERs answered with an OFFER but never followed by a REQUEST before this counts (default 3). */
  ignoredOffers?: number;
  /** Timeouts at one block size that point at fragmentation (default 2). */
  blksizeTimeouts?: number;
  /** Boots within `loopWindowMs` without reaching `up` that make a loop (default 3 in 15 minutes). */
  loopBoots?: number;
  loopWindowMs?: number;
  /** How long a node may sit mounted without reading init (default 120 s; the model's `lost` says the same sooner or later). */
  stuckMountedMs?: number;
}

/**
 * What the traffic of a node's current boot says is wrong, most decisive
 * first. Pure: the node's state and the time in, findings out.
 */
export function diagnose(node: NodeState, now: number, opts: DiagnoseOptions = {}): Diagnosis[] {
  const out: Diagnosis[] = [];
  const boot = node.boot;
  if (!boot) return out;
  const c = boot.counters;
  if (c.mountRefused) {
    const where = c.mountRefused.exportsLine ? `; the exports line that decided it is ${c.mountRefused.exportsLine}` : '';
    out.push({
      code: 'mount-refused',
      text: `MOUNT of ${c.mountRefused.path} was refused (${c.mountRefused.reason})${where}: export it to ${node.ip ?? 'this node'} or fix the node's nfsroot=`,
    });
  }
  if (c.nfsV2) {
    out.push({ code: 'nfs-v2', text: 'the node asked for NFSv2 (MOUNT v1), which netboot does not serve: add vers=3 (nfsvers=3) to its nfsroot= or mount options' });
  }
  if (c.discovers >= (opts.ignoredOffers ?? 3) && c.offers > 0 && c.requests === 0) {
    out.push({
      code: 'offer-ignored',
      text: `${c.discovers} DISCOVERs answered with ${c.offers} OFFERs but no REQUEST: the node takes another server's offer (a second DHCP server on the segment) or ours does not reach it (wrong subnet or relay); check with tcpdump on the node's segment`,
    });
  }
  for (const [blksize, n] of Object.entries(c.tftpTimeouts)) {
    if (n >= (opts.blksizeTimeouts ?? 2) && Number(blksize) > 512) {
      const lower = Number(blksize) > 1408 ? 1408 : 512;
      out.push({
        code: 'tftp-blksize',
        text: `${n} TFTP transfers timed out at blksize ${blksize}: large blocks are fragmented or dropped on the path (MTU); lower the largest agreed with --blksize-max ${lower}`,
      });
    }
  }
  if (node.arch !== null) {
    const uefi = isUefiArch(node.arch);
    const wrong = c.loaderFiles.find((f) => {
      const fw = loaderFirmware(f);
      return fw !== undefined && (fw === 'UEFI') !== uefi;
    });
    if (wrong) {
      out.push({
        code: 'wrong-arch',
        text: `the node is ${uefi ? 'UEFI' : 'BIOS'} (DHCP option 93 = ${node.arch}) but was sent ${wrong}, a ${uefi ? 'BIOS' : 'UEFI'} loader: give it its own filename by option arch in dhcpd.conf`,
      });
    }
  }
  const mountedFor = now - node.stageSince;
  if ((node.stage === 'lost' && node.lostFrom === 'mounted') || (node.stage === 'mounted' && mountedFor > (opts.stuckMountedMs ?? 120_000))) {
    out.push({
      code: 'stuck-initramfs',
      text: 'the node mounted its root but never read its init: it is stuck in its initramfs (wrong init= or root path, a missing module, or no /sbin/init in the export); look at its console',
    });
  }
  const window = opts.loopWindowMs ?? 15 * 60_000;
  const failed = node.recentBoots.filter((b) => now - b.start <= window && !b.reachedUp);
  if (failed.length >= (opts.loopBoots ?? 3)) {
    out.push({ code: 'reboot-loop', text: `${failed.length} boots in ${Math.round(window / 60_000)} minutes without reaching up: the node is in a reboot loop; see the stage each boot ended in` });
  }
  return out;
}
