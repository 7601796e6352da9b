/** The firmware a node booted with, as its DHCP options tell it. */
export type Firmware = 'BIOS' | 'UEFI' | 'iPXE' | 'HTTP Boot' | 'unknown';

/** RFC 4578 / IANA processor architecture types that are UEFI HTTP Boot clients. */
const HTTP_ARCHES = new Set([15, 16, 18, 19, 20, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41]);

/**
 * Option 77 `iPXE` wins (iPXE answers for any ROM it replaced or was chained
 * from); then an HTTPClient vendor class or an HTTP architecture; then
 * option 93: 0 is a BIOS PXE ROM, anything else UEFI.
 */
export function firmwareOf(o: { arch?: number; vendorClass?: string; userClass?: string }): Firmware {
  if (o.userClass === 'iPXE') return 'iPXE';
  if (o.vendorClass?.startsWith('HTTPClient') || (o.arch !== undefined && HTTP_ARCHES.has(o.arch))) return 'HTTP Boot';
  if (o.arch === 0) return 'BIOS';
  if (o.arch !== undefined) return 'UEFI';
  if (o.vendorClass?.startsWith('PXEClient')) {
    const m = /Arch:(\d{5})/.exec(o.vendorClass);
    if (m) return Number(m[1]) === 0 ? 'BIOS' : 'UEFI';
  }
  return 'unknown';
}

/** Whether a DHCP message comes from boot firmware (PXE, HTTP Boot, iPXE) rather than an OS's own DHCP client. */
export function isBootFirmware(o: { arch?: number; vendorClass?: string; userClass?: string }): boolean {
  return o.arch !== undefined || o.userClass === 'iPXE' || /^(PXEClient|HTTPClient)/.test(o.vendorClass ?? '');
}

/** Whether an architecture is a UEFI one (option 93 other than 0, 1-5 being legacy non-x86 BIOSes). */
export function isUefiArch(arch: number): boolean {
  return arch >= 6;
}
