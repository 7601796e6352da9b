import type { Socket } from 'node:net';

/**
 * Makes an accepted socket read into buffers of the caller's, as
 * net.Socket's `onread` option does for a socket that connects (a
 * net.Server makes its sockets without one): the kernel's bytes land in
 * `buffer` (one buffer, or a function giving the buffer for each next read)
 * and `callback(n, buffer)` gets them, instead of each read arriving in a
 * 64 KiB buffer Node allocates for it and travelling through the stream's
 * push, 'data' event and tick. The callback returns false to stop reading
 * (`socket.resume()` starts it again). It fills the slots of the socket
 * that option fills, found by their names; where a Node version has none of
 * them it returns false and the socket emits 'data' as usual. The socket
 * must not have started reading (a net.Server's `pauseOnConnect`); reading
 * starts at the next `socket.resume()`.
 */
export function readInto(socket: Socket, buffer: Uint8Array | (() => Uint8Array), callback: (n: number, into: Buffer) => boolean): boolean {
  const slots = Object.getOwnPropertySymbols(socket);
  const slot = (name: string) => slots.find((k) => k.description === name);
  const kBuffer = slot('kBuffer');
  const kBufferGen = slot('kBufferGen');
  const kBufferCb = slot('kBufferCb');
  const handle = (socket as unknown as { _handle?: { reading?: boolean; useUserBuffer?: (b: Uint8Array) => void } })._handle;
  if (!kBuffer || !kBufferGen || !kBufferCb || typeof handle?.useUserBuffer !== 'function' || handle.reading) return false;
  const first = typeof buffer === 'function' ? buffer() : buffer;
  const s = socket as unknown as Record<symbol, unknown>;
  s[kBufferGen] = typeof buffer === 'function' ? buffer : null;
  s[kBufferCb] = callback;
  s[kBuffer] = first;
  handle.useUserBuffer(first);
  return true;
}
