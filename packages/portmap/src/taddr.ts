import { isIPv4 } from 'node:net';
import { formatUaddr, parseUaddr } from './uaddr.js';

/**
 * Transport addresses for UADDR2TADDR / TADDR2UADDR: the bytes of a Linux
 * `struct sockaddr_in` (16 bytes) or `sockaddr_in6` (28 bytes), as libtirpc
 * puts them in a netbuf. The family is in host byte order, the port in
 * network order.
 */
const AF_INET = 2;
const AF_INET6 = 10;
const SOCKADDR_IN = 16;
const SOCKADDR_IN6 = 28;

/** The transport address of a universal address; undefined when it is not one. */
export function uaddrToTaddr(uaddr: string, littleEndian = true): Buffer | undefined {
  const t = parseUaddr(uaddr);
  if (!t) return undefined;
  if (t.family === 4) {
    const b = Buffer.alloc(SOCKADDR_IN);
    littleEndian ? b.writeUInt16LE(AF_INET, 0) : b.writeUInt16BE(AF_INET, 0);
    b.writeUInt16BE(t.port, 2);
    t.address.split('.').forEach((o, i) => b.writeUInt8(Number(o), 4 + i));
    return b;
  }
  const b = Buffer.alloc(SOCKADDR_IN6);
  littleEndian ? b.writeUInt16LE(AF_INET6, 0) : b.writeUInt16BE(AF_INET6, 0);
  b.writeUInt16BE(t.port, 2);
  ipv6Bytes(t.address).copy(b, 8);
  return b;
}

/** The universal address of a transport address; undefined when the bytes are not a sockaddr we know. */
export function taddrToUaddr(taddr: Uint8Array, littleEndian = true): string | undefined {
  const b = Buffer.from(taddr.buffer, taddr.byteOffset, taddr.byteLength);
  if (b.length < 4) return undefined;
  const family = littleEndian ? b.readUInt16LE(0) : b.readUInt16BE(0);
  const port = b.readUInt16BE(2);
  if (family === AF_INET && b.length >= 8) {
    return formatUaddr(`${b[4]}.${b[5]}.${b[6]}.${b[7]}`, port);
  }
  if (family === AF_INET6 && b.length >= 24) {
    const groups: string[] = [];
    for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(8 + 2 * i).toString(16));
    return formatUaddr(compressIPv6(groups), port);
  }
  return undefined;
}

function ipv6Bytes(address: string): Buffer {
  let text = address;
  const lastColon = text.lastIndexOf(':');
  const dotted = text.slice(lastColon + 1);
  if (isIPv4(dotted)) {
    // An embedded IPv4 tail (::ffff:1.2.3.4) is the last two groups.
    const o = dotted.split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`;
  }
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const [head, rest] = text.split('::') as [string, string | undefined];
  const left = parse(head);
  const right = rest === undefined ? [] : parse(rest);
  const zeros = rest === undefined ? 0 : 8 - left.length - right.length;
  const out = Buffer.alloc(16);
  [...left, ...new Array<number>(zeros).fill(0), ...right].forEach((g, i) => out.writeUInt16BE(g, 2 * i));
  return out;
}

/** RFC 5952 text: the longest run of two or more zero groups becomes "::". */
function compressIPv6(groups: string[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}
