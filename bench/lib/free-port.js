// A port on 127.0.0.1 that nothing holds right now, for a server the bench
// starts next: bound to port 0 and let go. (Another process could take it
// between; on a bench machine nothing else picks loopback ports.)
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

/** A free UDP port (`'udp'`, for TFTP) or TCP port (`'tcp'`) on 127.0.0.1. */
export async function freePort(proto) {
  if (proto === 'udp') {
    const s = createSocket('udp4');
    await new Promise((r) => s.bind(0, '127.0.0.1', r));
    const { port } = s.address();
    await new Promise((r) => s.close(r));
    return port;
  }
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}
