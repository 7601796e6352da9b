import { performance } from 'node:perf_hooks';
import type { RateLimitedLog } from '@netboot/log-text';
import { ErrorCode, Opcode } from './constants.js';
import { decode } from './decode.js';
import { encode, encodeDataHeader } from './encode.js';
import type { TftpPacket } from './packet.js';
import { TftpWireError } from './tftp-wire-error.js';
import type { LogLevel, TransferAction, TransferMachine } from './transfer.js';
import type { Peer, ReceivedBatch, TransferTransport } from './transport.js';
import { WindowScript, type WindowShape } from './window-script.js';

export type { Peer } from './transport.js';

/**
 * Where a sender's bytes come from: a view of [start, end), synchronously
 * when already loaded. The driver copies from the view before it asks for
 * another, so a source may reuse its memory at the next call.
 */
export interface DataSource {
  view(start: number, end: number): Buffer | Promise<Buffer>;
  /** Where the bytes already in memory from `start` on end (`start` when none): a view within them is synchronous. */
  loadedEnd?(start: number): number;
  /** A descriptor the bytes can be read from at their offsets (a file source's), for a transport that reads them itself. */
  readonly fd?: number;
  close(): void;
}

/** Where a receiver's bytes go. Writes may complete later; `finish` waits for them. */
export interface DataSink {
  write(offset: number, data: Buffer): void;
}

export type DoneAction = Extract<TransferAction, { type: 'done' }>;

export interface DriverHooks {
  source?: DataSource;
  sink?: DataSink;
  limiter: RateLimitedLog<LogLevel>;
  /** Called once when the machine (or the driver itself) ends the transfer. */
  onDone(done: DoneAction): void;
  /** Forwards the machine's own log lines. */
  onLog(level: 'debug' | 'info' | 'warning', message: string): void;
  /** After a received transfer completes, keep answering a repeated final block this long. */
  dallyMs?: number;
  /**
   * A client does not know the server's TID yet: it sends to this port (69)
   * and adopts the port of the first reply from the server's address.
   */
  requestPort?: number;
  /**
   * A receiver's data must be safely stored before the final ACK tells the
   * peer so: called once, before the batch that completes the transfer is
   * carried out. A returned message fails the transfer with ERROR 3 instead.
   */
  settle?: () => Promise<string | undefined>;
  /**
   * A read transfer's size and settings: with them, over a transport that
   * answers datagrams itself (`transport.script`), the coming windows are
   * laid out ahead and in-order ACKs are answered without a JavaScript turn.
   */
  windows?: WindowShape;
}

export const now = (): number => performance.now();

const unknownTid = encode({ op: Opcode.ERROR, code: ErrorCode.UNKNOWN_TID, message: 'Unknown transfer ID' });

/**
 * Runs one transfer machine over its own transport (its TID). Packets from
 * any other address or port get ERROR 5 and do not touch the transfer. One
 * timer per transfer: the machine's deadline only moves a field, and the
 * timer re-arms itself when it fires early.
 */
export class TransferDriver {
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private blocked = false;
  private readonly backlog: TransferAction[][] = [];
  /**
   * The window's DATA packets, header and data side by side, and their
   * lengths: a block is copied behind its header, the window goes to the
   * transport as one batch, and the same memory serves every window while
   * the transport has let go of it.
   */
  private packets: Buffer = Buffer.alloc(0);
  private lengths = new Int32Array(0);
  private ended = false;
  private closed = false;
  private readonly connected: boolean;
  /** The windows laid out ahead for the transport to answer (read transfers on a scripted transport). */
  private readonly script: WindowScript | undefined;
  private scriptArmed = false;
  /** The step the script was last armed from. */
  private scriptFrom = 0;
  /** The block index the last window sent ended with (0: none yet). */
  private sentThrough = 0;
  /** The ACK a step taken by the transport stood for, told to the machine. */
  private readonly scriptedAck: { op: typeof Opcode.ACK; block: number } = { op: Opcode.ACK, block: 0 };

  constructor(
    readonly transport: TransferTransport,
    /** The peer's TID; a client passes `port: 0` and `hooks.requestPort`. */
    private peer: Peer,
    private readonly machine: TransferMachine,
    private readonly hooks: DriverHooks,
  ) {
    this.connected = transport.connected;
    this.script = hooks.windows && hooks.source && transport.script ? new WindowScript(hooks.windows) : undefined;
    transport.receive({
      batch: (b) => this.onBatch(b),
      error: (err) => {
        this.hooks.limiter.log('socket', `socket error: ${err.message}`, 'warning');
        this.abort(ErrorCode.NOT_DEFINED, `socket error: ${err.message}`, false);
      },
      stray: (address, port) => this.stray(address, port),
    });
  }

