import { createSocket, type Socket } from 'node:dgram';

/**
 * Receive buffer of a DHCP server socket: room for a burst of a few thousand
 * requests. `openSocket` asks for it within net.core.rmem_max; a process with
 * CAP_NET_ADMIN can pass that cap on the socket's fd (SO_RCVBUFFORCE).
 */
export const REQUEST_BUFFER_BYTES = 4 * 1024 * 1024;

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
      // A room powered on together sends its DISCOVERs in one burst: the default
      // buffer (about 200 KiB, a hundred-odd requests) drops the rest, and each
      // dropped node waits out its 4 s retransmission (PXE: then 8, 16, 32 s).
      try {
        s.setRecvBufferSize(REQUEST_BUFFER_BYTES);
      } catch {
        // Capped by net.core.rmem_max or refused: the kernel's size stays.
      }
      resolve(s);
    });
  });
}
