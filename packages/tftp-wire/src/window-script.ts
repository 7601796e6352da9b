import { Opcode } from './constants.js';
import { encodeDataHeader } from './encode.js';
import type { DataSource } from './transfer-driver.js';
import type { ScriptedReplies } from './transport.js';

/** What laying out a read transfer's coming windows needs: the file's size and the settings agreed. */
export interface WindowShape {
  size: number;
  blksize: number;
  windowsize: number;
}

/**
 * Bytes laid out ahead: at least AHEAD_BYTES or WINDOWS_AHEAD windows (128
 * datagrams at windowsize 16), and all that is loaded when that is less than
 * half as much again: a file source's chunk (128 KiB lock-step, 256 KiB
 * windowed) is one script, so a transfer takes one JavaScript turn per chunk
 * (lock-step at 1468, one per 90 blocks). The transport keeps its own copy
 * while armed: with the chunk, the bulk of a transfer's memory.
 */
const AHEAD_BYTES = 96 * 1024;
const WINDOWS_AHEAD = 8;
/** Steps ahead at most, whatever the block size. */
const STEPS_MAX = 1024;
/** An ACK is four bytes: opcode 4 and the block number. */
const ACK_BYTES = 4;

/**
 * Where scripts are laid out: the transport copies a script when it is
 * armed, so one buffer serves every transfer of the thread (each worker
 * thread has its own module instance).
 */
let scratch: Buffer = Buffer.alloc(0);
let scratchPlan = new Int32Array(0);

/**
 * The windows a read transfer sends next if every ACK arrives in order, laid
 * out for a transport that answers them itself (`ScriptedReplies`): step k
 * waits for the ACK of the last block of the window before it and answers
 * with its own window's DATA packets. This is RFC 7440's rule for the case
 * where nothing goes wrong, and only that; every other packet (a partial or
 * repeated ACK, an ERROR, the final ACK) ends the script and goes to the
 * machine, which is then told of the steps taken, one ACK each, so it stays
 * the one that decides. `bytes` holds the triggers, then the DATA packets;
 * `plan` the DATA packets per step, then their lengths (the addon's layout).
 * Both are the thread's scratch, valid until the next `build`: the
 * transport's copy is the script from then on.
 */
export class WindowScript {
  /** Steps laid out. */
  steps = 0;
  /** The block index the last window before step 0 ended with; 0 when nothing is laid out. */
  anchor = 0;
  private readonly lastIndex: number;

  constructor(private readonly shape: WindowShape) {
    this.lastIndex = Math.floor(shape.size / shape.blksize) + 1;
  }

  get bytes(): Buffer {
    return scratch;
  }

  get plan(): Int32Array {
    return scratchPlan;
  }

  /** The block index step k's window ends with (k = -1: the anchor): windows are whole until the last block. */
  endOf(k: number): number {
    return Math.min(this.anchor + (k + 1) * this.shape.windowsize, this.lastIndex);
  }

  /** The 16-bit block number step k waits for an ACK of. */
  ackedBlock(k: number): number {
    return this.endOf(k - 1) & 0xffff;
  }

  /**
   * Has the transport lay out the windows after the one that ended with
   * block index `sent` from the source's file itself, chunk by chunk, to
   * the end of the file (the steps are this script's, to the last window):
   * no copy here and no JavaScript turn per chunk. False when the transport
   * or the source cannot, or the file's next bytes are not cached: `build`
   * then lays out what the source holds.
   */
  armFile(sent: number, source: DataSource, replies: ScriptedReplies): boolean {
    const { size, blksize, windowsize } = this.shape;
    if (source.fd === undefined || !replies.armFile || sent >= this.lastIndex) return false;
    if (!replies.armFile(source.fd, size, blksize, windowsize, sent)) return false;
    this.anchor = sent;
    this.steps = Math.ceil((this.lastIndex - sent) / windowsize);
    return true;
  }

  /**
   * Lays out the windows after the one that ended with block index `sent`,
   * as far as `source` already holds the bytes (no read is started). Returns
   * the steps laid out; 0 when the next ACK is the final one or nothing
   * after `sent` is in memory.
   */
  build(sent: number, source: DataSource): number {
    const { size, blksize, windowsize } = this.shape;
    this.anchor = sent;
    this.steps = 0;
    if (sent >= this.lastIndex || !source.loadedEnd) return 0;
    const from = sent * blksize;
    const loaded = Math.min(size, source.loadedEnd(from));
    const wanted = Math.max(AHEAD_BYTES, WINDOWS_AHEAD * (windowsize * (blksize + 4) + ACK_BYTES));
    const budget = loaded - from <= wanted * 1.5 ? Infinity : wanted;
    // How many whole windows fit in the budget and in what is loaded.
    let steps = 0;
    let datagrams = 0;
    let bytes = 0;
    let end = sent;
    while (steps < STEPS_MAX && end < this.lastIndex) {
      const next = Math.min(end + windowsize, this.lastIndex);
      const dataEnd = Math.min(size, next * blksize);
      const windowBytes = dataEnd - end * blksize + 4 * (next - end);
      if (dataEnd > loaded || bytes + windowBytes + ACK_BYTES > budget) break;
      bytes += windowBytes + ACK_BYTES;
      datagrams += next - end;
      end = next;
      steps++;
    }
    if (steps === 0) return 0;
    const view = source.view(from, Math.min(size, end * blksize));
    if (view instanceof Promise) return 0; // loadedEnd said otherwise: no script rather than a read
    if (scratch.length < bytes) scratch = Buffer.allocUnsafe(Math.ceil(bytes / 65536) * 65536);
    if (scratchPlan.length < steps + datagrams) scratchPlan = new Int32Array(Math.ceil((steps + datagrams) / 1024) * 1024);
    const out = scratch;
    const plan = scratchPlan;
    let at = steps * ACK_BYTES;
    let j = steps;
    end = sent;
    for (let k = 0; k < steps; k++) {
      const t = k * ACK_BYTES;
      out[t] = 0;
      out[t + 1] = Opcode.ACK;
      out.writeUInt16BE(end & 0xffff, t + 2);
      const next = Math.min(end + windowsize, this.lastIndex);
      for (let i = end + 1; i <= next; i++) {
        const offset = (i - 1) * blksize;
        const length = Math.min(blksize, size - offset);
        encodeDataHeader(i & 0xffff, out, at);
        view.copy(out, at + 4, offset - from, offset - from + length);
        plan[j++] = 4 + length;
        at += 4 + length;
      }
      plan[k] = next - end;
      end = next;
    }
    this.steps = steps;
    return steps;
  }
}
