import { lstat, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { isIPv4 } from 'node:net';
import { writeFileAtomic } from './durable-files.js';
import { ImageStore } from './image-store.js';
import { OverlayFs, OPAQUE } from './overlay-fs.js';

/** A node whose root is an image generation under its own writable layer. */
export interface NodeRecord {
  ip: string;
  image: string;
  /** The exported path that is this node's root (DISKLESS_ROOT/IP). */
  root: string;
  /** A generation pinned for this node; otherwise the image's promoted one when the root is opened. */
  generation?: number;
  /** Files the node's layer starts with (etc/hostname, etc/fstab), written again after a reset. */
  seed?: Record<string, string>;
  /** Set by `node reset`: the layer is dropped when the root is next opened (the server's next start). */
  resetPending?: boolean;
}

/** One difference of a node's layer against its image, as `node diff` prints it. */
export interface LayerChange {
  /** A: only in the layer; M: copied up from the image (changed or touched); D: deleted (whiteout); R: a directory replacing the image's. */
  kind: 'A' | 'M' | 'D' | 'R';
  path: string;
}

/**
 * Image-backed node roots under `STATE_DIR/nodes/IP/`: `node.json` (the
 * record), `upper/` (the node's layer) and `origins.json` (identities kept
 * across copy-up). Read afresh on every open, so a server reloading its
 * exports (SIGHUP) serves nodes added since it started.
 */
export class NodeRoots {
  readonly store: ImageStore;
  readonly nodesDir: string;

  constructor(readonly stateDir: string) {
    this.store = new ImageStore(stateDir);
    this.nodesDir = join(stateDir, 'nodes');
  }

  async add(rec: NodeRecord): Promise<void> {
    if (!isIPv4(rec.ip)) throw new Error(`node address must be IPv4, not "${rec.ip}"`);
    if ((await this.store.promoted(rec.image)) === undefined) throw new Error(`image "${rec.image}" has no promoted generation; import it first with "netboot image import ${rec.image} SOURCE"`);
    const dir = join(this.nodesDir, rec.ip);
    await mkdir(join(dir, 'upper'), { recursive: true, mode: 0o755 });
    await writeFileAtomic(join(dir, 'node.json'), `${JSON.stringify(rec, null, 2)}\n`);
  }

  async get(ip: string): Promise<NodeRecord> {
    const rec = (await this.list()).find((r) => r.ip === ip);
    if (!rec) throw new Error(`${ip} is not an image-backed node under ${this.nodesDir} (add it with "netboot add-node ${ip} --mac MAC --image NAME")`);
    return rec;
  }

  private async save(rec: NodeRecord): Promise<void> {
    await writeFileAtomic(join(this.nodesDir, rec.ip, 'node.json'), `${JSON.stringify(rec, null, 2)}\n`);
  }

  /** Pins the node to a generation of its image (a canary), or unpins it with undefined; it takes effect when the root is next opened. */
  async pin(ip: string, generation: number | undefined): Promise<void> {
    const rec = await this.get(ip);
    if (generation !== undefined && !(await this.store.generations(rec.image)).includes(generation)) {
      throw new Error(`image "${rec.image}" has no generation ${generation} (see "netboot image list")`);
    }
    await this.save({ ...rec, generation });
  }

  /** Marks the node's layer to be dropped when its root is next opened. */
  async reset(ip: string): Promise<void> {
    await this.save({ ...(await this.get(ip)), resetPending: true });
  }

  /** What the node's layer changes against its image, sorted by path. */
  async diff(ip: string): Promise<LayerChange[]> {
    const rec = await this.get(ip);
    const gen = rec.generation ?? (await this.store.promoted(rec.image));
    const lower = this.store.generationPath(rec.image, gen!);
    const upper = join(this.nodesDir, ip, 'upper');
    const out: LayerChange[] = [];
    const walk = async (rel: string): Promise<void> => {
      for (const name of (await readdir(join(upper, rel))).sort()) {
        if (name === OPAQUE) continue;
        const r = rel === '' ? name : `${rel}/${name}`;
        const st = await lstat(join(upper, r));
        const inImage = await lstat(join(lower, r)).then(() => true, () => false);
        if (st.isCharacterDevice() && st.rdev === 0) out.push({ kind: 'D', path: r });
        else if (st.isDirectory()) {
          const opaque = await lstat(join(upper, r, OPAQUE)).then(() => true, () => false);
          if (!inImage) out.push({ kind: 'A', path: r });
          else if (opaque) out.push({ kind: 'R', path: r });
          await walk(r);
        } else out.push({ kind: inImage ? 'M' : 'A', path: r });
      }
    };
    await walk('');
    return out;
  }

  async list(): Promise<NodeRecord[]> {
    const out: NodeRecord[] = [];
    for (const ip of await readdir(this.nodesDir).catch(() => [] as string[])) {
      if (!isIPv4(ip)) continue;
      const text = await readFile(join(this.nodesDir, ip, 'node.json'), 'utf8').catch(() => undefined);
      if (text !== undefined) out.push(JSON.parse(text) as NodeRecord);
    }
    return out;
  }

  /** The merged root of the node whose root is `exportPath`, or undefined when no image-backed node has it. */
  async open(exportPath: string): Promise<OverlayFs | undefined> {
    const rec = (await this.list()).find((r) => r.root === exportPath);
    if (!rec) return undefined;
    const gen = rec.generation ?? (await this.store.promoted(rec.image));
    if (gen === undefined) throw new Error(`node ${rec.ip}: image "${rec.image}" has no promoted generation`);
    const dir = join(this.nodesDir, rec.ip);
    if (rec.resetPending) {
      // Renamed first so a crash mid-removal leaves no half layer in use.
      const trash = join(dir, `.dropped-${randomBytes(4).toString('hex')}`);
      await rename(join(dir, 'upper'), trash).catch(() => {});
      await rm(join(dir, 'origins.json'), { force: true });
      await rm(trash, { recursive: true, force: true });
    }
    const fs = await OverlayFs.open(this.store.generationPath(rec.image, gen), join(dir, 'upper'), join(dir, 'origins.json'));
    if (rec.resetPending) {
      for (const [path, text] of Object.entries(rec.seed ?? {})) await fs.writeFile(path, Buffer.from(text));
      await this.save({ ...rec, resetPending: undefined });
    }
    return fs;
  }
}
