import { createSocket, type Socket } from 'node:dgram';
import { ErrorCode, Opcode } from './constants.js';
import { encode } from './encode.js';

/**
 * Every address a transfer socket sends to is already a literal, so the
 * socket skips dgram's default `dns.lookup`, which costs a tick per packet.
 */
function literal(address: string, _options: unknown, callback: (err: null, address: string, family: number) => void): void {
  callback(null, address, address.includes(':') ? 6 : 4);
}

/** RFC 1350: a packet from another TID gets ERROR 5 and does not disturb the transfer. */
export function answerUnknownTid(socket: Socket, address: string, port: number): void {
  socket.send(encode({ op: Opcode.ERROR, code: ErrorCode.UNKNOWN_TID, message: 'Unknown transfer ID' }), port, address);
}

/** A transfer's socket, connected to its peer, and the socket beside it that gets every other TID's packets. */
export interface TransferSockets {
  socket: Socket;
  strays: Socket;
}

/**
 * A transfer's own socket (its TID) on a free port of `local`, with a send
 * buffer of `sendBufferBytes` when the kernel allows (room for a window),
 * connected to the peer: a send then names no address (dgram skips its
 * address checks and the kernel its route lookup per datagram) and only
 * the peer's datagrams reach it. Another TID's packets go to `strays`, an
 * unconnected socket bound beside it on the same port (the kernel prefers
 * the connected one for the peer's), which answers them ERROR 5 and closes
 * with the transfer's socket.
 */
export async function openTransferSocket(
  family: 'udp4' | 'udp6',
  local: string,
  sendBufferBytes: number,
  peer: { address: string; port: number },
): Promise<TransferSockets> {
  const v6only = family === 'udp6' && local !== '::';
  const socket = await bindUdp(family, local, 0, v6only, true);
  try {
    socket.setSendBufferSize(sendBufferBytes);
  } catch {
    // the kernel's limit stands
  }
  let strays: Socket | undefined;
  try {
    strays = await bindUdp(family, local, socket.address().port, v6only, true);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(peer.port, peer.address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    strays?.close();
    socket.close();
    throw err;
  }
  strays.on('message', (_msg, rinfo) => answerUnknownTid(strays, rinfo.address, rinfo.port));
  strays.on('error', () => {});
  socket.once('close', () => strays.close());
  return { socket, strays };
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