  start(): void {
    this.run(this.machine.start(now()));
    this.armScript();
  }

  /** Ends the transfer from the adapter's side (a write failed, the server is closing). */
  abort(code: number, message: string, tell = true): void {
    if (this.ended) {
      this.close();
      return;
    }
    if (tell) this.sendPacket({ op: Opcode.ERROR, code, message });
    this.ended = true;
    this.hooks.onDone({ type: 'done', outcome: 'failed', bytes: 0, reason: message, level: 'warning' });
    this.close();
  }

  /** Stops the transfer; the transport closes once an ERROR or final ACK already sent has left. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.hooks.source?.close();
    this.transport.close();
  }

  private destination(): Peer | undefined {
    return this.connected ? undefined : { address: this.peer.address, port: this.peer.port || this.hooks.requestPort || 69 };
  }

  private send(bytes: Buffer): void {
    this.transport.send(bytes, this.destination());
  }

  private onBatch(b: ReceivedBatch): void {
    this.syncScript();
    for (let i = b.first; i < b.count && !this.closed; i++) {
      const from = this.connected ? this.peer : b.from(i);
      const msg = b.data(i);
      if (!this.connected && !this.fromPeer(from.address, from.port)) continue;
      if (msg === undefined) {
        this.hooks.limiter.log('malformed', `oversized packet from ${from.address}:${from.port} dropped`, 'warning');
        continue;
      }
      this.onMessage(msg, from.address, from.port);
    }
    this.armScript();
  }

  private onMessage(msg: Buffer, address: string, port: number): void {
    let p: TftpPacket;
    try {
      p = decode(msg);
    } catch (err) {
      if (!(err instanceof TftpWireError)) throw err;
      this.hooks.limiter.log('malformed', `malformed packet from ${address}:${port} dropped: ${err.message}`, 'warning');
      return;
    }
    this.run(this.machine.receive(p, now()));
  }

  /** Whether a packet on an unconnected socket is the peer's; any other TID is answered ERROR 5. */
  private fromPeer(address: string, port: number): boolean {
    if (this.peer.port === 0 && address === this.peer.address) {
      this.peer = { address, port }; // the server's TID, learned from its first reply
    }
    if (address === this.peer.address && port === this.peer.port) return true;
    this.transport.send(unknownTid, { address, port });
    this.stray(address, port);
    return false;
  }

  /** Logs a packet from another TID (answered ERROR 5 by the socket that got it). */
  private stray(address: string, port: number): void {
    this.hooks.limiter.log('tid', `packet from ${address}:${port} on the transfer with ${this.peer.address}:${this.peer.port}: answered ERROR 5`, 'debug');
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (this.closed) return;
    this.syncScript();
    if (this.closed) return;
    this.run(this.machine.timer(now()));
    this.armScript();
  };

  private arm(at: number): void {
    if (this.closed || at >= this.timerAt) return; // the armed timer fires first and re-arms
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(this.onTimer, Math.max(0, Math.ceil(at - now())));
  }

  private run(actions: TransferAction[]): void {
    if (this.blocked) this.backlog.push(actions);
    else this.execute(actions, 0);
  }

  private execute(actions: TransferAction[], from: number): void {
    const settle = this.hooks.settle;
    if (settle && actions.some((a) => a.type === 'done' && a.outcome === 'complete')) {
      this.hooks.settle = undefined;
      // The final block is written first, then stored, and only then ACKed.
      const batch = actions.slice(from);
      for (const a of batch) if (a.type === 'deliver') this.hooks.sink!.write(a.offset, a.data);
      const rest = batch.filter((a) => a.type !== 'deliver');
      this.blocked = true;
      settle().then(
        (problem) => this.resume(problem === undefined ? () => this.execute(rest, 0) : () => this.abort(ErrorCode.DISK_FULL, problem)),
        (err: Error) => this.resume(() => this.abort(ErrorCode.DISK_FULL, err.message)),
      );
      return;
    }
    for (let i = from; i < actions.length; i++) {
      const a = actions[i];
      switch (a.type) {
        case 'send':
          this.sendPacket(a.packet);
          break;
        case 'sendData': {
          let j = i + 1;
          while (j < actions.length && actions[j].type === 'sendData') j++;
          const run = actions.slice(i, j) as Extract<TransferAction, { type: 'sendData' }>[];
          const start = run[0].offset;
          const last = run[run.length - 1];
          const view = this.hooks.source!.view(start, last.offset + last.length);
          if (view instanceof Promise) {
            this.blocked = true;
            view.then(
              (v) =>
                this.resume(() => {
                  this.sendRun(run, v, start);
                  this.execute(actions, j);
                }),
              (err: Error) => this.resume(() => this.abort(ErrorCode.NOT_DEFINED, `read failed: ${err.message}`)),
            );
            return;
          }
          this.sendRun(run, view, start);
          i = j - 1;
          break;
        }
        case 'deliver':
          this.hooks.sink!.write(a.offset, a.data);
          break;
        case 'timer':
          this.arm(a.at);
          break;
        case 'log':
          this.hooks.onLog(a.level, a.message);
          break;
        case 'done':
          this.ended = true;
          this.hooks.onDone(a);
          if (a.outcome === 'complete' && this.hooks.dallyMs) {
            if (this.timer) clearTimeout(this.timer);
            this.timerAt = Infinity;
            this.timer = setTimeout(() => this.close(), this.hooks.dallyMs);
          } else {
            this.close();
          }
          return;
      }
    }
  }

