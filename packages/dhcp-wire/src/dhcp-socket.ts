import { createSocket, type Socket } from 'node:dgram';

/**
 * A broadcast-capable UDP socket bound to address:port, for the DHCP server.
 * Node's dgram cannot bind it to one interface (SO_BINDTODEVICE): the server
 * process does that on the bound socket's fd with @netboot/platform, which
 * this package does not depend on. Several sockets may share the port
 * (reuseAddr), one per interface once each is bound to its device.
 */
export function openSocket(spec: { address: string; port: number }): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type: 'udp4', reuseAddr: true });
    s.once('error', reject);
    s.bind({ address: spec.address, port: spec.port }, () => {
      s.off('error', reject);
      s.setBroadcast(true);
      resolve(s);
    });
  });
}
