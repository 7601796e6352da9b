import { mkdir, writeFile, symlink, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

/** The ports of the embedded demo: unprivileged, so it runs as any user. */
export const DEMO_PORTS = { tftp: 10069, http: 10080, portmap: 10111, mountd: 10048, nfs: 10049 } as const;

export interface DemoSetup {
  dir: string;
  tftpRoot: string;
  exportRoot: string;
  exportsFile: string;
  stateDir: string;
}

/** Where the demo lives when no --state-dir is given: one folder per user under the temp dir. */
export function defaultDemoDir(): string {
  return join(tmpdir(), `netboot-demo-${process.getuid?.() ?? 'user'}`);
}

/**
 * Writes the embedded demo: a TFTP root shaped like a pxelinux setup and one
 * NFS export with a few files, exported read-write to loopback only. It is
 * rewritten on every start so a fresh `npm start` always shows the same thing.
 */
export async function writeDemo(dir: string): Promise<DemoSetup> {
  const tftpRoot = join(dir, 'tftp');
  const exportRoot = join(dir, 'export');
  const stateDir = join(dir, 'state');
  const exportsFile = join(dir, 'exports');
  await rm(tftpRoot, { recursive: true, force: true });
  await rm(exportRoot, { recursive: true, force: true });
  await mkdir(join(tftpRoot, 'pxelinux.cfg'), { recursive: true });
  await mkdir(join(exportRoot, 'etc'), { recursive: true });
  await mkdir(stateDir, { recursive: true });
  await writeFile(
    join(tftpRoot, 'pxelinux.cfg', 'default'),
    [
      'DEFAULT linux',
      'LABEL linux',
      '  KERNEL vmlinuz',
      '  APPEND initrd=initrd.img ip=dhcp root=/dev/nfs nfsroot=127.0.0.1:' + exportRoot + ',vers=3,tcp rw',
      '',
    ].join('\n'),
  );
  await writeFile(join(tftpRoot, 'hello.txt'), 'Hello from netboot over TFTP.\n');
  await writeFile(join(exportRoot, 'README'), 'Hello from netboot over NFSv3.\n');
  await writeFile(join(exportRoot, 'etc', 'hostname'), 'demo-node\n');
  await symlink('etc/hostname', join(exportRoot, 'hostname'));
  await writeFile(
    exportsFile,
    [
      '# The demo export: read-write for loopback clients, unprivileged ports allowed',
      '# so that nfs-ls works without root.',
      `${exportRoot} 127.0.0.0/8(rw,sync,insecure,root_squash,no_subtree_check)`,
      '',
    ].join('\n'),
  );
  return { dir, tftpRoot, exportRoot, exportsFile, stateDir };
}
