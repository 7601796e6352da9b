import { networkInterfaces } from 'node:os';
import { parseIpv4 } from './ipv4.js';
import type { Link } from './lease-policy.js';

/** Interfaces by name with their IPv4 addresses: the shape of os.networkInterfaces() that matters here. */
export type InterfaceTable = Record<string, ReadonlyArray<{ address: string; netmask: string }>>;

/**
 * The IPv4 addresses of the interfaces Node sees. os.networkInterfaces()
 * (getifaddrs through libuv) leaves out interfaces that are not running: a
 * cable not yet plugged, a tap whose VM has not started. A server that must
 * start before its clients passes a fuller table (@netboot/platform's
 * interfaceAddresses()).
 */
export function nodeInterfaceTable(): InterfaceTable {
  const table: Record<string, Array<{ address: string; netmask: string }>> = {};
  for (const [name, infos] of Object.entries(networkInterfaces())) {
    table[name] = (infos ?? []).filter((a) => a.family === 'IPv4').map((a) => ({ address: a.address, netmask: a.netmask }));
  }
  return table;
}

/** The interface's first IPv4 address and subnet, or an error saying what is missing. */
export function interfaceLink(name: string, interfaces: InterfaceTable = nodeInterfaceTable()): Link {
  const addresses = interfaces[name];
  if (addresses === undefined) {
    throw new Error(`no network interface "${name}" (interfaces here: ${Object.keys(interfaces).join(', ') || 'none'})`);
  }
  const first = addresses[0];
  const address = first && parseIpv4(first.address);
  const mask = first && parseIpv4(first.netmask);
  if (address === undefined || mask === undefined) {
    throw new Error(`interface "${name}" has no IPv4 address; give it the master's address first (ip addr add ADDR/PREFIX dev ${name})`);
  }
  return { name, address, mask, network: (address & mask) >>> 0 };
}
