import { ErrorCode, Opcode } from './constants.js';
import { acceptOack, defaultSettings, OackRefused, type TransferSettings } from './options.js';
import type { RequestPacket, TftpOption, TftpPacket } from './packet.js';
import { defaultRetry, RetryClock, type RetryPolicy, type TransferAction, type TransferMachine } from './transfer.js';

export interface ReceiverConfig {
  retry?: RetryPolicy;
  /** Serving a WRQ: the settings negotiated and the OACK to send (empty: answer ACK 0). */
  serve?: { settings: TransferSettings; oack: TftpOption[] };
  /** Getting a file as a client: the RRQ to send; its options are checked against the reply. */
  request?: RequestPacket;
  /** Refuse to receive more than this many bytes (ERROR 3), so a peer cannot fill the disk. */
  maxBytes?: number;
}

type State = 'requesting' | 'receiving' | 'dallying' | 'finished';

/**
 * Receives a file: the client side of an RRQ or the server side of a WRQ.
 * In-order blocks are delivered and acknowledged every `windowsize` blocks
 * and on the final (short or empty) block. A block from the future means one
 * was lost: the last in-order block is acknowledged once so the sender
 * restarts from there. A block from the past means our ACK was lost: it is
 * acknowledged again. After the final block the machine keeps answering a
 * repeated final block (the sender lost our last ACK) until the adapter
 * drops it.
 */
export class TftpReceiver implements TransferMachine {
  private state: State = 'requesting';
  private settings: TransferSettings = { ...defaultSettings };
  /** Next block index expected (1-based, keeps counting past 65535). */
  private expected = 1;
  private sinceAck = 0;
  private gapAcked = false;
  private bytes = 0;
  private readonly clock: RetryClock;

  constructor(private readonly config: ReceiverConfig) {
    this.clock = new RetryClock(config.retry ?? defaultRetry);
  }

  get finished(): boolean {
    return this.state === 'finished' || this.state === 'dallying';
  }

  /** The settings in force (after the OACK, if any). */
  get transferSettings(): Readonly<TransferSettings> {
    return this.settings;
  }

  start(now: number): TransferAction[] {
    const out: TransferAction[] = [];
    if (this.config.request) {
      this.state = 'requesting';
    } else {
      this.state = 'receiving';
      this.apply(this.config.serve?.settings ?? defaultSettings);
    }
    out.push({ type: 'send', packet: this.nudge() });
    out.push({ type: 'timer', at: this.clock.progress(now) });
    return out;
  }

  receive(p: TftpPacket, now: number): TransferAction[] {
    const out: TransferAction[] = [];
    if (this.state === 'finished') return out;
    switch (p.op) {
      case Opcode.DATA:
        if (this.state === 'requesting') {
          if (p.block !== 1) return out;
          this.apply({ ...defaultSettings }); // the server ignored our options
          this.state = 'receiving';
        }
        this.data(p.block, p.data, now, out);
        return out;
      case Opcode.OACK:
        if (this.state === 'requesting') {
          try {
            this.apply(acceptOack(this.config.request!.options, p.options));
          } catch (err) {
            if (!(err instanceof OackRefused)) throw err;
            out.push({ type: 'send', packet: { op: Opcode.ERROR, code: ErrorCode.OPTION_REFUSED, message: err.message } });
            this.finish(out, 'failed', err.message, 'warning');
            return out;
          }
          this.state = 'receiving';
        }
        // A repeated OACK means our ACK 0 was lost.
        if (this.expected === 1) out.push({ type: 'send', packet: { op: Opcode.ACK, block: 0 } });
        out.push({ type: 'timer', at: this.clock.progress(now) });
        return out;
      case Opcode.ERROR:
        if (this.state !== 'dallying') {
          this.finish(out, 'failed', `peer sent error ${p.code}: ${p.message}`, 'warning', { code: p.code, message: p.message });
        }
        return out;
      default:
        out.push({ type: 'log', level: 'debug', message: `ignored opcode ${p.op} while receiving` });
        return out;
    }
  }

