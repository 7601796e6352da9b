import type { Socket as DgramSocket } from 'node:dgram';
import type { Server as NetServer, Socket as NetSocket } from 'node:net';

/**
 * The file descriptor under a bound node:dgram socket, a connected
 * node:net socket or a listening node:net server. Node 20 on Linux keeps
 * it on the libuv handle: for dgram behind the socket's state symbol (its
 * `_handle` getter is deprecated), for net on `_handle`. Throws when there is none (not yet
 * bound, closed, or a runtime that hides it), never returns a guess.
 */
export function socketFd(socket: DgramSocket | NetSocket | NetServer): number {
  const record = socket as unknown as Record<string | symbol, unknown>;
  const state = Object.getOwnPropertySymbols(socket)
    .filter((s) => s.description === 'state symbol')
    .map((s) => record[s] as { handle?: { fd?: unknown } } | undefined)[0];
  const handle = state ? state.handle : (record._handle as { fd?: unknown } | undefined);
  const fd = handle?.fd;
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) {
    throw new Error('the socket has no file descriptor (not bound or listening yet, or closed)');
  }
  return fd;
}
