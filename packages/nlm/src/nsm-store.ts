import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { MyId } from './nsm-wire.js';

/** A local program that asked (SM_MON) to hear when a peer restarts. */
export interface Monitor {
  myId: MyId;
  priv: Buffer;
}

/** A host the status monitor watches: told of our restarts, and whose restarts we act on. */
export interface Peer {
  name: string;
  /** The address it was last seen at: where its statd is asked for on our restart. */
  address: string;
  /** Our lock manager holds (or held) locks for it. */
  lockd: boolean;
  monitors: Monitor[];
}

/**
 * The status monitor's memory in the state directory, laid out like
 * rpc.statd's: `nsm/state` holds the state number, `nsm/sm/` one file per
 * monitored peer. Writes go to a temporary file, are synced and renamed,
 * so a crash leaves the old content or the new, never half of either.
 * Without a directory it all lives in memory.
 */
export class NsmStore {
  /** Writes one at a time: two may name the same temporary file. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly dir: string | undefined) {}

  static async open(stateDir: string | undefined): Promise<NsmStore> {
    const dir = stateDir === undefined ? undefined : join(stateDir, 'nsm');
    if (dir) await mkdir(join(dir, 'sm'), { recursive: true, mode: 0o700 });
    return new NsmStore(dir);
  }

  /** The state number of this start: one more than the last, made odd (up), and written before it is used. */
  async nextState(): Promise<number> {
    let last = 0;
    if (this.dir) {
      const text = await readFile(join(this.dir, 'state'), 'utf8').catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return '0';
        throw e;
      });
      last = Number.parseInt(text.trim(), 10);
      if (!Number.isSafeInteger(last) || last < 0) {
        throw new Error(`${join(this.dir, 'state')}: "${text.trim()}" is not a state number; remove the file to start again from 1`);
      }
    }
    return this.saveState(last % 2 === 0 ? last + 1 : last + 2);
  }

  async saveState(state: number): Promise<number> {
    // The wire field is a signed 32-bit int: wrap before it overflows, keeping it odd.
    const s = state > 0x7fffffff ? 1 : state;
    if (this.dir) await this.write('state', `${s}\n`);
    return s;
  }

  async loadPeers(): Promise<Peer[]> {
    if (!this.dir) return [];
    const out: Peer[] = [];
    for (const f of await readdir(join(this.dir, 'sm'))) {
      if (f.startsWith('.')) continue;
      try {
        const raw = JSON.parse(await readFile(join(this.dir, 'sm', f), 'utf8')) as {
          name: string;
          address: string;
          lockd: boolean;
          monitors: { myId: MyId; priv: string }[];
        };
        out.push({ ...raw, monitors: raw.monitors.map((m) => ({ myId: m.myId, priv: Buffer.from(m.priv, 'hex') })) });
      } catch {
        // A file someone else left there, or damaged: not a peer of ours.
      }
    }
    return out;
  }

  async savePeer(p: Peer): Promise<void> {
    if (!this.dir) return;
    const body = { ...p, monitors: p.monitors.map((m) => ({ myId: m.myId, priv: m.priv.toString('hex') })) };
    await this.write(join('sm', fileName(p.name)), `${JSON.stringify(body)}\n`);
  }

  async removePeer(name: string): Promise<void> {
    const dir = this.dir;
    if (!dir) return;
    const next = this.queue.then(() => rm(join(dir, 'sm', fileName(name)), { force: true }));
    this.queue = next.catch(() => {});
    await next;
  }

  private write(rel: string, text: string): Promise<void> {
    const next = this.queue.then(() => this.writeNow(rel, text));
    this.queue = next.catch(() => {});
    return next;
  }

  private async writeNow(rel: string, text: string): Promise<void> {
    const path = join(this.dir!, rel);
    const tmp = join(this.dir!, `.${rel.replace(/\//g, '_')}.tmp`);
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    // The rename is durable only once its directory is: a crash after a
    // reply that counted on the record must not bring back the old one.
    const dir = await open(dirname(path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}

/** A peer's name as a file name: any byte a name may hold, none that would leave the directory. */
function fileName(name: string): string {
  const f = encodeURIComponent(name).replace(/\./g, '%2E');
  // A long name (up to 1024 bytes on the wire) would pass NAME_MAX once escaped.
  return f.length <= 200 ? f : `~${createHash('sha256').update(name).digest('hex')}`;
}
