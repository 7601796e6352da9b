import { isIPv4 } from 'node:net';
import { formatUaddr, isLoopback, isWildcard, parseUaddr } from './uaddr.js';

/** A local interface address, as os.networkInterfaces() lists them. */
export interface InterfaceAddress {
  address: string;
  netmask: string;
  family: 'IPv4' | 'IPv6' | 4 | 6;
  internal: boolean;
}

function ipv4ToInt(a: string): number {
  return a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

/**
 * The local address a caller reached us by, for a socket bound to the
 * wildcard (where UDP does not tell): the interface on the caller's subnet,
 * loopback for a loopback caller, else the first external address of the
 * caller's family. Undefined when nothing fits.
 */
export function localAddressFor(remote: string, interfaces: readonly InterfaceAddress[]): string | undefined {
  const v4 = isIPv4(remote);
  const family = (i: InterfaceAddress) => (i.family === 'IPv4' || i.family === 4 ? 4 : 6);
  const same = interfaces.filter((i) => family(i) === (v4 ? 4 : 6));
  if (isLoopback(remote)) return v4 ? '127.0.0.1' : '::1';
  if (v4) {
    const r = ipv4ToInt(remote);
    for (const i of same) {
      const m = ipv4ToInt(i.netmask);
      if (!i.internal && ((ipv4ToInt(i.address) ^ r) & m) >>> 0 === 0) return i.address;
    }
  }
  return same.find((i) => !i.internal && !i.address.startsWith('fe80:'))?.address;
}

/**
 * A registered universal address as the caller should use it: a service
 * bound to the wildcard is reached at the local address the caller reached
 * us by, as rpcbind's address merging does.
 */
export function mergeUaddr(registered: string, local: string | undefined): string {
  const t = parseUaddr(registered);
  if (!t || !isWildcard(t.address) || local === undefined || isWildcard(local)) return registered;
  if (isIPv4(local) !== (t.family === 4)) return registered;
  return formatUaddr(local, t.port);
}
