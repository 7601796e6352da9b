import { XdrError } from './xdr-error.js';
import { objectArray } from './object-array.js';

/*
 * Record marking (RFC 5531 section 11): on a byte stream each record is sent
 * as fragments, each behind a 4-byte big-endian header whose top bit marks
 * the last fragment and whose other 31 bits give the fragment's length.
 */

const LAST_FRAGMENT = 0x80000000;
const MAX_FRAGMENT = 0x7fffffff;

/** The fragment header for a last fragment of `length` bytes, as its own 4-byte buffer. */
export function recordMark(length: number, last = true): Buffer {
  if (!Number.isInteger(length) || length < 0 || length > MAX_FRAGMENT) {
    throw new XdrError('UNREPRESENTABLE', 'record mark', 0, `fragment length ${length} is not in 0..${MAX_FRAGMENT}`);
  }
  const mark = Buffer.allocUnsafe(4);
  mark.writeUInt32BE((last ? LAST_FRAGMENT : 0) + length, 0);
  return mark;
}

/**
 * A record as a vector: [mark, ...chunks], one fragment. The chunks are not
 * copied; write them with cork/write/uncork.
 */
export function frameRecord(chunks: readonly Uint8Array[]): Uint8Array[] {
  let length = 0;
  for (const c of chunks) length += c.length;
  return [recordMark(length), ...chunks];
}

/**
 * Reassembles records from a byte stream cut at arbitrary points. A record
 * that arrives inside one chunk comes back as a view of it; one spread over
 * several chunks or fragments is joined once it is complete, after every
 * fragment header was checked against the maximum record size, so a
 * hostile header never sizes an allocation.
 *
 * A reader that lends its own reusable buffer instead (net.Socket's
 * `onread`, see target/wrote) gets records in buffers of their own: each
 * fragment is given one buffer of its announced length (at most the
 * maximum record size) and the rest of a fragment is read straight into it,
 * so a large record costs no copy in JavaScript. Where the peer is not
 * trusted with buffers of the size it announces, `allocate` may decline
 * (undefined): that fragment's bytes are then kept as copies of what
 * arrived, and joined once it is complete.
 */
export class RecordDecoder {
  private readonly header = Buffer.alloc(4);
  private headerHave = 0;
  private inFragment = false;
  private fragmentLeft = 0;
  private lastFragment = false;
  private parts: Buffer[] = objectArray();
  private recordSize = 0;
  /** With target/wrote: the current fragment's own buffer and how much of it has arrived. */
  private body: Buffer | undefined;
  private bodyFilled = 0;
  /** Stream position of the next byte, for error offsets. */
  private position = 0;

  /**
   * `allocate` gives the buffers records are joined in (and, with
   * target/wrote, fragments read into; it may decline those); `release`
   * gets back the fragment buffers a record of several was joined from, and
   * what discard() drops.
   */
  constructor(
    readonly maxRecordSize: number,
    private readonly allocate: (size: number, fragment: boolean) => Buffer | undefined = Buffer.allocUnsafe,
    private readonly release: (b: Buffer) => void = () => {},
  ) {}

  /** Drops a record in progress (the stream was closed), giving its fragment buffers to `release`. */
  discard(): void {
    if (this.body) this.release(this.body);
    for (const p of this.parts) this.release(p);
    this.body = undefined;
    this.parts = objectArray();
    this.inFragment = false;
    this.headerHave = 0;
    this.recordSize = 0;
  }

  /** Feeds the next bytes of the stream, kept as views; returns the records they complete. Throws XdrError TOO_LONG. */
  push(chunk: Buffer): Buffer[] {
    return this.consume(chunk, false);
  }

  /**
   * Where the next bytes of the stream should be read to: inside a fragment,
   * exactly its missing part in the fragment's own buffer; otherwise `scratch`.
   */
  target(scratch: Buffer): Buffer {
    return this.body && this.bodyFilled < this.body.length ? this.body.subarray(this.bodyFilled) : scratch;
  }

  /** Bytes still missing of the fragment being read into its own buffer (see target); 0 between fragments. */
  get missing(): number {
    return this.body ? this.body.length - this.bodyFilled : 0;
  }

  /** `n` bytes were read into `into`, what target() returned; returns the records they complete. Throws as push(). */
  wrote(into: Buffer, n: number): Buffer[] {
    const body = this.body;
    if (!body || into.buffer !== body.buffer || into.byteOffset !== body.byteOffset + this.bodyFilled) {
      // Into the reader's scratch buffer, which it reuses: whatever is kept is copied.
      return this.consume(into.subarray(0, n), true);
    }
    this.bodyFilled += n;
    this.fragmentLeft -= n;
    this.recordSize += n;
    this.position += n;
    const records: Buffer[] = [];
    if (this.fragmentLeft === 0) this.endFragment(records);
    return records;
  }

  private consume(chunk: Buffer, copy: boolean): Buffer[] {
    const records: Buffer[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      if (!this.inFragment) {
        const take = Math.min(4 - this.headerHave, chunk.length - pos);
        let word: number;
        if (this.headerHave === 0 && take === 4) {
          word = chunk.readUInt32BE(pos);
        } else {
          chunk.copy(this.header, this.headerHave, pos, pos + take);
          this.headerHave += take;
          if (this.headerHave < 4) {
            pos += take;
            this.position += take;
            break;
          }
          word = this.header.readUInt32BE(0);
        }
        this.headerHave = 0;
        const length = word & MAX_FRAGMENT;
        if (this.recordSize + length > this.maxRecordSize) {
          throw new XdrError(
            'TOO_LONG',
            'record marking fragment header',
            this.position + take - 4,
            `fragment of ${length} bytes makes the record exceed the maximum of ${this.maxRecordSize}`,
          );
        }
        pos += take;
        this.position += take;
        this.inFragment = true;
        this.fragmentLeft = length;
        this.lastFragment = word >= LAST_FRAGMENT;
        if (copy) {
          this.body = this.allocate(length, true);
          this.bodyFilled = 0;
        }
      }
      const take = Math.min(this.fragmentLeft, chunk.length - pos);
      if (take > 0) {
        if (this.body) {
          chunk.copy(this.body, this.bodyFilled, pos, pos + take);
          this.bodyFilled += take;
        } else {
          // From a reusable buffer (copy) with no buffer of the fragment's own: keep a copy of just what came.
          this.parts.push(copy ? Buffer.from(chunk.subarray(pos, pos + take)) : chunk.subarray(pos, pos + take));
        }
        this.recordSize += take;
        this.fragmentLeft -= take;
        pos += take;
        this.position += take;
      }
      if (this.fragmentLeft === 0) this.endFragment(records);
    }
    return records;
  }

  private endFragment(records: Buffer[]): void {
    if (this.body) {
      this.parts.push(this.body);
      this.body = undefined;
    }
    this.inFragment = false;
    if (this.lastFragment) records.push(this.takeRecord());
  }

  /** Whether the stream stopped in the middle of a record. */
  get partial(): boolean {
    return this.inFragment || this.headerHave > 0 || this.parts.length > 0;
  }

  private takeRecord(): Buffer {
    const parts = this.parts;
    let record: Buffer;
    if (parts.length === 1) {
      record = parts[0]!;
    } else {
      // Every byte of it has arrived, so its size is no longer only announced.
      record = this.allocate(this.recordSize, false) ?? Buffer.allocUnsafe(this.recordSize);
      let at = 0;
      for (const p of parts) at += p.copy(record, at);
      for (const p of parts) this.release(p);
    }
    this.parts = objectArray();
    this.recordSize = 0;
    return record;
  }
}
