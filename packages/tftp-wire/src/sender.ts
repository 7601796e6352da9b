import { ErrorCode, Opcode } from './constants.js';
import { acceptOack, defaultSettings, OackRefused, type TransferSettings } from './options.js';
import type { RequestPacket, TftpOption, TftpPacket } from './packet.js';
import { defaultRetry, RetryClock, type Outcome, type RetryPolicy, type TransferAction, type TransferMachine } from './transfer.js';

export interface SenderConfig {
  /** Bytes to send (after any netascii conversion). */
  size: number;
  retry?: RetryPolicy;
  /**
   * Serving an RRQ: the settings already negotiated and the OACK to send
   * (empty: none, DATA 1 goes out at once).
   */
  serve?: { settings: TransferSettings; oack: TftpOption[] };
  /** Putting a file as a client: the WRQ to send; its options are checked against the reply. */
  request?: RequestPacket;
}

type State = 'requesting' | 'negotiating' | 'sending' | 'finished';

/**
 * Sends a file: the server side of an RRQ or the client side of a WRQ.
 * Blocks are numbered by a 1-based index that keeps counting past 65535;
 * on the wire the block number is the index modulo 65536 (rollover to 0,
 * as tftp-hpa and curl do). A window of `windowsize` blocks goes out, then
 * an ACK moves the window to the block after the one acknowledged (a
 * partial ACK means the receiver lost the rest). An ACK for a block already
 * acknowledged is ignored: answering it would double every later packet
 * (the Sorcerer's Apprentice bug); losses are repaired by the timeout.
 */
export class TftpSender implements TransferMachine {
  private state: State = 'requesting';
  private settings: TransferSettings = { ...defaultSettings };
  private lastIndex = 0;
  /** Lowest block index not yet acknowledged. */
  private base = 1;
  /** Next block index never sent since the window last moved. */
  private next = 1;
  private readonly clock: RetryClock;

  constructor(private readonly config: SenderConfig) {
    this.clock = new RetryClock(config.retry ?? defaultRetry);
  }

  get finished(): boolean {
    return this.state === 'finished';
  }

  /** The settings in force (after the OACK, if any). */
  get transferSettings(): Readonly<TransferSettings> {
    return this.settings;
  }

  start(now: number): TransferAction[] {
    const out: TransferAction[] = [];
    if (this.config.request) {
      this.state = 'requesting';
      out.push({ type: 'send', packet: this.config.request });
      out.push({ type: 'timer', at: this.clock.progress(now) });
      return out;
    }
    const serve = this.config.serve ?? { settings: defaultSettings, oack: [] };
    this.apply(serve.settings);
    if (serve.oack.length > 0) {
      this.state = 'negotiating';
      out.push({ type: 'send', packet: { op: Opcode.OACK, options: serve.oack } });
      out.push({ type: 'timer', at: this.clock.progress(now) });
      return out;
    }
    this.state = 'sending';
    this.sendWindow(now, out);
    return out;
  }

  receive(p: TftpPacket, now: number): TransferAction[] {
    const out: TransferAction[] = [];
    if (this.state === 'finished') return out;
    switch (p.op) {
      case Opcode.ERROR:
        if (this.state === 'negotiating' && p.code === ErrorCode.OPTION_REFUSED) {
          // UEFI asks tsize, reads the OACK and walks away: a normal end.
          this.finish(out, 'declined', 0, `client ended after the OACK (${p.message || 'error 8'})`, 'info');
        } else {
          const peerError = { code: p.code, message: p.message };
          this.finish(out, 'failed', this.sentBytes(), `peer sent error ${p.code}: ${p.message}`, 'warning', peerError);
        }
        return out;
      case Opcode.OACK:
        if (this.state !== 'requesting') return out; // a repeat of one already handled
        try {
          this.apply(acceptOack(this.config.request!.options, p.options));
        } catch (err) {
          if (!(err instanceof OackRefused)) throw err;
          out.push({ type: 'send', packet: { op: Opcode.ERROR, code: ErrorCode.OPTION_REFUSED, message: err.message } });
          this.finish(out, 'failed', 0, err.message, 'warning');
          return out;
        }
        this.state = 'sending';
        this.sendWindow(now, out);
        return out;
      case Opcode.ACK:
        this.ack(p.block, now, out);
        return out;
      default:
        out.push({ type: 'log', level: 'debug', message: `ignored opcode ${p.op} while sending` });
        return out;
    }
  }

