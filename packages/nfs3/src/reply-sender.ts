import type { ReplySender } from '@netboot/oncrpc-xdr';
import { type NativeCalls, socketFd } from '@netboot/platform';

/**
 * The platform module's sendNowait as the RPC server's ReplySender: READ
 * replies leave a serving thread in one sendmsg per batch instead of through
 * net.Socket's stream (its write requests, callbacks and ticks cost about as
 * much per reply as the call's own decoding), and a READ's cached data goes
 * from the page cache to the socket by sendfile in the same call. Undefined
 * without the module: replies then go through the stream.
 */
export function replySender(n: NativeCalls | undefined): ReplySender | undefined {
  if (!n) return undefined;
  return {
    fdOf: (socket) => {
      try {
        return socketFd(socket);
      } catch {
        return undefined;
      }
    },
    send: (fd, buffers, count) => n.sendNowait(fd, buffers, count),
    sendFile: (fd, buffers, count, fileFd, position, length) => n.sendFileNowait(fd, buffers, count, fileFd, position, length),
    receiveLowWater: (fd, bytes) => n.receiveLowWater(fd, bytes),
  };
}
