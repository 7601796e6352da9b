import { createSocket, type Socket } from 'node:dgram';

/**
 * Every address a transfer socket sends to is already a literal, so the
 * socket skips dgram's default `dns.lookup`, which costs a tick per packet.
 */
function literal(address: string, _options: unknown, callback: (err: null, address: string, family: number) => void): void {
  callback(null, address, address.includes(':') ? 6 : 4);
}

/** A bound UDP socket; `address` must be an IP literal. */
export function bindUdp(type: 'udp4' | 'udp6', address: string, port: number, ipv6Only = false, reuseAddr = false): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type, ipv6Only: type === 'udp6' ? ipv6Only : undefined, lookup: literal, reuseAddr });
    s.once('error', reject);
    s.bind({ address, port, exclusive: true }, () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}
