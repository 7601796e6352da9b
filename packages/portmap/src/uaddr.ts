import { isIPv4, isIPv6 } from 'node:net';

/** An IP address and port, as a universal address carries them. */
export interface TransportAddress {
  address: string;
  port: number;
  family: 4 | 6;
}

/**
 * Formats a universal address (RFC 5665 section 5.2.3): the address in its
 * usual text form followed by the port as two decimal octets, so
 * 198.18.11.1 port 2049 is "198.18.11.1.8.1" and ::1 port 111 is "::1.0.111".
 */
export function formatUaddr(address: string, port: number): string {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`${port} is not a port number`);
  }
  if (!isIPv4(address) && !isIPv6(address)) throw new RangeError(`"${address}" is not an IP address`);
  return `${address}.${port >> 8}.${port & 255}`;
}

const OCTET = /^(?:0|[1-9][0-9]{0,2})$/;

/** Parses a universal address; undefined when it is not one (a peer's text is never trusted). */
export function parseUaddr(uaddr: string): TransportAddress | undefined {
  const last = uaddr.lastIndexOf('.');
  const mid = last > 0 ? uaddr.lastIndexOf('.', last - 1) : -1;
  if (mid <= 0) return undefined;
  const hi = uaddr.slice(mid + 1, last);
  const lo = uaddr.slice(last + 1);
  if (!OCTET.test(hi) || !OCTET.test(lo) || Number(hi) > 255 || Number(lo) > 255) return undefined;
  const address = uaddr.slice(0, mid);
  const family = isIPv4(address) ? 4 : isIPv6(address) ? 6 : undefined;
  if (family === undefined) return undefined;
  return { address, port: Number(hi) * 256 + Number(lo), family };
}

/** Whether an address means "every local address" (a server bound to the wildcard). */
export function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::' || address === '0:0:0:0:0:0:0:0';
}

/** Node reports IPv4 peers of a dual-stack socket as ::ffff:a.b.c.d; this gives the plain IPv4 form. */
export function unmapIPv4(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/** Whether a caller's address is loopback (127.0.0.0/8 or ::1, also IPv4-mapped), the only callers allowed to SET/UNSET. */
export function isLoopback(address: string): boolean {
  const a = unmapIPv4(address);
  if (isIPv4(a)) return a.startsWith('127.');
  return a === '::1' || a === '0:0:0:0:0:0:0:1';
}
