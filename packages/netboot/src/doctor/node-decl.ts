/**
 * What dhcpd.conf says about a node, shared by the reading of the config
 * (dhcp-nodes) and the checks that follow it (node-checks, boot-files), so
 * that neither side imports the other.
 */

/** A kind of boot client a node may be, as its firmware describes itself in a DISCOVER. */
export interface BootClient {
  kind: 'bios' | 'uefi' | 'ipxe' | 'http';
  label: string;
  arch: number;
  vendorClass: string;
  userClass?: string;
}

/** One diskless node as dhcpd.conf describes it to a PXE ROM. */
export interface NodeDecl {
  name: string;
  mac: string;
  ip: string;
  /** The boot file a BIOS PXE ROM gets (filename), if any: the start of the pxelinux chain checked below it. */
  bootFile?: string;
  /** What each kind of boot client (BIOS, UEFI, iPXE, UEFI HTTP Boot) gets. */
  bootFiles: { client: BootClient; file?: string }[];
  /** next-server (siaddr), if any. */
  nextServer?: string;
  /** DHCP option root-path, if any. */
  rootPath?: string;
}
