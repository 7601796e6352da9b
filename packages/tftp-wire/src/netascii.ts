const CR = 0x0d;
const LF = 0x0a;
const NUL = 0x00;

/** Length of `local` once converted to netascii: every LF becomes CR LF, every bare CR becomes CR NUL. */
export function netasciiLength(local: Uint8Array): number {
  let n = local.length;
  for (let i = 0; i < local.length; i++) if (local[i] === LF || local[i] === CR) n++;
  return n;
}

/**
 * Converts a local (Unix) text to netascii for sending, into a buffer of
 * exactly `netasciiLength(local)` bytes.
 */
export function toNetascii(local: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(netasciiLength(local));
  let o = 0;
  for (let i = 0; i < local.length; i++) {
    const c = local[i];
    if (c === LF) {
      out[o++] = CR;
      out[o++] = LF;
    } else if (c === CR) {
      out[o++] = CR;
      out[o++] = NUL;
    } else {
      out[o++] = c;
    }
  }
  return out;
}

/**
 * Converts received netascii back to local text chunk by chunk. A CR at the
 * end of one DATA block pairs with the first byte of the next, so the decoder
 * carries it over. CR LF → LF, CR NUL → CR; a CR followed by anything else is
 * kept as it came (lenient with sloppy senders).
 */
export class NetasciiDecoder {
  private pendingCr = false;

  /** Converts one chunk; the result is a new buffer no longer than the chunk plus one. */
  push(chunk: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(chunk.length + 1);
    let o = 0;
    let cr = this.pendingCr;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      if (cr) {
        cr = false;
        if (c === LF) {
          out[o++] = LF;
          continue;
        }
        if (c === NUL) {
          out[o++] = CR;
          continue;
        }
        out[o++] = CR; // a bare CR stays; c is ordinary text (or the next CR)
      }
      if (c === CR) cr = true;
      else out[o++] = c;
    }
    this.pendingCr = cr;
    return out.subarray(0, o);
  }

  /** Flushes a CR left hanging at the very end of the transfer. */
  end(): Buffer {
    if (!this.pendingCr) return Buffer.alloc(0);
    this.pendingCr = false;
    return Buffer.from([CR]);
  }
}

/** One-shot conversion of a whole netascii text to local text. */
export function fromNetascii(wire: Uint8Array): Buffer {
  const d = new NetasciiDecoder();
  return Buffer.concat([d.push(wire), d.end()]);
}