  timer(now: number): TransferAction[] {
    const out: TransferAction[] = [];
    if (this.state === 'finished') return out;
    if (now < this.clock.deadline) {
      out.push({ type: 'timer', at: this.clock.deadline });
      return out;
    }
    if (!this.clock.backoff(now)) {
      // Only the final block unacknowledged: the client most likely has the whole file and its last ACK was
      // lost (RFC 1350 section 6), which the reason says so that a boot's timeline need not call it a failure.
      const waited = this.state === 'sending' && this.base === this.lastIndex ? 'waiting for the final ACK ' : '';
      this.finish(out, 'failed', this.sentBytes(), `timed out ${waited}after ${this.clock.retries - 1} retransmissions`, 'warning');
      return out;
    }
    if (this.state === 'requesting') {
      out.push({ type: 'send', packet: this.config.request! });
    } else if (this.state === 'negotiating') {
      out.push({ type: 'send', packet: { op: Opcode.OACK, options: this.config.serve!.oack } });
    } else {
      out.push({ type: 'log', level: 'debug', message: `timeout, resending from block ${this.base & 0xffff}` });
      this.next = this.base; // go back N
      this.emitWindow(out);
    }
    out.push({ type: 'timer', at: this.clock.deadline });
    return out;
  }

  private apply(settings: TransferSettings): void {
    this.settings = settings;
    if (settings.timeoutMs !== undefined) this.clock.setBase(settings.timeoutMs);
    // The last block is short, or empty when the size is a multiple of blksize.
    this.lastIndex = Math.floor(this.config.size / settings.blksize) + 1;
  }

  private ack(block: number, now: number, out: TransferAction[]): void {
    if (this.state === 'requesting') {
      if (block !== 0) return;
      this.apply({ ...defaultSettings }); // the server ignored our options
      this.state = 'sending';
      this.sendWindow(now, out);
      return;
    }
    if (this.state === 'negotiating') {
      if (block !== 0) return;
      this.state = 'sending';
      this.sendWindow(now, out);
      return;
    }
    // Place the 16-bit number just at or after the last acknowledged index.
    const index = this.base - 1 + ((block - (this.base - 1)) & 0xffff);
    if (index === this.base - 1 || index >= this.next) return; // duplicate or never sent
    this.base = index + 1;
    if (index === this.lastIndex) {
      this.finish(out, 'complete', this.config.size, 'sent', 'info');
      return;
    }
    this.sendWindow(now, out);
  }

  private sendWindow(now: number, out: TransferAction[]): void {
    this.next = this.base;
    this.emitWindow(out);
    out.push({ type: 'timer', at: this.clock.progress(now) });
  }

  private emitWindow(out: TransferAction[]): void {
    const { blksize, windowsize } = this.settings;
    const end = Math.min(this.base + windowsize - 1, this.lastIndex);
    for (let i = this.next; i <= end; i++) {
      const offset = (i - 1) * blksize;
      out.push({ type: 'sendData', block: i & 0xffff, offset, length: Math.min(blksize, this.config.size - offset) });
    }
    this.next = end + 1;
  }

  private sentBytes(): number {
    return Math.min(this.config.size, Math.max(0, (this.base - 1) * this.settings.blksize));
  }

  private finish(
    out: TransferAction[],
    outcome: Outcome,
    bytes: number,
    reason: string,
    level: 'info' | 'warning',
    peerError?: { code: number; message: string },
  ): void {
    this.state = 'finished';
    this.clock.stop();
    out.push({ type: 'done', outcome, bytes, reason, level, ...(peerError && { peerError }) });
  }
}
