import { execFileSync } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { parseIpv4, prefixToMask } from './ipv4.js';
import type { Link } from './lease-policy.js';

interface IpAddrJson {
  ifname: string;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

/**
 * The interface's first IPv4 address and subnet, or an error saying what is
 * missing. Asks iproute2 first: Node's networkInterfaces() leaves out an
 * interface without carrier (a cable not yet plugged, a tap whose VM has not
 * started), and a DHCP server must start before its clients do.
 */
export function interfaceLink(name: string): Link {
  let fromIp: IpAddrJson[] | undefined;
  try {
    fromIp = JSON.parse(execFileSync('ip', ['-4', '-j', 'addr', 'show', 'dev', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  } catch {
    fromIp = undefined;
  }
  let address: number | undefined;
  let mask: number | undefined;
  if (fromIp) {
    const info = fromIp[0]?.addr_info?.find((a) => a.family === 'inet');
    if (info) {
      address = parseIpv4(info.local);
      mask = prefixToMask(info.prefixlen);
    }
  } else {
    const all = networkInterfaces();
    const v4 = all[name]?.find((a) => a.family === 'IPv4');
    if (v4) {
      address = parseIpv4(v4.address);
      mask = parseIpv4(v4.netmask);
    } else if (!all[name]) {
      throw new Error(`no network interface "${name}" (interfaces here: ${Object.keys(all).join(', ') || 'none'})`);
    }
  }
  if (address === undefined || mask === undefined) {
    throw new Error(`interface "${name}" has no IPv4 address; give it the master's address first (ip addr add ADDR/PREFIX dev ${name})`);
  }
  return { name, address, mask, network: (address & mask) >>> 0 };
}
