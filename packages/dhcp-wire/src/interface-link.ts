import { networkInterfaces } from 'node:os';
import { parseIpv4 } from './ipv4.js';
import type { Link } from './lease-policy.js';

/** The interface's first IPv4 address and subnet, or an error saying what is missing. */
export function interfaceLink(name: string): Link {
  const all = networkInterfaces();
  const addrs = all[name];
  if (!addrs) {
    throw new Error(`no network interface "${name}" (interfaces here: ${Object.keys(all).join(', ') || 'none'})`);
  }
  const v4 = addrs.find((a) => a.family === 'IPv4');
  if (!v4) throw new Error(`interface "${name}" has no IPv4 address; give it the master's address first (ip addr add ... dev ${name})`);
  const address = parseIpv4(v4.address)!;
  const mask = parseIpv4(v4.netmask)!;
  return { name, address, mask, network: (address & mask) >>> 0 };
}
