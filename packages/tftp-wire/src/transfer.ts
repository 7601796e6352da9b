import type { TftpPacket } from './packet.js';

export type LogLevel = 'debug' | 'info' | 'warning';

export type Logger = (level: LogLevel, message: string) => void;

/** How a transfer ended. `declined` is a peer walking away after the OACK (the UEFI tsize probe), not a failure. */
export type Outcome = 'complete' | 'declined' | 'failed';

/** What a transfer machine asks its adapter to do, in order. */
export type TransferAction =
  /** Send a control packet (request, ACK, OACK, ERROR) to the peer. */
  | { type: 'send'; packet: TftpPacket }
  /** Send DATA `block` (16-bit) carrying bytes [offset, offset + length) of the file. */
  | { type: 'sendData'; block: number; offset: number; length: number }
  /** Store in-order received bytes at `offset` of the file; `data` is a view into the datagram. */
  | { type: 'deliver'; offset: number; data: Buffer }
  /** Call `timer()` at (or after) this time; a later action replaces an earlier deadline. */
  | { type: 'timer'; at: number }
  | { type: 'log'; level: LogLevel; message: string }
  /**
   * The transfer is over. A receiver that completed stays able to re-ACK a
   * repeated final block, so a server may keep its socket a little longer.
   */
  | { type: 'done'; outcome: Outcome; bytes: number; reason: string; level: LogLevel; peerError?: { code: number; message: string } };

/** Retransmission policy: exponential backoff from `initialMs` up to `maxMs`, `maxRetries` in a row. */
export interface RetryPolicy {
  initialMs: number;
  maxMs: number;
  maxRetries: number;
}

export const defaultRetry: Readonly<RetryPolicy> = { initialMs: 1000, maxMs: 8000, maxRetries: 5 };

/** The common face of the sender and the receiver: events and the current time in, actions out. */
export interface TransferMachine {
  start(now: number): TransferAction[];
  receive(packet: TftpPacket, now: number): TransferAction[];
  /** The adapter's timer fired; the machine decides whether its deadline has really passed. */
  timer(now: number): TransferAction[];
  readonly finished: boolean;
}

/**
 * The retransmission clock shared by both machines. Moving the deadline is
 * a field write, so a transfer that loses nothing never touches a real timer
 * per packet: the adapter's one timer fires, sees the later deadline, and
 * re-arms once.
 */
export class RetryClock {
  deadline = Infinity;
  retries = 0;
  private currentMs: number;
  private readonly policy: RetryPolicy;

  constructor(policy: RetryPolicy) {
    this.policy = { ...policy };
    this.currentMs = policy.initialMs;
  }

  /** Sets the base timeout (the peer's `timeout` option). */
  setBase(ms: number): void {
    this.policy.initialMs = ms;
    this.policy.maxMs = Math.max(this.policy.maxMs, ms);
    this.currentMs = ms;
  }

  /** Progress: forget earlier losses and wait the base timeout from now. */
  progress(now: number): number {
    this.retries = 0;
    this.currentMs = this.policy.initialMs;
    return (this.deadline = now + this.currentMs);
  }

  /** A timeout happened; false when the retries are used up, else the deadline is pushed out with backoff. */
  backoff(now: number): boolean {
    if (++this.retries > this.policy.maxRetries) return false;
    this.currentMs = Math.min(this.currentMs * 2, this.policy.maxMs);
    this.deadline = now + this.currentMs;
    return true;
  }

  stop(): void {
    this.deadline = Infinity;
  }
}