  /** Continues after an asynchronous step, then works off what arrived meanwhile. */
  private resume(next: () => void): void {
    this.blocked = false;
    next();
    while (!this.blocked && this.backlog.length > 0) this.execute(this.backlog.shift()!, 0);
    this.armScript();
  }

  /**
   * Hands the transport the windows that follow the last one sent, to answer
   * in-order ACKs itself until anything else arrives. Only between turns: a
   * read in flight or a transfer ending leaves it unarmed.
   */
  private armScript(): void {
    const script = this.script;
    if (!script || this.scriptArmed || this.closed || this.ended || this.blocked || this.sentThrough === 0) return;
    // What the transport holds still follows the window last sent (a retransmission resends that same window): it goes on from there, uncopied.
    const replies = this.transport.script!;
    if (script.steps > 0 && this.scriptFrom < script.steps && script.endOf(this.scriptFrom - 1) === this.sentThrough && replies.resume()) {
      this.scriptArmed = true;
      return;
    }
    this.scriptFrom = 0;
    if (script.armFile(this.sentThrough, this.hooks.source!, replies)) {
      this.scriptArmed = true;
      return;
    }
    if (script.build(this.sentThrough, this.hooks.source!) === 0) return;
    replies.arm(script.bytes, script.plan, 4, script.steps, 0);
    this.scriptArmed = true;
  }

  /**
   * Ends the script and tells the machine of each step the transport took,
   * as the ACK it answered, at the time of the last: its state, its deadline
   * and its next window are then what they would be had it seen them. The
   * window it asks for in return was sent already; it must be that one.
   */
  private syncScript(): void {
    if (!this.scriptArmed) return;
    this.scriptArmed = false;
    const replies = this.transport.script!;
    const script = this.script!;
    const from = this.scriptFrom;
    const taken = replies.stop();
    this.scriptFrom = from + taken;
    if (taken === 0) return;
    const at = replies.lastAt;
    for (let k = from; k < from + taken && !this.closed; k++) {
      this.scriptedAck.block = script.ackedBlock(k);
      const actions = this.machine.receive(this.scriptedAck, at);
      let blocks = 0;
      let lastBlock = -1;
      for (const a of actions) {
        if (a.type === 'sendData') {
          blocks++;
          lastBlock = a.block;
        } else if (a.type === 'timer') {
          this.arm(a.at);
        } else {
          this.execute([a], 0);
        }
      }
      if (blocks !== script.endOf(k) - script.endOf(k - 1) || lastBlock !== (script.endOf(k) & 0xffff)) {
        this.abort(ErrorCode.NOT_DEFINED, `internal error: the transfer's window after block ${script.ackedBlock(k)} differs from the one sent`);
        return;
      }
    }
    this.sentThrough = script.endOf(from + taken - 1);
  }

  private sendPacket(p: TftpPacket): void {
    if (!this.closed) this.send(encode(p));
  }

  /** Sends a window as one batch, each block copied behind its header into the transfer's packet buffer. */
  private sendRun(run: Extract<TransferAction, { type: 'sendData' }>[], view: Buffer, start: number): void {
    if (this.closed) return;
    let need = 0;
    for (let k = 0; k < run.length; k++) need += 4 + run[k].length;
    // Memory a transport still holds (dgram's queue, the kernel's buffer being full) is left to it.
    if (this.packets.length < need || this.transport.holdsBuffers()) this.packets = Buffer.allocUnsafe(Math.max(need, this.packets.length));
    if (this.lengths.length < run.length) this.lengths = new Int32Array(run.length);
    let at = 0;
    for (let k = 0; k < run.length; k++) {
      const a = run[k];
      encodeDataHeader(a.block, this.packets, at);
      view.copy(this.packets, at + 4, a.offset - start, a.offset - start + a.length);
      this.lengths[k] = 4 + a.length;
      at += 4 + a.length;
    }
    if (this.script) this.sentThrough = Math.round(run[run.length - 1].offset / this.hooks.windows!.blksize) + 1;
    this.transport.sendBatch(this.packets, this.lengths, run.length, this.destination());
  }
}
