import { mkdir, readdir, readFile, rename, rm, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { GenerationBuilder, type BuildStats } from './generation-builder.js';
import { readTar } from './tar-parser.js';
import { walkDirectory } from './directory-source.js';
import { acquireLock } from './process-lock.js';
import { syncDir, syncFileSystem, writeFileAtomic } from './durable-files.js';

/** Which generation new boots get, and the ones promoted before it (for rollback). */
export interface ImageState {
  promoted: number;
  history: number[];
}

/** The state file: small, rewritten whole and atomically. */
export interface StoreState {
  images: Record<string, ImageState>;
}

export interface ImageInfo {
  name: string;
  generations: number[];
  promoted: number | undefined;
}

/** Where an import reads from: a directory tree, or a tar stream (plain or gzip, already decompressed). */
export type ImportSource = { kind: 'directory'; path: string } | { kind: 'tar'; stream: AsyncIterable<Uint8Array> };

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const GEN = /^[1-9][0-9]{0,8}$/;

/**
 * Images and their generations under `STATE_DIR/images/NAME/GEN/`. A
 * generation is built in `NAME/.tmp-GEN-RANDOM/`, flushed, then renamed to
 * its number, so it appears whole or not at all; it is never changed after.
 */
export class ImageStore {
  readonly imagesDir: string;

  constructor(readonly stateDir: string) {
    this.imagesDir = join(stateDir, 'images');
  }

  generationPath(name: string, gen: number): string {
    checkName(name);
    return join(this.imagesDir, name, String(gen));
  }

  async import(name: string, source: ImportSource): Promise<{ generation: number; previous: number | undefined; stats: BuildStats }> {
    checkName(name);
    const dir = join(this.imagesDir, name);
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const unlock = await acquireLock(join(dir, '.lock'), `an import of image "${name}"`);
    try {
      await this.removeLeftovers(dir);
      const gens = await this.generations(name);
      const previous = gens.at(-1);
      const generation = (previous ?? 0) + 1;
      const tmp = join(dir, `.tmp-${generation}-${randomBytes(6).toString('hex')}`);
      await mkdir(tmp, 0o700);
      const builder = new GenerationBuilder(tmp, previous === undefined ? undefined : join(dir, String(previous)));
      try {
        await builder.apply(source.kind === 'tar' ? readTar(source.stream) : walkDirectory(source.path));
        await builder.finish();
        await syncFileSystem(tmp);
        await rename(tmp, join(dir, String(generation)));
        await syncDir(dir);
      } catch (err) {
        await builder.abort();
        await rm(tmp, { recursive: true, force: true });
        throw err;
      }
      if (previous === undefined) await this.updateState((s) => void (s.images[name] = { promoted: generation, history: [] }));
      return { generation, previous, stats: builder.stats };
    } finally {
      await unlock();
    }
  }

  async list(): Promise<ImageInfo[]> {
    const names = (await readdir(this.imagesDir, { withFileTypes: true }).catch(() => []))
      .filter((d) => d.isDirectory() && NAME.test(d.name))
      .map((d) => d.name)
      .sort();
    const state = await this.readState();
    const out: ImageInfo[] = [];
    for (const name of names) out.push({ name, generations: await this.generations(name), promoted: state.images[name]?.promoted });
    return out;
  }

  /** Makes `gen` the generation new boots of `name` get. */
  async promote(name: string, gen: number): Promise<void> {
    checkName(name);
    if (!(await this.generations(name)).includes(gen)) throw new Error(`image "${name}" has no generation ${gen} (see "netboot image list")`);
    await this.updateState((s) => {
      const cur = s.images[name];
      if (cur?.promoted === gen) return;
      s.images[name] = { promoted: gen, history: cur ? [...cur.history, cur.promoted].slice(-100) : [] };
    });
  }

  /** Promotes again the generation promoted before the current one; returns it. */
  async rollback(name: string): Promise<number> {
    checkName(name);
    let back = 0;
    await this.updateState((s) => {
      const cur = s.images[name];
      const prev = cur?.history.at(-1);
      if (!cur || prev === undefined) throw new Error(`image "${name}" has no earlier promoted generation to roll back to`);
      s.images[name] = { promoted: prev, history: cur.history.slice(0, -1) };
      back = prev;
    });
    return back;
  }

  /** The generation new boots of `name` get. */
  async promoted(name: string): Promise<number | undefined> {
    checkName(name);
    return (await this.readState()).images[name]?.promoted;
  }

  /** Finished generations of an image, ascending. */
  async generations(name: string): Promise<number[]> {
    const entries = await readdir(join(this.imagesDir, name)).catch(() => [] as string[]);
    return entries
      .filter((n) => GEN.test(n))
      .map(Number)
      .sort((a, b) => a - b);
  }

  async readState(): Promise<StoreState> {
    const text = await readFile(join(this.imagesDir, '.state.json'), 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return '{"images":{}}';
      throw err;
    });
    try {
      const s = JSON.parse(text) as StoreState;
      if (typeof s !== 'object' || s === null || typeof s.images !== 'object') throw new Error('no "images" object');
      return s;
    } catch (err) {
      throw new Error(`${join(this.imagesDir, '.state.json')}: ${(err as Error).message}; restore it from a backup or remove it to start over`);
    }
  }

  private async updateState(change: (s: StoreState) => void): Promise<void> {
    await mkdir(this.imagesDir, { recursive: true, mode: 0o755 });
    const unlock = await acquireLock(join(this.imagesDir, '.state.lock'), 'a change of the image state');
    try {
      const s = await this.readState();
      change(s);
      await writeFileAtomic(join(this.imagesDir, '.state.json'), `${JSON.stringify(s, null, 2)}\n`);
    } finally {
      await unlock();
    }
  }

  /** Half-built generations of an import that died (kill -9, power loss): ours to remove, as we hold the image's lock. */
  private async removeLeftovers(dir: string): Promise<void> {
    for (const n of await readdir(dir)) {
      if (!n.startsWith('.tmp-')) continue;
      const st = await lstat(join(dir, n));
      if (st.isDirectory()) await rm(join(dir, n), { recursive: true, force: true });
    }
  }
}

function checkName(name: string): void {
  if (!NAME.test(name)) throw new Error(`image name "${name}" must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit`);
}
