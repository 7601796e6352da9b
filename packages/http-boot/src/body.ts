import type { Socket } from 'node:net';
import { read } from 'node:fs';
import { native, socketFd, type SendfileTransfer } from '@netboot/platform';

/**
 * How file bodies leave: `sendfile` from the open file to the connection's
 * socket (the page cache straight to the socket, no JavaScript per chunk;
 * needs @netboot/platform), or `reads` into reused 1 MiB buffers, each
 * written to the socket (portable mode, and sockets whose fd Node hides).
 */
export type BodyMode = 'sendfile' | 'reads';

/** What the body sent: the bytes that reached the socket, and whether that was all of them. */
export interface BodyResult {
  sent: number;
  complete: boolean;
  /** Bytes of the file the page cache lacked, read into it on libuv's pool before they were sent (sendfile only). */
  uncached: number;
}

/** The file ended before the range the headers promised (it was truncated meanwhile). */
export class ShortFileError extends Error {
  readonly code = 'EOF';
}

/**
 * Bytes read per buffer in `reads` mode: bench/http-read.js measured
 * 64 KiB to 1 MiB, and 1 MiB cost least per byte.
 */
const CHUNK = 1024 * 1024;
/** Free buffers kept for the next bodies (two per body in flight); more are left to the collector. */
const POOL_MAX = 16;
const pool: Buffer[] = [];

/**
 * Bodies up to this size that the page cache holds are read on the event
 * loop (preadv2 RWF_NOWAIT, never waiting for the disk) and written with the
 * headers in one write: a sendfile transfer's set-up (a dup of the socket, a
 * poll registered and removed, page-cache samples) costs more system calls
 * than such a body, and its headers would leave in a packet of their own.
 * 64 KiB, as nfs3's READ path reads cached data on its serving thread.
 */
const SMALL_BODY = 64 * 1024;

/** Each connection's socket descriptor, looked up once. */
const descriptors = new WeakMap<Socket, number>();

/** The socket's descriptor, or undefined where the runtime hides it (the stream then writes). */
function descriptor(socket: Socket): number | undefined {
  let fd = descriptors.get(socket);
  if (fd === undefined) {
    try {
      fd = socketFd(socket);
    } catch {
      return undefined;
    }
    descriptors.set(socket, fd);
  }
  return fd;
}

/** Sendfile transfers under way, by connection: an idle check asks them for progress. */
const transfers = new WeakMap<Socket, { transfer: SendfileTransfer; seen: number }>();

export function bodyMode(): BodyMode {
  return native ? 'sendfile' : 'reads';
}

/**
 * True when the client of a sendfile body on this connection acknowledged
 * bytes since the last time this was asked: Node sees none of the body's
 * writes, so its idle timer runs out on a transfer that is going well. The
 * bytes the peer took (sent less those still queued in the kernel) count,
 * not those handed to the socket: a slow client may take minutes to drain a
 * full send buffer, and is still reading.
 */
export function sendfileProgressed(socket: Socket): boolean {
  const t = transfers.get(socket);
  if (!t) return false;
  const taken = t.transfer.sent() - t.transfer.queued();
  const moved = taken !== t.seen;
  t.seen = taken;
  return moved;
}

/**
 * Bytes of the buffer a small body and its head are written from: one
 * buffer, reused while the kernel takes each write whole (the usual case),
 * replaced when a write has to wait (the socket then holds it).
 */
const SCRATCH = SMALL_BODY + 1024;
let scratch = Buffer.allocUnsafeSlow(SCRATCH);
/**
 * The head at the start of `scratch`: the two strings it was written from
 * and its length. A file's fields and the Date line are the same strings
 * from one request to the next (see FileHeads and headEnd), so a client
 * fetching the same file again finds its head already in place.
 */
let scratchFields: string | undefined;
let scratchTail: string | undefined;
let scratchHead = 0;

/** A new scratch buffer, the old one left to a write that holds it. */
function replaceScratch(): void {
  scratch = Buffer.allocUnsafeSlow(SCRATCH);
  scratchFields = undefined;
  scratchTail = undefined;
}

