import {
  formatIpv4,
  matchingClasses,
  resolve,
  subnetFor,
  type DhcpConfig,
  type DhcpMessage,
} from '@netboot/dhcp-wire';
import type { BootClient, NodeDecl } from './node-decl.js';

/** The kinds of boot client a node may be, each as its firmware describes itself in a DISCOVER. */
export const BOOT_CLIENTS: readonly BootClient[] = [
  { kind: 'bios', label: 'BIOS PXE node (option 93 = 0)', arch: 0, vendorClass: 'PXEClient:Arch:00000:UNDI:002001' },
  { kind: 'uefi', label: 'UEFI PXE node (option 93 = 7)', arch: 7, vendorClass: 'PXEClient:Arch:00007:UNDI:003016' },
  { kind: 'ipxe', label: 'iPXE node (user-class iPXE)', arch: 0, vendorClass: 'PXEClient:Arch:00000:UNDI:002001', userClass: 'iPXE' },
  { kind: 'http', label: 'UEFI HTTP Boot node (vendor class HTTPClient)', arch: 16, vendorClass: 'HTTPClient:Arch:00016:UNDI:003001' },
];

function discover(mac: string, client: BootClient): DhcpMessage {
  const chaddr = new Uint8Array(16);
  mac.split(':').forEach((b, i) => (chaddr[i] = parseInt(b, 16)));
  const options = [
    { code: 53, data: Uint8Array.of(1) },
    { code: 60, data: Buffer.from(client.vendorClass, 'latin1') },
    { code: 93, data: Uint8Array.of(client.arch >> 8, client.arch & 0xff) },
  ];
  if (client.userClass) options.push({ code: 77, data: Buffer.from(client.userClass, 'latin1') });
  return {
    op: 1, htype: 1, hlen: 6, hops: 0, xid: 0, secs: 0, flags: 0,
    ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0,
    chaddr, sname: new Uint8Array(0), file: new Uint8Array(0), cookie: true, options,
  };
}

/** Problems with a host declaration that stop a node before its boot file is even fetched. */
export interface HostProblem {
  name: string;
  what: string;
  fix: string;
}

/**
 * The nodes dhcpd.conf declares (hosts with a MAC and a fixed address), each
 * with what it would be told booting as each kind of client (the config's
 * classes and if/else run on a DISCOVER such a client sends): boot file,
 * next-server, root-path.
 */
export function nodesOf(config: DhcpConfig): { nodes: NodeDecl[]; problems: HostProblem[] } {
  const nodes: NodeDecl[] = [];
  const problems: HostProblem[] = [];
  for (const host of config.hosts) {
    if (!host.mac) {
      problems.push({ name: host.name, what: `host ${host.name} has no hardware ethernet`, fix: `add "hardware ethernet <mac>;" to host ${host.name}` });
      continue;
    }
    const [addr] = host.fixedAddresses;
    if (addr === undefined) {
      problems.push({ name: host.name, what: `host ${host.name} has no fixed-address`, fix: `add "fixed-address <ip>;" to host ${host.name} so it always gets the address its root is exported to` });
      continue;
    }
    const subnet = subnetFor(config, addr);
    if (!subnet) {
      problems.push({ name: host.name, what: `host ${host.name}'s fixed-address ${formatIpv4(addr)} is in no declared subnet: dhcpd would never hand it out`, fix: `declare the subnet that holds ${formatIpv4(addr)}` });
      continue;
    }
    const mac = host.mac;
    const answers = BOOT_CLIENTS.map((client) => {
      const msg = discover(mac, client);
      return { client, eff: resolve(config, subnet, host, matchingClasses(config, subnet, host, msg), msg) };
    });
    const bios = answers[0].eff;
    const rootPath = bios.options.find((o) => o.code === 17);
    nodes.push({
      name: host.name,
      mac,
      ip: formatIpv4(addr),
      bootFile: bios.filename,
      nextServer: bios.nextServer !== undefined ? formatIpv4(bios.nextServer) : undefined,
      rootPath: rootPath ? Buffer.from(rootPath.data).toString('latin1') : undefined,
      bootFiles: answers.map(({ client, eff }) => ({ client, file: eff.filename })),
    });
  }
  return { nodes, problems };
}
