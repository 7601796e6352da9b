import type { Socket } from 'node:net';
import { readInto } from '@netboot/platform';
import { sendfileProgressed } from './body.js';
import { decodeRequestHead, MAX_HEAD, RequestHeadError, type RequestHead } from './request-head.js';

/** The time limits of a connection (ms). */
export interface ConnectionLimits {
  /** Between a response's end and the next request's first byte. */
  keepAlive: number;
  /** From a request's first byte (or the connection's start) to the end of its head. */
  headers: number;
  /** While a response is under way, without a byte taken by the client. */
  idle: number;
}

/**
 * Unanswered request bytes a connection holds before it stops reading: a
 * client pipelining faster than its answers leave waits in its own socket
 * buffers, not in this server's memory.
 */
const QUEUE_MAX = 64 * 1024;

/**
 * The buffer every connection's socket reads into: its bytes are decoded
 * within the read's callback, and what a request left unread (a head split
 * across reads, pipelined requests waiting for an answer) is copied out
 * before the callback returns, as the next read of any connection
 * overwrites it. A keep-alive request thus costs no buffer of its own.
 */
const INPUT = Buffer.allocUnsafeSlow(64 * 1024);

/** What a connection hands its requests to, and tells of a head it refused. */
export interface RequestSink {
  /** Answers one request, at once or by a promise; the next is decoded once it settles. The connection ends after it when `closing` was set. */
  answer(conn: Connection, head: RequestHead): Promise<void> | undefined;
  /** A head that breaks the grammar or a limit: answer `err.status`; the connection ends after it. */
  refuse(conn: Connection, err: RequestHeadError): void;
  /** A head not complete within the headers time limit (408); the connection ends after it. */
  timedOut(conn: Connection): void;
}

/**
 * One client connection: its bytes in, decoded into request heads one at a
 * time, each answered before the next is decoded (pipelined requests are
 * answered in order), and its time limits. Bytes arrive in Node's buffers
 * and heads are decoded where they lie; a head split across reads is copied
 * into one fixed 16 KiB buffer of the connection, never into a buffer sized
 * from what the client sent.
 */
export class Connection {
  /** Unread input, oldest first; `offset` bytes of the first are consumed. */
  private chunks: Buffer[] = [];
  private offset = 0;
  private queued = 0;
  /** The start of a head that a read split, and how much of it. */
  private carry: Buffer | undefined;
  private carried = 0;
  private busy = false;
  /** The client sent its FIN: no more requests come. */
  private peerEnded = false;
  /** This connection ends after the response under way (Connection: close, HTTP/1.0, a refusal, shutdown). */
  closing = false;
  /** What the time limit counts from: a response's end (`wait`), a head's start (`head`), a body's last progress (`busy`). */
  private phase: 'wait' | 'head' | 'busy' = 'head';
  /** When the phase began (ms), or -1: at the next check. */
  private since: number;
  private written = 0;
  private readonly onAnswered = () => this.answered();
  private readonly onFailed = () => this.socket.destroy();

  constructor(
    readonly socket: Socket,
    readonly client: string,
    private readonly sink: RequestSink,
    now: number,
  ) {
    this.since = now;
    // Paused as accepted (pauseOnConnect): reading starts into INPUT, or, where Node has no slot for that, as 'data'.
    const inPlace = readInto(socket, INPUT, (n, into) => {
      this.received(into.subarray(0, n), true);
      return true;
    });
    if (!inPlace) socket.on('data', (chunk: Buffer) => this.received(chunk, false));
    socket.on('end', () => {
      this.peerEnded = true;
      if (!this.busy) this.pump();
    });
    // A reset or a broken pipe: 'close' follows, and the response under way settles with it.
    socket.on('error', () => {});
    socket.resume();
  }

  /** True when no request is being answered and no part of one has arrived. */
  get idle(): boolean {
    return !this.busy && this.queued === 0 && this.carried === 0;
  }

  /** Bytes read; `shared` when they lie in INPUT, which the next read overwrites. */
  private received(chunk: Buffer, shared: boolean): void {
    if (this.closing) return;
    if (this.phase === 'wait') this.enter('head');
    this.chunks.push(chunk);
    this.queued += chunk.length;
    if (this.queued > QUEUE_MAX) this.socket.pause();
    if (!this.busy) this.pump();
    if (shared) this.keep();
  }

  /** What is left unread in INPUT moves to buffers of its own. */
  private keep(): void {
    for (let i = 0; i < this.chunks.length; i++) {
      const c = this.chunks[i];
      if (c.buffer !== INPUT.buffer) continue;
      if (i === 0 && this.offset > 0) {
        this.chunks[0] = Buffer.from(c.subarray(this.offset));
        this.offset = 0;
      } else this.chunks[i] = Buffer.from(c);
    }
  }