/**
 * True, or a promise of whether the socket took everything written to it:
 * false once it closed first. A write the kernel took whole leaves nothing
 * queued, and needs no wait.
 */
export function flushed(socket: Socket): true | Promise<boolean> {
  if (socket.destroyed) return Promise.resolve(false);
  if (socket.writableLength === 0) return true;
  // An empty write calls back once every write before it is done; one the connection's end cuts short may never call back: its close settles it.
  return new Promise((resolve) => {
    const onClose = () => resolve(false);
    socket.once('close', onClose);
    socket.write('', (err) => {
      socket.off('close', onClose);
      resolve(!err && !socket.destroyed);
    });
  });
}

/**
 * Sends the response head (`fields`, the status line and fields of the
 * file, then `tail`, its last lines ending in the empty line) and `length`
 * bytes of the open file `fd` from `start` as its body on `socket`. The
 * caller owns `fd` and closes it once this settles. Resolves with what was
 * sent; rejects on a read error or a file shorter than promised (the
 * connection must then be dropped). A small body the kernel took whole is
 * told of at once, without a promise.
 */
export function sendBody(socket: Socket, fields: string, tail: string, fd: number, start: number, length: number, mode: BodyMode): BodyResult | Promise<BodyResult> {
  if (socket.destroyed) return { sent: 0, complete: false, uncached: 0 };
  if (mode === 'sendfile' && native && length <= SMALL_BODY) {
    const small = sendCachedSmall(socket, fields, tail, fd, start, length);
    if (small) return small;
  }
  socket.write(fields + tail, 'latin1');
  if (mode === 'sendfile' && native) {
    let sockFd: number | undefined;
    try {
      sockFd = socketFd(socket);
    } catch {
      // A socket without a visible fd (another runtime): the portable way.
    }
    if (sockFd !== undefined) return sendByFile(socket, sockFd, fd, start, length);
  }
  return sendByReads(socket, fd, start, length);
}

/**
 * A small body the page cache holds, read on the loop behind its head into
 * one buffer and written with it; undefined (nothing written) when it is
 * not all cached or the file system cannot say, for the sendfile path to
 * send. When the connection's stream has nothing queued, the read and the
 * write are one call of the platform module (`sendReadNowait`: a preadv2
 * that never waits for the disk, then one sendmsg straight to the kernel),
 * without the stream's write request and tick; what the kernel did not take
 * goes through the stream.
 */
function sendCachedSmall(socket: Socket, fields: string, tail: string, fd: number, start: number, length: number): BodyResult | Promise<BodyResult> | undefined {
  let buf = scratch;
  let at: number;
  if (fields.length + tail.length + length > SCRATCH) {
    buf = Buffer.allocUnsafeSlow(fields.length + tail.length + length);
    at = buf.write(fields, 0, 'latin1');
    at += buf.write(tail, at, 'latin1');
  } else if (fields === scratchFields && tail === scratchTail) {
    at = scratchHead;
  } else {
    at = buf.write(fields, 0, 'latin1');
    at += buf.write(tail, at, 'latin1');
    scratchFields = fields;
    scratchTail = tail;
    scratchHead = at;
  }
  const total = at + length;
  // Checked in this same call, with no turn of the loop between: a socket not destroyed still owns its descriptor.
  const sockFd = socket.writableLength === 0 && !socket.destroyed ? descriptor(socket) : undefined;
  let taken = 0;
  if (sockFd !== undefined) {
    try {
      taken = native!.sendReadNowait(sockFd, buf, at, fd, start, length);
    } catch (err) {
      // The client is gone (EPIPE, ECONNRESET): its close follows. A read error: the sendfile path reports it.
      if ((err as { syscall?: string }).syscall === 'preadv2') return undefined;
      if (typeof (err as NodeJS.ErrnoException).code !== 'string') throw err;
      return { sent: 0, complete: false, uncached: 0 };
    }
    if (taken === -1) return undefined;
    if (taken === total) return { sent: length, complete: true, uncached: 0 };
    if (taken < 0) taken = 0;
  } else {
    let n: number;
    try {
      n = native!.preadNowait(fd, buf, at, length, start);
    } catch {
      return undefined;
    }
    if (n !== length) return undefined;
  }
  const whole = buf.subarray(taken, total);
  socket.write(whole);
  const done = flushed(socket);
  if (done === true) return { sent: length, complete: true, uncached: 0 };
  // The socket holds the buffer until the kernel has taken it: the next small body gets another.
  if (buf === scratch) replaceScratch();
  return done.then((ok) => ({ sent: ok ? length : 0, complete: ok, uncached: 0 }));
}