  timer(now: number): TransferAction[] {
    const out: TransferAction[] = [];
    if (this.state === 'finished' || this.state === 'dallying') return out;
    if (now < this.clock.deadline) {
      out.push({ type: 'timer', at: this.clock.deadline });
      return out;
    }
    if (!this.clock.backoff(now)) {
      this.finish(out, 'failed', `timed out after ${this.clock.retries - 1} retransmissions`, 'warning');
      return out;
    }
    this.sinceAck = 0;
    this.gapAcked = false;
    out.push({ type: 'send', packet: this.nudge() });
    out.push({ type: 'timer', at: this.clock.deadline });
    return out;
  }

  /** What to (re)send when the peer is silent: the request, the OACK, or the last ACK. */
  private nudge(): TftpPacket {
    if (this.state === 'requesting') return this.config.request!;
    const oack = this.config.serve?.oack;
    if (this.expected === 1 && oack && oack.length > 0) return { op: Opcode.OACK, options: oack };
    return { op: Opcode.ACK, block: (this.expected - 1) & 0xffff };
  }

  private apply(settings: TransferSettings): void {
    this.settings = settings;
    if (settings.timeoutMs !== undefined) this.clock.setBase(settings.timeoutMs);
  }

  private data(block: number, data: Buffer, now: number, out: TransferAction[]): void {
    const last = this.expected - 1;
    // Signed distance from the expected block, in 16-bit arithmetic.
    const d = ((block - this.expected + 0x8000) & 0xffff) - 0x8000;
    if (this.state === 'dallying') {
      if (d === -1) out.push({ type: 'send', packet: { op: Opcode.ACK, block: last & 0xffff } });
      return;
    }
    if (d < 0) {
      out.push({ type: 'send', packet: { op: Opcode.ACK, block: last & 0xffff } });
      return;
    }
    if (d > 0) {
      if (!this.gapAcked) {
        this.gapAcked = true;
        this.sinceAck = 0;
        out.push({ type: 'send', packet: { op: Opcode.ACK, block: last & 0xffff } });
      }
      return;
    }
    const { blksize, windowsize } = this.settings;
    if (data.length > blksize) {
      const message = `DATA block ${block} has ${data.length} bytes, more than blksize ${blksize}`;
      out.push({ type: 'send', packet: { op: Opcode.ERROR, code: ErrorCode.ILLEGAL_OPERATION, message } });
      this.finish(out, 'failed', message, 'warning');
      return;
    }
    const offset = (this.expected - 1) * blksize;
    if (this.config.maxBytes !== undefined && offset + data.length > this.config.maxBytes) {
      const message = `file exceeds the limit of ${this.config.maxBytes} bytes`;
      out.push({ type: 'send', packet: { op: Opcode.ERROR, code: ErrorCode.DISK_FULL, message } });
      this.finish(out, 'failed', message, 'warning');
      return;
    }
    if (data.length > 0) out.push({ type: 'deliver', offset, data });
    this.bytes = offset + data.length;
    this.expected++;
    this.gapAcked = false;
    const final = data.length < blksize;
    if (final || ++this.sinceAck >= windowsize) {
      this.sinceAck = 0;
      out.push({ type: 'send', packet: { op: Opcode.ACK, block } });
    }
    if (final) {
      this.state = 'dallying';
      this.clock.stop();
      out.push({ type: 'done', outcome: 'complete', bytes: this.bytes, reason: 'received', level: 'info' });
      return;
    }
    out.push({ type: 'timer', at: this.clock.progress(now) });
  }

  private finish(out: TransferAction[], outcome: 'failed', reason: string, level: 'warning', peerError?: { code: number; message: string }): void {
    this.state = 'finished';
    this.clock.stop();
    out.push({ type: 'done', outcome, bytes: this.bytes, reason, level, ...(peerError && { peerError }) });
  }
}
