import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isIPv4 } from 'node:net';
import { writeFileAtomic } from './durable-files.js';
import { ImageStore } from './image-store.js';
import { OverlayFs } from './overlay-fs.js';

/** A node whose root is an image generation under its own writable layer. */
export interface NodeRecord {
  ip: string;
  image: string;
  /** The exported path that is this node's root (DISKLESS_ROOT/IP). */
  root: string;
  /** A generation pinned for this node; otherwise the image's promoted one when the root is opened. */
  generation?: number;
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
    return OverlayFs.open(this.store.generationPath(rec.image, gen), join(dir, 'upper'), join(dir, 'origins.json'));
  }
}
