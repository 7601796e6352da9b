import net from 'node:net';
import os from 'node:os';

/** `0.0.0.0`, `::` (or `::0`, `0:0::0`...): an address that stands for every local one. */
export function isWildcardAddress(host: string): boolean {
  if (net.isIPv4(host)) return host === '0.0.0.0';
  return net.isIPv6(host) && /^[0:]+$/.test(host);
}

/**
 * The unicast addresses a socket bound to `wildcard` receives datagrams for:
 * IPv4 ones for `0.0.0.0`; for `::` (dual-stack) the IPv6 ones too, except
 * link-local ones, which need a scope and are left to the wildcard socket.
 */
export function localUnicastAddresses(
  wildcard: string,
  interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces(),
): string[] {
  const six = net.isIPv6(wildcard);
  const out = new Set<string>();
  for (const infos of Object.values(interfaces)) {
    for (const info of infos ?? []) {
      if (info.family === 'IPv4') out.add(info.address);
      else if (six && info.family === 'IPv6' && !/^fe[89ab]/i.test(info.address)) out.add(info.address);
    }
  }
  return [...out];
}
