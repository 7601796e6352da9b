import { NfsError, NfsStat, type AttrChange, type ExportFs, type FsAttrs, type FsObject, type FsStat, type NewOwner, type NodeKind, type Stability } from '@netboot/nfs3';
import type { OverlayFs } from './overlay-fs.js';

/** An object of a node's root: the overlay's object, with the image generation it was handed out on as its handle's generation. */
class GenerationObject implements FsObject {
  readonly generation: bigint;
  constructor(
    readonly inner: FsObject,
    /** The boot's root it came from: an object outlives its boot only as a handle, which is resolved again. */
    readonly from: BootedRoot,
    /** `from`'s generation, made a bigint once a boot (NodeRootFs.currentGeneration), not once an object. */
    generation: bigint,
  ) {
    this.generation = generation;
  }
  get fileid(): bigint {
    return this.inner.fileid;
  }
  get attrs(): FsAttrs {
    return this.inner.attrs;
  }
}

/** The generation a node runs and its merged root on it. */
export interface BootedRoot {
  generation: number;
  fs: OverlayFs;
}

/**
 * An image-backed node's root across its boots. It serves the merged root
 * of the generation the node booted; every handle names that generation,
 * so a handle from before the node's last boot is STALE rather than
 * another generation's file. The node's MOUNT of its root is its boot
 * (`mounted`): `boot` decides which generation that boot gets (its pin or
 * the promoted one) and applies what waits for a boot (reset, rebase).
 * Promoting a generation changes nothing under a running node.
 */
export class NodeRootFs implements ExportFs {
  private queue: Promise<unknown> = Promise.resolve();
  /** `current.generation` as handles carry it: every call compares it, and every object carries it. */
  private currentGeneration: bigint;

  constructor(
    readonly ip: string,
    private current: BootedRoot,
    private readonly boot: (current: BootedRoot) => Promise<BootedRoot | undefined>,
  ) {
    this.currentGeneration = BigInt(current.generation);
  }

  /** The generation the node runs. */
  get generation(): number {
    return this.current.generation;
  }

  /** For logs. */
  describe(): string {
    return `generation ${this.current.generation}: ${this.current.fs.describe()}`;
  }

