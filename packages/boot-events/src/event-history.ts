import { open, rename, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { DHCP_MESSAGES, EVENT_KINDS, type BootEvent } from './boot-event.js';

export interface EventHistoryOptions {
  /** Events kept, in memory and (after compaction) on disk (default 20,000). */
  maxEvents?: number;
}

/** Longest line read back; longer ones are not events this package wrote. */
const MAX_LINE = 4096;
/** Bytes of an old file read at start: its tail, enough for maxEvents lines of MAX_LINE. */
const maxReadBytes = (maxEvents: number) => maxEvents * MAX_LINE;

/**
 * The last events, kept in memory and appended to a JSON-lines file so a
 * restart keeps them. On open the file is read back (bad lines skipped and
 * counted), cut to the newest `maxEvents` and rewritten; while running it
 * grows by appends and is rewritten the same way once it holds twice the
 * bound, so it never holds more than that.
 */
export class EventHistory {
  private readonly ring: BootEvent[];
  private readonly max: number;
  private onDisk: number;
  private writing: Promise<void> = Promise.resolve();
  private pending: string[] = [];
  private closed = false;

  private constructor(
    readonly file: string,
    private handle: FileHandle,
    events: BootEvent[],
    max: number,
  ) {
    this.ring = events;
    this.max = max;
    this.onDisk = events.length;
  }

  /** Reads the file (missing is empty), compacts it and opens it for appending. */
  static async open(file: string, opts: EventHistoryOptions = {}): Promise<{ history: EventHistory; events: BootEvent[]; skipped: number }> {
    const max = Math.max(1, opts.maxEvents ?? 20_000);
    let text = '';
    const size = await stat(file).then((s) => s.size, () => -1);
    if (size > 0) {
      const want = Math.min(size, maxReadBytes(max));
      const h = await open(file, 'r');
      try {
        const buf = Buffer.allocUnsafe(want);
        const { bytesRead } = await h.read(buf, 0, want, size - want);
        text = buf.toString('utf8', 0, bytesRead);
        // A tail read starts mid-line: that partial line is not an event.
        if (want < size) text = text.slice(text.indexOf('\n') + 1);
      } finally {
        await h.close();
      }
    }
    const { events, skipped } = parseHistory(text);
    const kept = events.slice(-max);
    const tmp = `${file}.tmp`;
    await writeFile(tmp, kept.map((e) => `${JSON.stringify(e)}\n`).join(''), { mode: 0o600 });
    await rename(tmp, file);
    const handle = await open(file, 'a');
    return { history: new EventHistory(file, handle, [...kept], max), events: kept, skipped };
  }

  /** The events kept, oldest first (a copy). */
  events(): BootEvent[] {
    return [...this.ring];
  }

  /** Records one event: in memory now, on disk shortly (writes are batched). */
  append(e: BootEvent): void {
    if (this.closed) return;
    this.ring.push(e);
    if (this.ring.length > this.max) this.ring.splice(0, this.ring.length - this.max);
    this.pending.push(`${JSON.stringify(e)}\n`);
    if (this.pending.length === 1) this.writing = this.writing.then(() => this.flush());
  }

  private async flush(): Promise<void> {
    const lines = this.pending;
    this.pending = [];
    if (lines.length === 0) return;
    try {
      if (this.onDisk + lines.length > 2 * this.max) {
        await this.handle.close();
        const tmp = `${this.file}.tmp`;
        await writeFile(tmp, this.ring.map((e) => `${JSON.stringify(e)}\n`).join(''), { mode: 0o600 });
        await rename(tmp, this.file);
        this.handle = await open(this.file, 'a');
        this.onDisk = this.ring.length;
      } else {
        await this.handle.write(lines.join(''));
        this.onDisk += lines.length;
      }
    } catch {
      // The history is a convenience: a full disk must not stop the boot services.
    }
  }

  /** Writes what is pending and closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.writing = this.writing.then(() => this.flush());
    await this.writing;
    await this.handle.close();
  }
}

/** Events from JSON lines; a line that is not a well-formed event is skipped and counted. */
export function parseHistory(text: string): { events: BootEvent[]; skipped: number } {
  const events: BootEvent[] = [];
  let skipped = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const e = line.length <= MAX_LINE ? parseEvent(line) : undefined;
    if (e) events.push(e);
    else skipped++;
  }
  return { events, skipped };
}

function parseEvent(line: string): BootEvent | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.kind !== 'string' || !EVENT_KINDS.has(o.kind as BootEvent['kind']) || typeof o.at !== 'number' || !Number.isFinite(o.at)) return undefined;
  if (o.kind === 'dhcp') {
    if (typeof o.mac !== 'string' || !DHCP_MESSAGES.includes(o.message as never)) return undefined;
  } else if (typeof o.ip !== 'string') {
    return undefined;
  }
  if ((o.kind === 'file-request' || o.kind === 'file-done') && typeof o.file !== 'string') return undefined;
  if (o.kind === 'mount' && typeof o.path !== 'string') return undefined;
  return o as unknown as BootEvent;
}
