import type { Socket as DgramSocket } from 'node:dgram';
import type { Socket as NetSocket } from 'node:net';

/**
 * The file descriptor under a bound node:dgram socket or a connected
 * node:net socket. Node 20 on Linux keeps it on the libuv handle: for
 * dgram behind the socket's state symbol (its `_handle` getter is
 * deprecated), for net on `_handle`. Throws when there is none (not yet
 * bound, closed, or a runtime that hides it), never returns a guess.
 */
export function socketFd(socket: DgramSocket | NetSocket): number {
  const record = socket as unknown as Record<string | symbol, unknown>;
  const state = Object.getOwnPropertySymbols(socket)
    .filter((s) => s.description === 'state symbol')
    .map((s) => record[s] as { handle?: { fd?: unknown } } | undefined)[0];
  const handle = state ? state.handle : (record._handle as { fd?: unknown } | undefined);
  const fd = handle?.fd;
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) {
    throw new Error('the socket has no file descriptor (not bound yet, or closed)');
  }
  return fd;
}