  /** A new phase, its time counted from the next check (no clock read per request). */
  private enter(phase: 'wait' | 'head' | 'busy'): void {
    this.phase = phase;
    this.since = -1;
  }

  /**
   * Decodes and answers the requests that have arrived whole, in order: one
   * answered at once (a file the page cache holds) lets the next be decoded
   * in the same turn; one that waits resumes this when it settles. Ends the
   * connection when it should.
   */
  private pump(): void {
    while (!this.busy && !this.socket.destroyed) {
      if (this.closing) {
        this.drop();
        this.socket.end();
        return;
      }
      let head: RequestHead | undefined;
      try {
        head = this.nextHead();
      } catch (err) {
        if (!(err instanceof RequestHeadError)) throw err;
        this.closing = true;
        this.drop();
        this.sink.refuse(this, err);
        this.socket.end();
        return;
      }
      if (!head) {
        if (this.queued < QUEUE_MAX && this.socket.isPaused()) this.socket.resume();
        if (this.peerEnded) this.socket.end();
        return;
      }
      this.busy = true;
      this.enter('busy');
      this.written = this.socket.bytesWritten;
      const pending = this.sink.answer(this, head);
      if (pending) {
        pending.then(this.onAnswered, this.onFailed);
        return;
      }
      this.settle();
    }
  }

  private settle(): void {
    this.busy = false;
    this.enter(this.queued === 0 && this.carried === 0 ? 'wait' : 'head');
  }

  private answered(): void {
    this.settle();
    this.pump();
  }

  /** Forgets unread input: nothing more is answered. */
  private drop(): void {
    this.chunks = [];
    this.offset = 0;
    this.queued = 0;
    this.carried = 0;
  }

  /** The next whole request head, consumed from the input; undefined until one has arrived whole. Throws RequestHeadError. */
  private nextHead(): RequestHead | undefined {
    if (this.carried === 0) {
      const first = this.chunks[0];
      if (first === undefined) return undefined;
      const head = decodeRequestHead(first, this.offset, first.length);
      if (head) {
        this.consume(head.length);
        return head;
      }
      // Split across reads: the start moves to the carry buffer, which the next reads fill.
      this.carry ??= Buffer.allocUnsafe(MAX_HEAD);
      this.carried = first.copy(this.carry, 0, this.offset);
      this.consume(this.carried);
    }
    const carry = this.carry!;
    const before = this.carried;
    while (this.chunks.length > 0 && this.carried < MAX_HEAD) {
      const c = this.chunks[0];
      const n = c.copy(carry, this.carried, this.offset, Math.min(c.length, this.offset + MAX_HEAD - this.carried));
      this.carried += n;
      this.consume(n);
    }
    if (this.carried === before) return undefined;
    const head = decodeRequestHead(carry, 0, this.carried);
    if (!head) return undefined;
    // Bytes after the head (the next pipelined request) go back in front of the input.
    const rest = this.carried - head.length;
    this.carried = 0;
    if (rest > 0) {
      if (this.offset > 0) {
        this.chunks[0] = this.chunks[0].subarray(this.offset);
        this.offset = 0;
      }
      this.chunks.unshift(Buffer.from(carry.subarray(head.length, head.length + rest)));
      this.queued += rest;
    }
    return head;
  }

  /** Marks `n` bytes of the input, from its front, as read. */
  private consume(n: number): void {
    this.queued -= n;
    this.offset += n;
    while (this.chunks.length > 0 && this.offset >= this.chunks[0].length) {
      this.offset -= this.chunks[0].length;
      this.chunks.shift();
    }
  }

  /**
   * Applies the time limits at `now`: an idle keep-alive connection is
   * closed, a head not complete in time is answered 408, a response whose
   * client has taken nothing for the idle time is dropped. Bytes of a
   * sendfile body bypass Node, so its progress is asked of the transfer.
   */
  check(now: number, limits: ConnectionLimits): void {
    if (this.socket.destroyed) return;
    if (this.since < 0) this.since = now;
    if (this.phase === 'wait') {
      if (now - this.since > limits.keepAlive) this.socket.destroy();
    } else if (this.phase === 'head') {
      if (now - this.since <= limits.headers) return;
      const started = this.queued > 0 || this.carried > 0;
      this.closing = true;
      this.drop();
      if (started) {
        this.sink.timedOut(this);
        this.socket.end();
      } else this.socket.destroy();
    } else {
      const written = this.socket.bytesWritten;
      if (sendfileProgressed(this.socket) || written !== this.written) {
        this.written = written;
        this.since = now;
      } else if (now - this.since > limits.idle) this.socket.destroy();
    }
  }
}
