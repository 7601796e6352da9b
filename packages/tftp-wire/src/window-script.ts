import { Opcode } from './constants.js';
import { encodeDataHeader } from './encode.js';
import type { DataSource } from './transfer-driver.js';

/** What laying out a read transfer's coming windows needs: the file's size and the settings agreed. */
export interface WindowShape {
  size: number;
  blksize: number;
  windowsize: number;
}

/**
 * Bytes of DATA laid out ahead at most: a lock-step transfer at 1468 takes
 * about 44 blocks per JavaScript turn; a windowed one lays out at least
 * WINDOWS_AHEAD windows (128 datagrams at windowsize 16).
 */
const AHEAD_BYTES = 64 * 1024;
const WINDOWS_AHEAD = 8;
/** Steps ahead at most, whatever the block size. */
const STEPS_MAX = 512;
/** An ACK is four bytes: opcode 4 and the block number. */
const ACK_BYTES = 4;

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
 */
export class WindowScript {
  bytes: Buffer = Buffer.alloc(0);
  plan = new Int32Array(0);
  /** Steps laid out. */
  steps = 0;
  /** The block index the last window before step 0 ended with; 0 when nothing is laid out. */
  anchor = 0;
  /** Last block index of each step's window. */
  private ends = new Float64Array(0);
  private readonly lastIndex: number;

  constructor(private readonly shape: WindowShape) {
    this.lastIndex = Math.floor(shape.size / shape.blksize) + 1;
  }

  /** The block index step k's window ends with (k = -1: the anchor). */
  endOf(k: number): number {
    return k < 0 ? this.anchor : this.ends[k];
  }

  /** The 16-bit block number step k waits for an ACK of. */
  ackedBlock(k: number): number {
    return this.endOf(k - 1) & 0xffff;
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
    const budget = Math.max(AHEAD_BYTES, WINDOWS_AHEAD * windowsize * (blksize + 4 + ACK_BYTES));
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
    // Grown to what is laid out, not to the budget: the file source often holds less than it allows.
    if (this.bytes.length < bytes) this.bytes = Buffer.allocUnsafe(Math.ceil(bytes / 65536) * 65536);
    if (this.plan.length < steps + datagrams) this.plan = new Int32Array(steps + datagrams);
    if (this.ends.length < steps) this.ends = new Float64Array(Math.max(steps, STEPS_MAX));
    let at = steps * ACK_BYTES;
    let j = steps;
    end = sent;
    for (let k = 0; k < steps; k++) {
      const t = k * ACK_BYTES;
      this.bytes[t] = 0;
      this.bytes[t + 1] = Opcode.ACK;
      this.bytes.writeUInt16BE(end & 0xffff, t + 2);
      const next = Math.min(end + windowsize, this.lastIndex);
      for (let i = end + 1; i <= next; i++) {
        const offset = (i - 1) * blksize;
        const length = Math.min(blksize, size - offset);
        encodeDataHeader(i & 0xffff, this.bytes, at);
        view.copy(this.bytes, at + 4, offset - from, offset - from + length);
        this.plan[j++] = 4 + length;
        at += 4 + length;
      }
      this.plan[k] = next - end;
      this.ends[k] = next;
      end = next;
    }
    this.steps = steps;
    return steps;
  }
}
