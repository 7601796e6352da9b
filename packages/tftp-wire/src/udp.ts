import { createSocket, type Socket } from 'node:dgram';

/**
 * Every address a transfer socket sends to is already a literal, so the
 * socket skips dgram's default `dns.lookup`, which costs a tick per packet.
 */
function literal(address: string, _options: unknown, callback: (err: null, address: string, family: number) => void): void {
  callback(null, address, address.includes(':') ? 6 : 4);
}

/**
 * A transfer's own socket (its TID) on a free port of `local`, with a send
 * buffer of `sendBufferBytes` when the kernel allows (room for a window).
 */
export async function openTransferSocket(family: 'udp4' | 'udp6', local: string, sendBufferBytes: number): Promise<Socket> {
  const socket = await bindUdp(family, local, 0, family === 'udp6' && local !== '::');
  try {
    socket.setSendBufferSize(sendBufferBytes);
  } catch {
    // the kernel's limit stands
  }
  return socket;
}

/** A bound UDP socket; `address` must be an IP literal. */
export function bindUdp(type: 'udp4' | 'udp6', address: string, port: number, ipv6Only = false): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type, ipv6Only: type === 'udp6' ? ipv6Only : undefined, lookup: literal });
    s.once('error', reject);
    s.bind({ address, port, exclusive: true }, () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}
