/**
 * Which stage a requested file belongs to, from its name: a kernel or an
 * initrd moves a node to `kernel`, anything else it fetches before them
 * (pxelinux.0, ldlinux.c32, a config file, an iPXE script, a UEFI loader) is
 * the boot loader's doing.
 */
export function fileStage(file: string): 'loader' | 'kernel' {
  const base = file.slice(file.lastIndexOf('/') + 1).toLowerCase();
  return /^(vmlinu[xz]|bzimage|linux|kernel|initrd|initramfs|uinitrd)|\.(cpio|cpio\.gz|cpio\.xz|cpio\.zst)$|^(initrd|initramfs)|(initrd|initramfs)/.test(base)
    ? 'kernel'
    : 'loader';
}

/** Which firmware a loader file is built for, when its name says so; undefined when it does not. */
export function loaderFirmware(file: string): 'BIOS' | 'UEFI' | undefined {
  const base = file.slice(file.lastIndexOf('/') + 1).toLowerCase();
  if (/\.efi$|\.e64$|\.e32$/.test(base)) return 'UEFI';
  if (/\.(0|kpxe|kkpxe|pxe|com|c32)$/.test(base) || base === 'pxelinux.0' || base === 'lpxelinux.0') return 'BIOS';
  return undefined;
}
