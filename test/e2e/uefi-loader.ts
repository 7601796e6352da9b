import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../support/paths.js';
import { candidateVersion, must } from './guest.js';

/** OVMF from Debian's ovmf package: the 4 MiB build, its code read-only and a variable store copied per guest. */
export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';
/** iPXE's virtio-net ROM with its EFI driver (Debian's ipxe-qemu): the UEFI guest's network boot. */
export const IPXE_EFI_ROM = '/usr/lib/ipxe/qemu/efi-virtio.rom';

/**
 * The UEFI boot loaders of the mixed-firmware boots: syslinux.efi (package
 * syslinux-efi) and its ldlinux.e64 (syslinux-common) for UEFI PXE, and
 * iPXE's snponly.efi (ipxe) for UEFI HTTP Boot, fetched with
 * `apt-get download` and unpacked with `dpkg -x`, never installed. It reads
 * the same pxelinux.cfg/ names as pxelinux.0, so BIOS and UEFI nodes share
 * one config layout. Cached in `.cache/e2e-uefi/<versions>`.
 */
export interface UefiLoader {
  packages: string[];
  syslinuxEfi: string;
  ldlinuxE64: string;
  /** iPXE as a UEFI program on the firmware's network driver (package ipxe): what UEFI HTTP Boot loads. */
  snponlyEfi: string;
}

const CACHE = join(repoRoot, '.cache', 'e2e-uefi');

export async function prepareUefiLoader(log: (line: string) => void = () => {}): Promise<UefiLoader> {
  const packages = await Promise.all(['syslinux-efi', 'syslinux-common', 'ipxe'].map(async (n) => `${n}=${await candidateVersion(n)}`));
  const dir = join(CACHE, packages.join('_').replace(/[^\w.=-]/g, '_'));
  const manifest = join(dir, 'loader.json');
  if (existsSync(manifest)) return JSON.parse(readFileSync(manifest, 'utf8')) as UefiLoader;

  log(`fetching the UEFI loader from ${packages.join(' ')} into ${dir}`);
  mkdirSync(CACHE, { recursive: true });
  const work = mkdtempSync(join(CACHE, 'work-'));
  try {
    await must('apt-get', ['download', '-o', 'APT::Sandbox::User=root', ...packages], { cwd: work, timeoutMs: 300_000 });
    const tree = join(work, 'tree');
    for (const deb of readdirSync(work).filter((f) => f.endsWith('.deb'))) await must('dpkg', ['-x', join(work, deb), tree]);
    const out = join(work, 'out');
    mkdirSync(out);
    copyFileSync(join(tree, 'usr', 'lib', 'SYSLINUX.EFI', 'efi64', 'syslinux.efi'), join(out, 'syslinux.efi'));
    copyFileSync(join(tree, 'usr', 'lib', 'syslinux', 'modules', 'efi64', 'ldlinux.e64'), join(out, 'ldlinux.e64'));
    copyFileSync(join(tree, 'usr', 'lib', 'ipxe', 'snponly.efi'), join(out, 'snponly.efi'));
    const loader: UefiLoader = { packages, syslinuxEfi: join(dir, 'syslinux.efi'), ldlinuxE64: join(dir, 'ldlinux.e64'), snponlyEfi: join(dir, 'snponly.efi') };
    writeFileSync(join(out, 'loader.json'), JSON.stringify(loader, null, 2));
    // Built meanwhile by another test file running in parallel: keep that one, which it may be reading.
    if (existsSync(manifest)) return JSON.parse(readFileSync(manifest, 'utf8')) as UefiLoader;
    rmSync(dir, { recursive: true, force: true });
    renameSync(out, dir);
    return loader;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
