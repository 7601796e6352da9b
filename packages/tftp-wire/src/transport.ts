import type { Socket } from 'node:dgram';
import { native, udpAddress, type NativeCalls, type UdpSocketHandle } from '@netboot/platform';
import { ErrorCode, Opcode } from './constants.js';
import { encode } from './encode.js';
import { now } from './transfer-driver.js';
import { bindUdp } from './udp.js';

export interface Peer {
  address: string;
  port: number;
}

/** What a transport hands its transfer. */
export interface TransportHandler {
  /**
   * One received batch: datagram i is `data(i)` from `from(i)`. A view
   * valid only until this call returns (the native slab is reused): copy
   * what must outlive it. `data(i)` is undefined for a datagram longer
   * than the transport takes (cut short by the kernel).
   */
  batch(datagrams: ReceivedBatch): void;
  /** A socket error (ECONNREFUSED: the peer's port is closed); the transfer ends. */
  error(err: Error): void;
  /** A packet from another TID reached the transfer's port; it was answered ERROR 5. */
  stray(address: string, port: number): void;
}

export interface ReceivedBatch {
  /** Datagrams before `first` were answered by the transport's script: not the handler's. */
  readonly first: number;
  readonly count: number;
  data(i: number): Buffer | undefined;
  from(i: number): Peer;
}

/**
 * A transfer's datagrams, in and out: the seam between a TransferDriver and
 * the sockets under it. Two implementations: node:dgram (portable, one
 * datagram per system call) and a socket owned by @netboot/platform
 * (recvmmsg/sendmmsg batches). Opening one is binding it (see openTransfer).
 */
export interface TransferTransport {
  /** Connected to the peer: only its datagrams arrive, and sends leave out `to`. */
  readonly connected: boolean;
  /** Resolves once closed and what was sent before close() has left. */
  readonly closed: Promise<void>;
  /** Starts delivering datagrams to the handler. */
  receive(handler: TransportHandler): void;
  /** One datagram; the transport is done with `packet` when the call returns unless `holdsBuffers()`. */
  send(packet: Buffer, to?: Peer): void;
  /** `count` datagrams laid end to end from `buffer[0]`, datagram i `lengths[i]` bytes. */
  sendBatch(buffer: Buffer, lengths: Int32Array, count: number, to?: Peer): void;
  /** Whether memory given to the last send is still referenced (a send queued in libuv): do not rewrite it. */
  holdsBuffers(): boolean;
  /** Closes after what was sent has left; receives stop at once. */
  close(): void;
  /** Present where the transport can answer expected datagrams itself, with no JavaScript turn. */
  readonly script?: ScriptedReplies;
}

/**
 * Replies laid out in advance (see `WindowScript`): step k waits for a
 * datagram equal to its trigger and answers with its datagrams; the first
 * datagram that differs ends the script and is delivered as usual. Nothing
 * is parsed below this seam: the bytes are compared whole.
 */
export interface ScriptedReplies {
  /** `bytes` and `plan` as udpScriptArm takes them; unchanged until `stop()`. */
  arm(bytes: Buffer, plan: Int32Array, triggerBytes: number, steps: number, from: number): void;
  /** Ends the script; returns the steps taken since `arm` (or `resume`), and sets `lastAt` (on `now()`'s clock) to when the last was. */
  stop(): number;
  /** Arms the script held since the last `arm` again from the step it stopped at; false when none is left. */
  resume(): boolean;
  /**
   * Where the transport reads a read transfer's windows from the file itself
   * (`WindowScript.armFile`): the windows after block index `sent`; false
   * when the file's next bytes are not in the page cache.
   */
  armFile?(fd: number, size: number, blksize: number, windowsize: number, sent: number): boolean;
  readonly lastAt: number;
}

/** Which transport transfers get: native where the platform module loaded, else node:dgram. */
export type TransportKind = 'native' | 'dgram';

export function defaultTransportKind(): TransportKind {
  return native ? 'native' : 'dgram';
}

/** RFC 1350: a packet from another TID gets ERROR 5 and does not disturb the transfer. */
const unknownTid = encode({ op: Opcode.ERROR, code: ErrorCode.UNKNOWN_TID, message: 'Unknown transfer ID' });

/**
 * A transfer's own socket (its TID) on a free port of `local`, with a send
 * buffer of `sendBufferBytes` when the kernel allows (room for a window),
 * connected to the peer: a send names no address (no address checks, no
 * route lookup per datagram) and only the peer's datagrams reach it.
 * Another TID's packets go to a second, unconnected socket bound beside it
 * on the same port (the kernel prefers the connected one for the peer's),
 * which answers them ERROR 5 and closes with it.
 */