async function sendByFile(socket: Socket, sockFd: number, fd: number, start: number, length: number): Promise<BodyResult> {
  // The head went through Node's stream; the body must not pass it in the kernel's queue.
  const headOut = flushed(socket);
  if (headOut !== true && !(await headOut)) return { sent: 0, complete: false, uncached: 0 };
  if (socket.destroyed) return { sent: 0, complete: false, uncached: 0 };
  return new Promise((resolve, reject) => {
    const onClose = () => transfer.cancel();
    const transfer = native!.sendfileAll(sockFd, fd, start, length, (err, sent) => {
      socket.off('close', onClose);
      transfers.delete(socket);
      const uncached = transfer.warmed();
      if (!err) resolve({ sent, complete: true, uncached });
      else if (err.code === 'EOF') reject(new ShortFileError(`the file ended ${length - sent} bytes before the range sent`));
      // ECANCELED (the connection closed), EPIPE, ECONNRESET: the client went away.
      else resolve({ sent, complete: false, uncached });
    });
    transfers.set(socket, { transfer, seen: 0 });
    socket.once('close', onClose);
  });
}

function takeBuffer(): Buffer {
  return pool.pop() ?? Buffer.allocUnsafeSlow(CHUNK);
}

function readInto(fd: number, buf: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, 0, length, position, (err, n) => (err ? reject(err) : resolve(n))));
}

/**
 * Two buffers in turn: the next read runs while the last one's bytes go
 * out, and a buffer is read into again only once the socket has taken all
 * of it (its write callback), so no bytes are overwritten under the kernel.
 * Buffers go back to the pool only when no write holds them; one whose write
 * never reported (the connection died) is left to the collector.
 */
async function sendByReads(socket: Socket, fd: number, start: number, length: number): Promise<BodyResult> {
  let onClose = () => {};
  const closed = new Promise<false>((resolve) => {
    onClose = () => resolve(false);
    if (socket.destroyed) resolve(false);
    else socket.once('close', onClose);
  });
  const buffers = [takeBuffer(), takeBuffer()];
  const writes: Array<Promise<boolean> | undefined> = [undefined, undefined];
  const settled = [true, true];
  let sent = 0;
  let position = start;
  const end = start + length;
  let ok = true;
  try {
    for (let turn = 0; position < end; turn ^= 1) {
      const prior = writes[turn];
      if (prior && !(await Promise.race([prior, closed]))) {
        ok = false;
        break;
      }
      const n = await readInto(fd, buffers[turn], Math.min(CHUNK, end - position), position);
      if (n === 0) throw new ShortFileError(`the file ended ${end - position} bytes before the range sent`);
      if (socket.destroyed) {
        ok = false;
        break;
      }
      const chunk = buffers[turn].subarray(0, n);
      settled[turn] = false;
      const slot = turn;
      writes[turn] = new Promise<boolean>((resolve) =>
        socket.write(chunk, (err) => {
          settled[slot] = true;
          if (!err) sent += n;
          resolve(!err);
        }),
      );
      position += n;
    }
    for (const w of writes) if (w && !(await Promise.race([w, closed]))) ok = false;
  } finally {
    socket.off('close', onClose);
    for (let i = 0; i < buffers.length; i++) if (settled[i] && pool.length < POOL_MAX) pool.push(buffers[i]);
  }
  return { sent, complete: ok && position === end, uncached: 0 };
}
