import { isIPv6 } from 'node:net';

/** An IP address as bytes: 4 for IPv4, 16 for IPv6. */
export interface IpAddress {
  family: 4 | 6;
  bytes: Uint8Array;
}

function v4Bytes(text: string): Uint8Array {
  return Uint8Array.from(text.split('.'), (p) => Number(p));
}

function v6Bytes(text: string): Uint8Array {
  const out = new Uint8Array(16);
  let body = text;
  let tail: Uint8Array | undefined;
  const lastColon = body.lastIndexOf(':');
  if (body.indexOf('.', lastColon) !== -1) {
    tail = v4Bytes(body.slice(lastColon + 1));
    body = `${body.slice(0, lastColon + 1)}0:0`;
  }
  const [head, rest] = body.split('::') as [string, string | undefined];
  const groups = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const left = groups(head);
  const right = rest === undefined ? [] : groups(rest);
  const words = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  words.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  if (tail) out.set(tail, 12);
  return out;
}

/** Four decimal octets without leading zeros (as inet_pton; `010.1.1.1` is not an address). */
const DOTTED_QUAD = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;
const V4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/**
 * Parses an IPv4 or IPv6 literal (an IPv6 zone `%eth0` is ignored). An
 * IPv4-mapped IPv6 address (`::ffff:198.18.1.2`, what a dual-stack socket
 * reports for an IPv4 peer) comes back as the IPv4 address, so it matches
 * IPv4 client specs.
 */
export function parseIp(text: string): IpAddress | undefined {
  const quad = DOTTED_QUAD.exec(text);
  if (quad) {
    const bytes = new Uint8Array(4);
    for (let i = 0; i < 4; i++) {
      const n = Number(quad[i + 1]);
      if (n > 255) return undefined;
      bytes[i] = n;
    }
    return { family: 4, bytes };
  }
  const bare = text.replace(/%[^%]+$/, '');
  if (!isIPv6(bare)) return undefined;
  const bytes = v6Bytes(bare);
  if (V4_MAPPED_PREFIX.every((b, i) => bytes[i] === b)) return { family: 4, bytes: bytes.slice(12) };
  return { family: 6, bytes };
}

/** The canonical text of an address: dotted quad, or RFC 5952 IPv6. */
export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) return Array.from(ip.bytes).join('.');
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((ip.bytes[i] << 8) | ip.bytes[i + 1]);
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (bestAt < 0) return hex(words);
  return `${hex(words.slice(0, bestAt))}::${hex(words.slice(bestAt + bestLen))}`;
}

/** The prefix length of a contiguous netmask, or undefined if the mask has holes. */
export function maskToPrefix(mask: IpAddress): number | undefined {
  let prefix = 0;
  let ended = false;
  for (const byte of mask.bytes) {
    for (let bit = 7; bit >= 0; bit--) {
      const set = (byte >> bit) & 1;
      if (set && ended) return undefined;
      if (set) prefix++;
      else ended = true;
    }
  }
  return prefix;
}

/** `ip` with every bit after the first `prefix` bits cleared. */
export function networkOf(ip: IpAddress, prefix: number): IpAddress {
  const bytes = ip.bytes.slice();
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - 8 * i));
    bytes[i] &= (0xff00 >> keep) & 0xff;
  }
  return { family: ip.family, bytes };
}

/** Whether `ip` lies in `network`/`prefix` (same family only). */
export function inNetwork(ip: IpAddress, network: IpAddress, prefix: number): boolean {
  if (ip.family !== network.family) return false;
  for (let i = 0; i < ip.bytes.length && prefix > 8 * i; i++) {
    const keep = Math.min(8, prefix - 8 * i);
    const mask = (0xff00 >> keep) & 0xff;
    if ((ip.bytes[i] & mask) !== (network.bytes[i] & mask)) return false;
  }
  return true;
}
