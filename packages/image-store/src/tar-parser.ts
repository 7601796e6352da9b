import { TarError } from './tar-error.js';
import { BLOCK, decodeHeader, isZeroBlock, type RawHeader } from './tar-header.js';
import { parsePax, paxNumber, paxTime, utf8 } from './pax-records.js';

export type EntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

/** One archive member with pax records and GNU long names applied. */
export interface TarEntry {
  path: string;
  type: EntryType;
  /** Target of a symlink or hard link; '' otherwise. */
  linkpath: string;
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of data that follow (0 for every type but `file`). */
  size: number;
  /** Whole seconds since the epoch (floor), and the nanoseconds pax gave beyond them. */
  mtime: number;
  mtimeNsec: number;
  devmajor: number;
  devminor: number;
  /** SCHILY.xattr.* records: name to raw value. */
  xattrs: Map<string, Uint8Array>;
  /** Stream offset of the entry's own header, for errors. */
  offset: number;
}

/** What `push` found: an entry starts, a view of its data, the entry is complete. */
export type TarEvent = { kind: 'entry'; entry: TarEntry } | { kind: 'data'; bytes: Uint8Array } | { kind: 'entry-end' };

export interface TarParserOptions {
  /** Largest pax header or GNU long name body accepted (allocated whole). Default 1 MiB. */
  maxMetaSize?: number;
}

const TYPES: Record<string, EntryType> = { '0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo' };
const META = new Set(['x', 'g', 'L', 'K']);

/**
 * A sans-I/O streaming tar reader: feed chunks with `push`, get events whose
 * data are views into the chunk; call `end` when the stream ends. Headers
 * are read in place when a chunk holds them whole, copied into one 512-byte
 * scratch block only when they straddle chunks. Any malformed byte throws a
 * `TarError` and the parser stays failed.
 */
export class TarParser {
  private state: 'header' | 'data' | 'meta' | 'end' | 'failed' = 'header';
  private pos = 0;
  private readonly scratch = new Uint8Array(BLOCK);
  private scratchFill = 0;
  private remaining = 0;
  private pad = 0;
  private meta: { type: string; body: Uint8Array; fill: number; offset: number } | undefined;
  private global = new Map<string, Uint8Array>();
  private pax: Map<string, Uint8Array> | undefined;
  private longName: Uint8Array | undefined;
  private longLink: Uint8Array | undefined;
  private current: TarEntry | undefined;
  private readonly maxMeta: number;

  constructor(opts: TarParserOptions = {}) {
    this.maxMeta = opts.maxMetaSize ?? 1 << 20;
  }

  push(chunk: Uint8Array): TarEvent[] {
    if (this.state === 'failed') throw new TarError('field', 'stream', this.pos, 'the parser already failed');
    const out: TarEvent[] = [];
    try {
      let i = 0;
      while (i < chunk.length && this.state !== 'end') {
        const left = chunk.length - i;
        if (this.pad > 0) {
          const n = Math.min(this.pad, left);
          this.pad -= n;
          i += n;
          this.pos += n;
          continue;
        }
        if (this.state === 'data') {
          const n = Math.min(this.remaining, left);
          out.push({ kind: 'data', bytes: chunk.subarray(i, i + n) });
          this.remaining -= n;
          i += n;
          this.pos += n;
          if (this.remaining === 0) this.finishEntry(out);
          continue;
        }
        if (this.state === 'meta') {
          const m = this.meta!;
          const n = Math.min(m.body.length - m.fill, left);
          m.body.set(chunk.subarray(i, i + n), m.fill);
          m.fill += n;
          i += n;
          this.pos += n;
          if (m.fill === m.body.length) this.finishMeta();
          continue;
        }
        // header
        if (this.scratchFill === 0 && left >= BLOCK) {
          const offset = this.pos;
          i += BLOCK;
          this.pos += BLOCK;
          this.header(chunk, i - BLOCK, offset, out);
        } else {
          const n = Math.min(BLOCK - this.scratchFill, left);
          this.scratch.set(chunk.subarray(i, i + n), this.scratchFill);
          this.scratchFill += n;
          i += n;
          this.pos += n;
          if (this.scratchFill === BLOCK) {
            this.scratchFill = 0;
            this.header(this.scratch, 0, this.pos - BLOCK, out);
          }
        }
      }
      return out;
    } catch (err) {
      this.state = 'failed';
      throw err;
    }
  }

