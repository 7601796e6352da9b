import { open, readFile } from 'node:fs/promises';
import { writeFileAtomic } from './durable-files.js';

/** Records past which the log is rewritten whole: twice the live entries, and this many more. */
const SLACK = 1024;

/**
 * A node layer's origins (upper inode -> image inode, for objects copied
 * up: what keeps a file's handle across its copy-up), kept as an append-only
 * log: a line `UPPER LOWER` when an object is copied up, `UPPER -` when the
 * layer's file is gone with its last name. A copy-up appends one line and
 * syncs it (fdatasync), instead of rewriting and syncing the whole map, its
 * temporary file and its directory; copy-ups in flight together share one
 * sync. A copy-up's call is answered only once its line is on disk, as
 * before. When the log holds many more lines than entries it is rewritten
 * whole, atomically (temporary file, sync, rename, directory sync).
 *
 * Crash-safe: a line is one write, and only whole lines count when the log
 * is read; a torn or unreadable tail (a crash inside a write) is dropped
 * and the log rewritten before anything is appended after it. A log that
 * holds a JSON object (the format before) is read as such and rewritten as
 * a log.
 */
export class OriginLog {
  private pending = '';
  /** The append that takes `pending`, while it has not started. */
  private waiting: Promise<void> | undefined;
  private queue: Promise<void> = Promise.resolve();

  private constructor(
    private readonly path: string,
    private readonly map: Map<bigint, bigint>,
    /** Lines in the file; undefined: the file must be written whole before anything is appended (missing, torn, old format, or a failed append). */
    private lines: number | undefined,
  ) {}

  static async load(path: string): Promise<OriginLog> {
    const text = await readFile(path, 'latin1').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    const map = new Map<bigint, bigint>();
    if (text === undefined) return new OriginLog(path, map, undefined);
    if (text.startsWith('{')) {
      for (const [k, v] of Object.entries(JSON.parse(text) as Record<string, string>)) map.set(BigInt(k), BigInt(v));
      return new OriginLog(path, map, undefined);
    }
    let lines = 0;
    let whole = true;
    let at = 0;
    for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', at)) {
      const m = /^(\d{1,20}) (\d{1,20}|-)$/.exec(text.slice(at, end));
      at = end + 1;
      if (!m) {
        whole = false;
        continue;
      }
      lines++;
      if (m[2] === '-') map.delete(BigInt(m[1]!));
      else map.set(BigInt(m[1]!), BigInt(m[2]!));
    }
    return new OriginLog(path, map, whole && at === text.length ? lines : undefined);
  }

  get(upper: bigint): bigint | undefined {
    return this.map.get(upper);
  }

  has(upper: bigint): boolean {
    return this.map.has(upper);
  }

  /** Notes that the layer's `upper` is the image's `lower`; resolves once that is on disk. */
  set(upper: bigint, lower: bigint): Promise<void> {
    this.map.set(upper, lower);
    return this.append(`${upper} ${lower}\n`);
  }

  /** Forgets `upper` (its file is gone: the number may come back as a new file's); resolves once on disk. Nothing to do for one not noted. */
  delete(upper: bigint): Promise<void> {
    if (!this.map.delete(upper)) return Promise.resolve();
    return this.append(`${upper} -\n`);
  }

  /** Queues `line`; lines queued before the write that takes them starts go in one write and one sync. */
  private append(line: string): Promise<void> {
    this.pending += line;
    this.waiting ??= this.queue = this.queue
      .catch(() => undefined)
      .then(() => {
        const text = this.pending;
        this.pending = '';
        this.waiting = undefined;
        return this.write(text);
      });
    return this.waiting;
  }

  private async write(text: string): Promise<void> {
    const count = text.length - text.replaceAll('\n', '').length;
    try {
      if (this.lines === undefined || this.lines + count > 2 * this.map.size + SLACK) {
        // The map already holds every queued change: written whole, the queued lines are in it.
        let all = '';
        for (const [k, v] of this.map) all += `${k} ${v}\n`;
        await writeFileAtomic(this.path, all);
        this.lines = this.map.size;
        return;
      }
      const fh = await open(this.path, 'a');
      try {
        await fh.write(text);
        await fh.datasync();
      } finally {
        await fh.close();
      }
      this.lines += count;
    } catch (e) {
      // Part of the lines may be in the file, or none: the next write writes it whole.
      this.lines = undefined;
      throw e;
    }
  }
}