export async function openTransfer(
  kind: TransportKind,
  family: 'udp4' | 'udp6',
  local: string,
  sendBufferBytes: number,
  peer: Peer,
): Promise<TransferTransport> {
  // A scoped IPv6 peer (fe80::1%eth0) is left to dgram, which resolves the scope name.
  if (kind === 'native' && native && !peer.address.includes('%')) return NativeTransport.open(native, family, local, sendBufferBytes, peer);
  return DgramTransport.open(family, local, sendBufferBytes, peer);
}

/** One datagram as a batch: node:dgram reads one per system call. */
class SingleBatch implements ReceivedBatch {
  first = 0;
  count = 1;
  msg: Buffer = Buffer.alloc(0);
  peer: Peer = { address: '', port: 0 };
  data(): Buffer {
    return this.msg;
  }
  from(): Peer {
    return this.peer;
  }
}

/** node:dgram: today's portable behaviour, one system call per datagram each way. */
export class DgramTransport implements TransferTransport {
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;
  /** Sends handed to dgram whose completion has not been reported: close waits for them. */
  private pending = 0;
  private closing = false;

  constructor(
    private readonly socket: Socket,
    private readonly strays?: Socket,
  ) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    socket.once('close', () => this.resolveClosed());
  }

  get connected(): boolean {
    return this.strays !== undefined;
  }

  static async open(family: 'udp4' | 'udp6', local: string, sendBufferBytes: number, peer: Peer): Promise<DgramTransport> {
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
    const s = strays;
    s.on('error', () => {});
    socket.once('close', () => s.close());
    return new DgramTransport(socket, s);
  }

  receive(handler: TransportHandler): void {
    const one = new SingleBatch();
    this.socket.on('message', (msg, rinfo) => {
      one.msg = msg;
      one.peer = { address: rinfo.address, port: rinfo.port };
      handler.batch(one);
    });
    this.socket.on('error', (err) => handler.error(err));
    const strays = this.strays;
    strays?.on('message', (_msg, rinfo) => {
      strays.send(unknownTid, rinfo.port, rinfo.address);
      handler.stray(rinfo.address, rinfo.port);
    });
  }

  private readonly sent = (): void => {
    if (--this.pending === 0 && this.closing) this.socket.close();
  };

  send(packet: Buffer, to?: Peer): void {
    this.pending++;
    if (to) this.socket.send(packet, to.port, to.address, this.sent);
    else this.socket.send(packet, this.sent);
  }

  sendBatch(buffer: Buffer, lengths: Int32Array, count: number, to?: Peer): void {
    let at = 0;
    for (let i = 0; i < count; i++) {
      const packet = buffer.subarray(at, at + lengths[i]);
      if (to) this.socket.send(packet, to.port, to.address);
      else this.socket.send(packet);
      at += lengths[i];
    }
  }

  holdsBuffers(): boolean {
    return this.socket.getSendQueueCount() > 0;
  }

  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.socket.removeAllListeners('message');
    // A send the kernel could not take at once waits in libuv; closing now would drop it (an ERROR, the final ACK).
    if (this.pending === 0) this.socket.close();
  }
}

/** A batch over the native socket's slab, lengths and address records. */
class SlabBatch implements ReceivedBatch {
  first = 0;
  count = 0;
  constructor(
    private readonly handle: UdpSocketHandle,
    private readonly slotBytes: number,
  ) {}
  data(i: number): Buffer | undefined {
    const length = this.handle.lengths[i];
    if (length < 0) return undefined;
    const at = i * this.slotBytes;
    return this.handle.slab.subarray(at, at + length);
  }
  from(i: number): Peer {
    const { address, port } = udpAddress(this.handle.addresses, i);
    return { address, port };
  }
}

/** Slots per receive batch and bytes a slot: a sender hears ACKs and ERRORs, a window's worth at most. */
const SLOTS = 16;
const SLOT_BYTES = 1024;

/**
 * The platform module's socket: recvmmsg batches into a slab allocated once,
 * windows out as one sendmmsg. The kernel (or the module, when the kernel's
 * buffer is full) has copied a send's bytes when the call returns, so the
 * caller's buffer is free at once and close() need not wait. For senders:
 * the slab is rewritten by each batch, and a receiver's DATA views would
 * outlive it.
 */