  /** The stream ended: throws a `truncated` TarError unless the end-of-archive marker was read. */
  end(): void {
    if (this.state === 'end') return;
    const state = this.state;
    this.state = 'failed';
    const e = this.current;
    if (state === 'data' && e) {
      throw new TarError('truncated', 'size', e.offset, `the stream ends ${e.size - this.remaining} bytes into a body of ${e.size} bytes`, e.path);
    }
    if (state === 'meta') throw new TarError('truncated', 'size', this.meta!.offset, 'the stream ends inside an extended header');
    if (this.scratchFill > 0) throw new TarError('truncated', 'header', this.pos - this.scratchFill, `the stream ends ${this.scratchFill} bytes into a header`);
    if (this.pad > 0) throw new TarError('truncated', 'padding', this.pos, 'the stream ends inside the padding after a body', e?.path);
    throw new TarError('truncated', 'end-of-archive', this.pos, 'the stream ends without the end-of-archive marker (two zero blocks)');
  }

  private header(b: Uint8Array, at: number, offset: number, out: TarEvent[]): void {
    if (isZeroBlock(b, at)) {
      if (this.pax || this.longName || this.longLink) throw new TarError('field', 'typeflag', offset, 'an extended header is followed by the end of the archive');
      this.state = 'end';
      return;
    }
    const raw = decodeHeader(b, at, offset);
    if (META.has(raw.typeflag)) {
      if (raw.size > this.maxMeta) throw new TarError('limit', 'size', offset, `extended header of ${raw.size} bytes is over the limit of ${this.maxMeta}`);
      this.meta = { type: raw.typeflag, body: new Uint8Array(raw.size), fill: 0, offset: offset + BLOCK };
      this.state = 'meta';
      if (raw.size === 0) this.finishMeta();
      return;
    }
    this.current = this.entry(raw, offset);
    out.push({ kind: 'entry', entry: this.current });
    this.remaining = this.current.size;
    this.pax = this.longName = this.longLink = undefined;
    if (this.remaining === 0) this.finishEntry(out);
    else this.state = 'data';
  }

  private entry(raw: RawHeader, offset: number): TarEntry {
    const pax = new Map([...this.global, ...(this.pax ?? [])]);
    const nameBytes = pax.get('path') ?? this.longName ?? raw.name;
    const path = utf8(nameBytes, 'name', offset);
    const type = TYPES[raw.typeflag];
    if (!type) throw new TarError('unsupported', 'typeflag', offset, `entry type "${raw.typeflag}" (sparse, multi-volume or unknown) is not imported`, path);
    for (const key of pax.keys()) {
      if (key.startsWith('GNU.sparse.')) throw new TarError('unsupported', key, offset, 'sparse entries are not imported', path);
    }
    const linkpath = type === 'symlink' || type === 'hardlink' ? utf8(pax.get('linkpath') ?? this.longLink ?? raw.linkname, 'linkname', offset, path) : '';
    const n = (key: string, fallback: number) => {
      const v = pax.get(key);
      return v === undefined ? fallback : paxNumber(v, key, offset);
    };
    const paxMtime = pax.get('mtime');
    const mtime = paxMtime === undefined ? { sec: raw.mtime, nsec: 0 } : paxTime(paxMtime, 'mtime', offset);
    const xattrs = new Map<string, Uint8Array>();
    for (const [key, value] of pax) if (key.startsWith('SCHILY.xattr.')) xattrs.set(key.slice('SCHILY.xattr.'.length), value);
    const dataless = type !== 'file';
    const declared = n('size', raw.size);
    return {
      path,
      type,
      linkpath,
      mode: raw.mode & 0o7777,
      uid: n('uid', raw.uid),
      gid: n('gid', raw.gid),
      size: dataless ? 0 : declared,
      mtime: mtime.sec,
      mtimeNsec: mtime.nsec,
      devmajor: raw.devmajor,
      devminor: raw.devminor,
      xattrs,
      offset,
    };
  }

  private finishMeta(): void {
    const m = this.meta!;
    this.meta = undefined;
    this.pad = (BLOCK - (m.body.length % BLOCK)) % BLOCK;
    this.state = 'header';
    if (m.type === 'x') this.pax = new Map([...(this.pax ?? []), ...parsePax(m.body, m.offset)]);
    else if (m.type === 'g') this.global = new Map([...this.global, ...parsePax(m.body, m.offset)]);
    else {
      const end = m.body.indexOf(0);
      const name = end === -1 ? m.body : m.body.subarray(0, end);
      if (m.type === 'L') this.longName = name;
      else this.longLink = name;
    }
  }

  private finishEntry(out: TarEvent[]): void {
    out.push({ kind: 'entry-end' });
    this.pad = (BLOCK - (this.current!.size % BLOCK)) % BLOCK;
    this.state = 'header';
  }
}

/** Reads a byte stream as tar events; throws `TarError` on malformed or truncated input. */
export async function* readTar(source: AsyncIterable<Uint8Array>, opts?: TarParserOptions): AsyncGenerator<TarEvent> {
  const parser = new TarParser(opts);
  for await (const chunk of source) yield* parser.push(chunk);
  parser.end();
}
