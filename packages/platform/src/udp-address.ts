/** The sender of a datagram, as node:dgram's rinfo gives it. */
export interface UdpAddress {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

/** Bytes per record in a native UDP socket's `addresses` (the addon's UDP_ADDRESS_BYTES). */
const RECORD = 24;

/**
 * Record `i` of a native UDP socket's `addresses` (udpOpen) as text, in the
 * form node:dgram uses: dotted IPv4, RFC 5952 IPv6 (`::ffff:a.b.c.d` for an
 * IPv4 sender on an IPv6 socket, `%scope` for a link-local one). Only a
 * socket that is not connected needs it: a connected socket hears its peer alone.
 */
export function udpAddress(addresses: Buffer, i: number): UdpAddress {
  const at = i * RECORD;
  if (!Number.isInteger(i) || i < 0 || at + RECORD > addresses.length) throw new RangeError(`no address record ${i}`);
  const port = addresses.readUInt16BE(at + 2);
  if (addresses[at] === 4) {
    return { address: `${addresses[at + 4]}.${addresses[at + 5]}.${addresses[at + 6]}.${addresses[at + 7]}`, port, family: 'IPv4' };
  }
  if (addresses[at] !== 6) throw new RangeError(`address record ${i} holds no address`);
  return { address: ipv6Text(addresses, at + 4, addresses.readUInt32LE(at + 20)), port, family: 'IPv6' };
}

function ipv6Text(b: Buffer, at: number, scope: number): string {
  const words: number[] = [];
  for (let k = 0; k < 8; k++) words.push(b.readUInt16BE(at + 2 * k));
  let text: string;
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    text = `::ffff:${b[at + 12]}.${b[at + 13]}.${b[at + 14]}.${b[at + 15]}`;
  } else {
    // The longest run of two or more zero words becomes '::' (the first of equal runs).
    let best = -1;
    let bestLength = 1;
    for (let k = 0; k < 8; ) {
      if (words[k] !== 0) {
        k++;
        continue;
      }
      let end = k;
      while (end < 8 && words[end] === 0) end++;
      if (end - k > bestLength) {
        best = k;
        bestLength = end - k;
      }
      k = end;
    }
    const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
    text = best < 0 ? hex(words) : `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLength))}`;
  }
  return scope !== 0 ? `${text}%${scope}` : text;
}
