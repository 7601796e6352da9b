import {
  formatIpv4,
  matchingClasses,
  resolve,
  subnetFor,
  type DhcpConfig,
  type DhcpMessage,
} from '@netboot/dhcp-wire';
import type { NodeDecl } from './node-checks.js';

/** What a PXE ROM says about itself in its DISCOVER, so classes match as they will at boot. */
const PXE_VENDOR_CLASS = Buffer.from('PXEClient:Arch:00000:UNDI:002001', 'latin1');

function pxeDiscover(mac: string): DhcpMessage {
  const chaddr = new Uint8Array(16);
  mac.split(':').forEach((b, i) => (chaddr[i] = parseInt(b, 16)));
  return {
    op: 1, htype: 1, hlen: 6, hops: 0, xid: 0, secs: 0, flags: 0,
    ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0,
    chaddr, sname: new Uint8Array(0), file: new Uint8Array(0), cookie: true,
    options: [
      { code: 53, data: Uint8Array.of(1) },
      { code: 60, data: PXE_VENDOR_CLASS },
      { code: 93, data: Uint8Array.of(0, 0) },
    ],
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
 * with what a PXE ROM would be told: boot file, next-server, root-path.
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
    const eff = resolve(config, subnet, host, matchingClasses(config, subnet, host, pxeDiscover(host.mac)));
    const rootPath = eff.options.find((o) => o.code === 17);
    nodes.push({
      name: host.name,
      mac: host.mac,
      ip: formatIpv4(addr),
      bootFile: eff.filename,
      nextServer: eff.nextServer !== undefined ? formatIpv4(eff.nextServer) : undefined,
      rootPath: rootPath ? Buffer.from(rootPath.data).toString('latin1') : undefined,
    });
  }
  return { nodes, problems };
}