export class NativeTransport implements TransferTransport, ScriptedReplies {
  readonly connected = true;
  readonly script: ScriptedReplies = this;
  lastAt = 0;
  private readonly scriptState = new Float64Array(2);
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;
  private handler: TransportHandler | undefined;
  private done = false;
  private readonly batch: SlabBatch;

  private constructor(
    private readonly n: NativeCalls,
    private readonly socket: UdpSocketHandle,
    private readonly strays: UdpSocketHandle,
  ) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.batch = new SlabBatch(socket, SLOT_BYTES);
  }

  static open(n: NativeCalls, family: 'udp4' | 'udp6', local: string, sendBufferBytes: number, peer: Peer): NativeTransport {
    const flags = n.constants.UDP_REUSEADDR | (family === 'udp6' && local !== '::' ? n.constants.UDP_IPV6ONLY : 0);
    let transport: NativeTransport | undefined;
    // The listeners reach the transport once it exists: nothing is read before the loop turns.
    const socket = n.udpOpen(local, 0, flags, '', sendBufferBytes, SLOTS, SLOT_BYTES, {
      onBatch: (count, _slab, _lengths, _addresses, first) => transport?.onBatch(count, first),
      onError: (err) => transport?.onError(err),
    });
    let strays: UdpSocketHandle | undefined;
    try {
      strays = n.udpOpen(local, n.udpLocalPort(socket), flags, '', 0, 4, 4, {
        onBatch: (count, _slab, _lengths, addresses) => transport?.onStrays(count, addresses),
        onError: () => {},
      });
      n.udpConnect(socket, peer.address, peer.port);
    } catch (err) {
      if (strays) n.udpClose(strays);
      n.udpClose(socket);
      throw err;
    }
    transport = new NativeTransport(n, socket, strays);
    return transport;
  }

  receive(handler: TransportHandler): void {
    this.handler = handler;
  }

  private onBatch(count: number, first: number): void {
    if (this.done || !this.handler) return;
    this.batch.count = count;
    this.batch.first = first;
    this.handler.batch(this.batch);
  }

  private onError(err: Error): void {
    if (!this.done) this.handler?.error(err);
  }

  /** Every other TID gets ERROR 5 (their contents unread: a stray slot is 4 bytes). */
  private onStrays(count: number, addresses: Buffer): void {
    if (this.done) return;
    for (let i = 0; i < count; i++) {
      let from: Peer;
      try {
        from = udpAddress(addresses, i);
        this.n.udpSend(this.strays, unknownTid, 0, unknownTid.length, from.address, from.port);
      } catch {
        continue; // a stray whose own port is closed (or port 0): nothing to tell it
      }
      this.handler?.stray(from.address, from.port);
    }
  }

  send(packet: Buffer, to?: Peer): void {
    if (this.done) return;
    try {
      this.n.udpSend(this.socket, packet, 0, packet.length, to?.address, to?.port);
    } catch (err) {
      this.deferError(err as Error);
    }
  }

  sendBatch(buffer: Buffer, lengths: Int32Array, count: number, to?: Peer): void {
    if (this.done) return;
    try {
      this.n.udpSendBatch(this.socket, buffer, lengths, count, to?.address, to?.port);
    } catch (err) {
      this.deferError(err as Error);
    }
  }

  /** A send error reaches the handler as dgram's would: after the sending code has returned. */
  private deferError(err: Error): void {
    process.nextTick(() => this.onError(err));
  }

  holdsBuffers(): boolean {
    return false;
  }

  arm(bytes: Buffer, plan: Int32Array, triggerBytes: number, steps: number, from: number): void {
    if (!this.done) this.n.udpScriptArm(this.socket, bytes, plan, triggerBytes, steps, from);
  }

  resume(): boolean {
    return !this.done && this.n.udpScriptResume(this.socket);
  }

  armFile(fd: number, size: number, blksize: number, windowsize: number, sent: number): boolean {
    return !this.done && this.n.udpScriptArmFile(this.socket, fd, size, blksize, windowsize, sent);
  }

  stop(): number {
    if (this.done) return 0;
    this.n.udpScriptStop(this.socket, this.scriptState);
    // The addon's clock is process.hrtime's; the driver's is performance.now().
    const [s, ns] = process.hrtime();
    this.lastAt = now() - (s * 1e3 + ns / 1e6 - this.scriptState[1]);
    return this.scriptState[0];
  }

  close(): void {
    if (this.done) return;
    this.done = true;
    this.n.udpClose(this.socket);
    this.n.udpClose(this.strays);
    this.resolveClosed();
  }
}