  /** Only the node's own MOUNT is its boot; MOUNTs are taken one at a time (a client retransmits MNT). */
  mounted(client: string): Promise<boolean> {
    const address = client.startsWith('::ffff:') ? client.slice(7) : client;
    if (address !== this.ip) return Promise.resolve(false);
    const next = this.queue.then(async () => {
      const booted = await this.boot(this.current);
      if (!booted) return false;
      this.current.fs.close();
      this.current = booted;
      this.currentGeneration = BigInt(booted.generation);
      return true;
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  private wrap(o: FsObject): GenerationObject {
    return new GenerationObject(o, this.current, this.currentGeneration);
  }

  /** The overlay object behind one of ours; STALE for an object of a generation the node no longer runs. */
  private inner(o: FsObject): FsObject {
    const g = o as GenerationObject;
    if (g.from !== this.current) throw new NfsError(NfsStat.STALE, `a handle of generation ${g.generation}, from before ${this.ip} booted generation ${this.current.generation}`);
    return g.inner;
  }

  async root(): Promise<FsObject> {
    return this.wrap(await this.current.fs.root());
  }

  async resolve(fileid: bigint, generation: bigint): Promise<FsObject> {
    if (generation !== this.currentGeneration) throw new NfsError(NfsStat.STALE, `a handle of generation ${generation}, from before ${this.ip} booted generation ${this.current.generation}`);
    return this.wrap(await this.current.fs.resolve(fileid, 0n));
  }

  resolveNow(fileid: bigint, generation: bigint): FsObject | undefined {
    if (generation !== this.currentGeneration) return undefined;
    const o = this.current.fs.resolveNow(fileid, 0n);
    return o && this.wrap(o);
  }

  async lookup(dir: FsObject, name: Buffer): Promise<FsObject> {
    return this.wrap(await this.current.fs.lookup(this.inner(dir), name));
  }

  lookupNow(dir: FsObject, name: Buffer): FsObject | undefined {
    const g = dir as GenerationObject;
    // A directory of a generation the node no longer runs: lookup() answers STALE.
    if (g.from !== this.current) return undefined;
    const o = this.current.fs.lookupNow(g.inner, name);
    return o && this.wrap(o);
  }

  /** READDIRPLUS's entries from the overlay's batch (one look at the directory in each layer per slice), not a LOOKUP per name. */
  async lookupNames(dir: FsObject, names: readonly string[]): Promise<(FsObject | undefined)[]> {
    return (await this.current.fs.lookupNames(this.inner(dir), names)).map((o) => o && this.wrap(o));
  }

  async getattr(obj: FsObject): Promise<FsAttrs> {
    return this.current.fs.getattr(this.inner(obj));
  }

  async setattr(obj: FsObject, change: AttrChange): Promise<void> {
    return this.current.fs.setattr(this.inner(obj), change);
  }

  async read(obj: FsObject, buf: Buffer, at: number, count: number, position: number): Promise<number> {
    return this.current.fs.read(this.inner(obj), buf, at, count, position);
  }

  readNow(obj: FsObject, buf: Buffer, at: number, count: number, position: number, alone = false): number {
    const g = obj as GenerationObject;
    // An object of a generation the node no longer runs: read() answers STALE.
    return g.from === this.current ? this.current.fs.readNow(g.inner, buf, at, count, position, alone) : -1;
  }

  fileNow(obj: FsObject, position: number, count: number): number | undefined {
    const g = obj as GenerationObject;
    return g.from === this.current ? this.current.fs.fileNow(g.inner, position, count) : undefined;
  }

  async write(obj: FsObject, data: Buffer, position: number, stable: Stability): Promise<FsAttrs> {
    return this.current.fs.write(this.inner(obj), data, position, stable);
  }

  async commit(obj: FsObject): Promise<void> {
    return this.current.fs.commit(this.inner(obj));
  }

  async create(dir: FsObject, name: Buffer, owner: NewOwner, exclusiveTimes?: { atime: number; mtime: number }): Promise<FsObject> {
    return this.wrap(await this.current.fs.create(this.inner(dir), name, owner, exclusiveTimes));
  }

  async mkdir(dir: FsObject, name: Buffer, owner: NewOwner): Promise<FsObject> {
    return this.wrap(await this.current.fs.mkdir(this.inner(dir), name, owner));
  }

  async symlink(dir: FsObject, name: Buffer, target: Buffer, owner: NewOwner): Promise<FsObject> {
    return this.wrap(await this.current.fs.symlink(this.inner(dir), name, target, owner));
  }

  async mknod(dir: FsObject, name: Buffer, kind: NodeKind, major: number, minor: number, owner: NewOwner): Promise<FsObject> {
    return this.wrap(await this.current.fs.mknod(this.inner(dir), name, kind, major, minor, owner));
  }

  async link(obj: FsObject, dir: FsObject, name: Buffer): Promise<void> {
    return this.current.fs.link(this.inner(obj), this.inner(dir), name);
  }

  async rename(fromDir: FsObject, fromName: Buffer, toDir: FsObject, toName: Buffer): Promise<void> {
    return this.current.fs.rename(this.inner(fromDir), fromName, this.inner(toDir), toName);
  }

  async remove(dir: FsObject, name: Buffer, isDir: boolean): Promise<void> {
    return this.current.fs.remove(this.inner(dir), name, isDir);
  }

  async readdir(dir: FsObject, cookie: bigint, verf: Buffer): Promise<{ verf: Buffer; names: string[] }> {
    return this.current.fs.readdir(this.inner(dir), cookie, verf);
  }

  async readlink(obj: FsObject): Promise<Buffer> {
    return this.current.fs.readlink(this.inner(obj));
  }

  async statfs(obj: FsObject): Promise<FsStat> {
    return this.current.fs.statfs(this.inner(obj));
  }

  forgetCached(): void {
    this.current.fs.forgetCached();
  }

  close(): void {
    this.current.fs.close();
  }
}
