import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Guest } from './guest.js';

/** Which of pxelinux's lookups finds the node's config: by MAC, by hex IP, or the fallback. */
export type ConfigLookup = 'mac' | 'hexip' | 'default';

/** The name pxelinux tries for each lookup (pxelinux.cfg/<name>). */
export function pxelinuxConfigName(lookup: ConfigLookup, mac: string, ip: string): string {
  switch (lookup) {
    case 'mac':
      return `01-${mac.toLowerCase().replace(/:/g, '-')}`;
    case 'hexip':
      return ip
        .split('.')
        .map((o) => Number(o).toString(16).toUpperCase().padStart(2, '0'))
        .join('');
    case 'default':
      return 'default';
  }
}

/** Copies the boot files into a TFTP root: pxelinux.0, ldlinux.c32, vmlinuz, initrd.gz. */
export function writeTftpRoot(dir: string, guest: Guest): void {
  mkdirSync(join(dir, 'pxelinux.cfg'), { recursive: true });
  copyFileSync(guest.pxelinux, join(dir, 'pxelinux.0'));
  copyFileSync(guest.ldlinux, join(dir, 'ldlinux.c32'));
  copyFileSync(guest.vmlinuz, join(dir, 'vmlinuz'));
  copyFileSync(guest.initrd, join(dir, 'initrd.gz'));
}

export interface NodeBoot {
  lookup: ConfigLookup;
  mac: string;
  ip: string;
  server: string;
  /** The exported path of the node's root. */
  rootPath: string;
  /** NFS mount options after the path in nfsroot=, e.g. `vers=3,tcp`. */
  nfsOptions: string;
  /** What `e2e.config=` says on the command line (default: the lookup). */
  label?: string;
}

/**
 * Writes the node's config under the name of the chosen lookup: the guide's
 * command line, plus `e2e.config=` naming the lookup so the serial console
 * shows which file pxelinux booted.
 */
export function writePxelinuxConfig(tftpRoot: string, boot: NodeBoot): string {
  const cfgDir = join(tftpRoot, 'pxelinux.cfg');
  mkdirSync(cfgDir, { recursive: true });
  const name = pxelinuxConfigName(boot.lookup, boot.mac, boot.ip);
  const append = [
    'initrd=initrd.gz',
    'console=ttyS0',
    'ip=dhcp',
    'root=/dev/nfs',
    `nfsroot=${boot.server}:${boot.rootPath},${boot.nfsOptions}`,
    'rw',
    `e2e.config=${boot.label ?? boot.lookup}`,
  ].join(' ');
  writeFileSync(
    join(cfgDir, name),
    ['DEFAULT linux', 'PROMPT 0', 'LABEL linux', '  KERNEL vmlinuz', `  APPEND ${append}`, '  IPAPPEND 2', ''].join('\n'),
  );
  return `pxelinux.cfg/${name}`;
}
