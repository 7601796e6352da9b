import { once } from 'node:events';
import { createSocket, type Socket } from 'node:dgram';
import { parseIpv4, type DhcpMessage, type Link } from '@netboot/dhcp-wire';

/*
 * The loopback scene of the server tests: the server on 127.0.0.1 (its link
 * is lo, 127.0.0.0/8), clients as from a relay on 127.0.0.2 (giaddr), on
 * ports the kernel picks.
 */

export const ip = (s: string): number => parseIpv4(s)!;

export const link: Link = { name: 'lo', address: ip('127.0.0.1'), network: ip('127.0.0.0'), mask: ip('255.0.0.0') };

/** A UDP socket bound to `address` on a port the kernel picks. */
export async function bind(address: string): Promise<Socket> {
  const s = createSocket({ type: 'udp4', reuseAddr: true });
  s.bind({ address, port: 0 });
  await once(s, 'listening');
  return s;
}

/** A relayed DHCPDISCOVER from `mac` (hex), with `options` after the message type. */
export function discover(xid: number, mac: string, options: DhcpMessage['options'] = []): DhcpMessage {
  const chaddr = Buffer.alloc(16);
  Buffer.from(mac, 'hex').copy(chaddr);
  return {
    op: 1, htype: 1, hlen: 6, hops: 1, xid, secs: 0, flags: 0, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: ip('127.0.0.2'),
    chaddr, sname: Buffer.alloc(0), file: Buffer.alloc(0), cookie: true, options: [{ code: 53, data: Buffer.from([1]) }, ...options],
  };
}
