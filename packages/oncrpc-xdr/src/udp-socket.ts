import dgram from 'node:dgram';
import net from 'node:net';
import { native, udpAddress, type NativeCalls, type UdpSocketHandle } from '@netboot/platform';

/** How an RpcServer's UDP sockets read: the platform module's batched socket, or node:dgram. */
export type UdpSocketKind = 'native' | 'dgram';

/** The batched socket where the platform module loaded, else node:dgram. */
export function defaultUdpSocketKind(): UdpSocketKind {
  return native ? 'native' : 'dgram';
}

/** A datagram's sender, as node:dgram's rinfo gives it. */
export interface UdpSender {
  address: string;
  port: number;
  family: string;
}

/**
 * Called once per datagram received. `msg` is valid only until the call
 * returns (a batched socket reads the next batch into the same memory):
 * copy what must outlive it.
 */
export type UdpReceiver = (msg: Buffer, from: UdpSender) => void;

/** A bound UDP socket of a server: datagrams in through a UdpReceiver, replies out. */
export interface UdpServerSocket {
  readonly local: { address: string; port: number };
  /**
   * One datagram made of `parts` (`size` bytes together) to `to`. `sent` is
   * called once the parts are no longer needed, with the error when the
   * send failed (a failure without `sent` goes to the socket's onError).
   */
  send(parts: readonly Uint8Array[], size: number, to: UdpSender, sent?: (error: Error | null) => void): void;
  close(): Promise<void>;
}

/** Datagrams a batched socket reads per recvmmsg. */
const SLOTS = 16;
/** Room per datagram: the largest UDP payload fits, so none is cut short. */
const SLOT_BYTES = 65536;
/**
 * The receive queue asked for. The kernel's default (about 208 KiB) holds some
 * 170 small datagrams, a few milliseconds of a flood: a server briefly off the
 * CPU on a busy machine came back to a full queue and a client's call dropped
 * with the garbage. Past net.core.rmem_max only as root (SO_RCVBUFFORCE).
 */
const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * Binds a UDP socket to `host`:`port` (with SO_REUSEADDR when `reuseAddr`:
 * a per-address socket beside the wildcard one) and delivers what arrives to
 * `receive`; socket errors go to `onError`.
 *
 * The batched socket reads up to SLOTS datagrams per system call into one
 * slab, so a flood of garbage costs one recvmmsg and one JavaScript call per
 * batch instead of a system call, a callback and a Buffer per datagram.
 */
export function bindUdpSocket(
  kind: UdpSocketKind,
  host: string,
  port: number,
  reuseAddr: boolean,
  receive: UdpReceiver,
  onError: (error: Error) => void,
): Promise<UdpServerSocket> {
  if (kind === 'native' && native) return Promise.resolve(NativeUdpSocket.open(native, host, port, reuseAddr, receive, onError));
  return DgramUdpSocket.open(host, port, reuseAddr, receive, onError);
}

class DgramUdpSocket implements UdpServerSocket {
  private constructor(
    private readonly socket: dgram.Socket,
    readonly local: { address: string; port: number },
  ) {}

  static open(host: string, port: number, reuseAddr: boolean, receive: UdpReceiver, onError: (error: Error) => void): Promise<UdpServerSocket> {
    return new Promise((resolve, reject) => {
      const socket = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4', reuseAddr });
      socket.once('error', (e) => {
        socket.close();
        reject(e);
      });
      socket.bind({ address: host, port, exclusive: true }, () => {
        socket.removeAllListeners('error');
        socket.on('error', onError);
        try {
          socket.setRecvBufferSize(RECEIVE_BUFFER_BYTES);
        } catch {
          // Refused: the kernel's size stays.
        }
        socket.on('message', receive);
        const a = socket.address();
        resolve(new DgramUdpSocket(socket, { address: a.address, port: a.port }));
      });
    });
  }

  send(parts: readonly Uint8Array[], _size: number, to: UdpSender, sent?: (error: Error | null) => void): void {
    try {
      if (!sent) this.socket.send(parts as Uint8Array[], to.port, to.address);
      else this.socket.send(parts as Uint8Array[], to.port, to.address, (e) => sent(e ?? null));
    } catch (e) {
      // The socket was closed while the call ran.
      sent?.(e as Error);
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/**
 * A reply of several parts is laid end to end here before its one send; the
 * kernel (or the addon, when the kernel's buffer is full) has copied it when
 * udpSend returns, so one buffer serves every socket of the thread.
 */
let joined: Buffer | undefined;

class NativeUdpSocket implements UdpServerSocket {
  private closed = false;

  private constructor(
    private readonly n: NativeCalls,
    private readonly handle: UdpSocketHandle,
    readonly local: { address: string; port: number },
    private readonly onError: (error: Error) => void,
  ) {}

  static open(n: NativeCalls, host: string, port: number, reuseAddr: boolean, receive: UdpReceiver, onError: (error: Error) => void): UdpServerSocket {
    const handle = n.udpOpen(host, port, reuseAddr ? n.constants.UDP_REUSEADDR : 0, '', 0, SLOTS, SLOT_BYTES, {
      onBatch(count, slab, lengths, addresses) {
        for (let i = 0; i < count; i++) {
          const length = lengths[i];
          if (length < 0) continue; // longer than a slot: no UDP datagram is
          const at = i * SLOT_BYTES;
          receive(slab.subarray(at, at + length), udpAddress(addresses, i));
        }
      },
      onError,
    });
    try {
      n.udpReceiveBuffer(handle, RECEIVE_BUFFER_BYTES);
    } catch (e) {
      n.udpClose(handle);
      throw e;
    }
    return new NativeUdpSocket(n, handle, { address: host, port: n.udpLocalPort(handle) }, onError);
  }

  send(parts: readonly Uint8Array[], size: number, to: UdpSender, sent?: (error: Error | null) => void): void {
    let error: Error | null = null;
    try {
      if (parts.length === 1) this.n.udpSend(this.handle, parts[0], 0, size, to.address, to.port);
      else {
        if (!joined || joined.length < size) joined = Buffer.allocUnsafeSlow(Math.max(size, 64 * 1024));
        let at = 0;
        for (const p of parts) {
          joined.set(p, at);
          at += p.length;
        }
        this.n.udpSend(this.handle, joined, 0, size, to.address, to.port);
      }
    } catch (e) {
      // Closed while the call ran (EBADF), or the kernel refused it.
      error = e as Error;
    }
    if (sent) sent(error);
    else if (error && !this.closed) this.onError(error);
  }

  close(): Promise<void> {
    this.closed = true;
    this.n.udpClose(this.handle);
    return Promise.resolve();
  }
}
