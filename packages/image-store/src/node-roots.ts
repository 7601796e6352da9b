import { lstat, mkdir, readdir, readFile, readlink, rename, rm, writeFile } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, join } from 'node:path';
import { isIPv4 } from 'node:net';
import { writeFileAtomic } from './durable-files.js';
import { ImageStore } from './image-store.js';
import { OverlayFs, OPAQUE } from './overlay-fs.js';
import { NodeRootFs, type BootedRoot } from './node-root-fs.js';
import { withRecordLock } from './record-lock.js';

/** A node whose root is an image generation under its own writable layer. */
export interface NodeRecord {
  ip: string;
  image: string;
  /** The exported path that is this node's root (DISKLESS_ROOT/IP). */
  root: string;
  /** A generation pinned for this node (a canary); otherwise its boots get the image's promoted one. */
  generation?: number;
  /** The generation the node runs: the one its last boot (its MOUNT of the root) got. */
  booted?: number;
  /** When that boot was, in ms since the epoch (the later of this field and the node's `booted-at` file: see noteBoot). */
  bootedAt?: number;
  /** Files the node's layer starts with (etc/hostname, etc/fstab), written again after a reset. */
  seed?: Record<string, string>;
  /** Set by `node reset`: the layer is dropped at the node's next boot. */
  resetPending?: boolean;
  /** Set by `node rebase`: at the node's next boot, these layer entries (conflicts resolved for the image) are dropped. */
  rebase?: { from: number; to: number; take: string[] };
}

/** What `node rebase` found: the node's layer entries whose image file also changed between the two generations. */
export interface RebasePlan {
  from: number;
  to: number;
  conflicts: string[];
  /** False when conflicts stopped it (no resolution given): nothing was changed. */
  applied: boolean;
}

/** How `node rebase` settles conflicts: the node's version stays over the new generation, or the generation's replaces it. */
export type RebaseResolution = 'keep-node' | 'take-image';

/** A node's generations, as status and image list show them. */
export interface NodeGeneration {
  ip: string;
  image: string;
  /** What it runs: the generation its last boot got (or, never booted, the one its first boot will get). */
  generation: number;
  /** What its next boot gets: its pin, or the promoted generation. */
  next: number;
  promoted: number;
  pinned: boolean;
  bootedAt?: number;
}

const MAX_COMPARE = 200_000;
/** When the node last booted, beside its record (see NodeRoots.noteBoot). */
const BOOTED_AT = 'booted-at';
/** The node's origins (origin-log.ts), and the file they were kept in before. */
const ORIGINS = 'origins.log';
const OLD_ORIGINS = 'origins.json';

/** One difference of a node's layer against its image, as `node diff` prints it. */
export interface LayerChange {
  /** A: only in the layer; M: copied up from the image (changed or touched); D: deleted (whiteout); R: a directory replacing the image's. */
  kind: 'A' | 'M' | 'D' | 'R';
  path: string;
}

/**
 * Image-backed node roots under `STATE_DIR/nodes/IP/`: `node.json` (the
 * record), `upper/` (the node's layer), `origins.log` (identities kept
 * across copy-up: origin-log.ts), `booted-at` (when the node last booted) and
 * `node.lock`. Read afresh on every open, so a server reloading its
 * exports (SIGHUP) serves nodes added since it started. Every change of a
 * record (add, pin, reset, rebase, and the server recording a boot onto
 * another generation) reads and writes it back under `node.lock`
 * (record-lock.ts), so changes from the CLI and from the server, which
 * are other processes, never undo each other.
 */
export class NodeRoots {
  readonly store: ImageStore;
  readonly nodesDir: string;

  /**
   * `opts.directReadMax`, `opts.directWrites`: see OverlayFs.open (the roots an NFS worker thread serves copy cached
   * READs of any size, and WRITE data, there).
   */
  constructor(
    readonly stateDir: string,
    private readonly opts: { directReadMax?: number; directWrites?: boolean } = {},
  ) {
    this.store = new ImageStore(stateDir);
    this.nodesDir = join(stateDir, 'nodes');
  }

  async add(rec: NodeRecord): Promise<void> {
    if (!isIPv4(rec.ip)) throw new Error(`node address must be IPv4, not "${rec.ip}"`);
    if ((await this.store.promoted(rec.image)) === undefined) throw new Error(`image "${rec.image}" has no promoted generation; import it first with "netboot image import ${rec.image} SOURCE"`);
    const dir = join(this.nodesDir, rec.ip);
    await mkdir(join(dir, 'upper'), { recursive: true, mode: 0o755 });
    await this.locked(rec.ip, () => this.save(rec));
  }

  /** The node's record: its own file only (a boot reads it twice; a server may hold thousands of nodes). */
  async get(ip: string): Promise<NodeRecord> {
    const notANode = () => new Error(`${ip} is not an image-backed node under ${this.nodesDir} (add it with "netboot add-node ${ip} --mac MAC --image NAME")`);
    if (!isIPv4(ip)) throw notANode();
    const text = await readFile(join(this.nodesDir, ip, 'node.json'), 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') throw notANode();
      throw err;
    });
    return this.withBootTime(JSON.parse(text) as NodeRecord);
  }

  /** The record with `bootedAt` from the node's `booted-at` file where that is later (see noteBoot). */
  private async withBootTime(rec: NodeRecord): Promise<NodeRecord> {
    const noted = Number(await readFile(join(this.nodesDir, rec.ip, BOOTED_AT), 'utf8').catch(() => ''));
    return Number.isSafeInteger(noted) && noted > (rec.bootedAt ?? 0) ? { ...rec, bootedAt: noted } : rec;
  }

  /**
   * Notes when a boot that changed nothing else was (the node booted the generation its record already
   * says it runs): in `booted-at` beside the record, replaced by a rename (a reader never sees a part),
   * not synced and with no lock. Nothing rests on it but `status` showing the time: a boot that changes what
   * the node runs is written to the record itself, durably and under its lock, since a generation in use
   * must never be deleted. So the common MOUNT (the node reboots onto what it ran) costs no fsync and no lock.
   */
  private async noteBoot(ip: string, at: number): Promise<void> {
    const path = join(this.nodesDir, ip, BOOTED_AT);
    const tmp = `${path}.tmp-${randomBytes(4).toString('hex')}`;
    await writeFile(tmp, String(at), { mode: 0o644 });
    await rename(tmp, path).catch(async (err: unknown) => {
      await rm(tmp, { force: true });
      throw err;
    });
  }

  /** `fn` holding the node's record lock; the node must exist. */
  private async locked<T>(ip: string, fn: () => Promise<T>): Promise<T> {
    if (!isIPv4(ip)) await this.get(ip);
    return withRecordLock(join(this.nodesDir, ip, 'node.lock'), `a change of node ${ip}'s record`, fn).catch(async (err: NodeJS.ErrnoException) => {
      // No node directory to hold the lock in: say which node is missing.
      if (err.code === 'ENOENT') await this.get(ip);
      throw err;
    });
  }

  private async save(rec: NodeRecord): Promise<void> {
    await writeFileAtomic(join(this.nodesDir, rec.ip, 'node.json'), `${JSON.stringify(rec, null, 2)}\n`);
  }

  /** Pins the node to a generation of its image (a canary), or unpins it with undefined; its next boot gets it. */
  async pin(ip: string, generation: number | undefined): Promise<void> {
    await this.locked(ip, async () => {
      const rec = await this.get(ip);
      if (generation !== undefined && !(await this.store.generations(rec.image)).includes(generation)) {
        throw new Error(`image "${rec.image}" has no generation ${generation} (see "netboot image list")`);
      }
      await this.save({ ...rec, generation });
    });
  }

  /** Marks the node's layer to be dropped at its next boot. */
  async reset(ip: string): Promise<void> {
    await this.locked(ip, async () => this.save({ ...(await this.get(ip)), resetPending: true }));
  }

  /** The generation the node's next boot gets: its pin, or the image's promoted one. */
  async target(rec: NodeRecord): Promise<number> {
    const gen = rec.generation ?? (await this.store.promoted(rec.image));
    if (gen === undefined) throw new Error(`node ${rec.ip}: image "${rec.image}" has no promoted generation`);
    return gen;
  }

  /** The generation the node runs: the one it booted, or (never booted since it was added) the one it will boot. */
  async running(rec: NodeRecord): Promise<number> {
    return rec.booted ?? (await this.target(rec));
  }

  /**
   * Checks the node's layer against generation `to` (default: the promoted
   * one) and, unless conflicts stop it, makes the node's next boot get `to`
   * with its layer over it: pinned to `to` when given, else following the
   * promoted generation. A conflict is an entry of the layer (a file the
   * node made, changed or deleted) whose image file differs between the
   * generation the node runs and `to`. With conflicts and no resolution,
   * nothing changes.
   */
  async rebase(ip: string, to: number | undefined, resolution?: RebaseResolution): Promise<RebasePlan> {
    const rec = await this.get(ip);
    const from = await this.running(rec);
    const target = to ?? (await this.store.promoted(rec.image))!;
    if (!(await this.store.generations(rec.image)).includes(target)) throw new Error(`image "${rec.image}" has no generation ${target} (see "netboot image list")`);
    const a = this.store.generationPath(rec.image, from);
    const b = this.store.generationPath(rec.image, target);
    const budget = { left: MAX_COMPARE };
    const conflicts: string[] = [];
    if (from !== target) for (const c of await this.diff(ip)) if (!(await sameEntry(a, b, c.path, c.kind === 'R', budget))) conflicts.push(c.path);
    if (conflicts.length > 0 && !resolution) return { from, to: target, conflicts, applied: false };
    await this.locked(ip, async () => {
      // Checked against the generation the node ran when the compare began: a boot onto another since then makes the plan stale.
      const latest = await this.get(ip);
      const now = await this.running(latest);
      if (now !== from) throw new Error(`node ${ip} went from generation ${from} to ${now} while its changes were compared: run "netboot node rebase" again`);
      await this.save({ ...latest, generation: to, rebase: { from, to: target, take: resolution === 'take-image' ? conflicts : [] } });
    });
    return { from, to: target, conflicts, applied: true };
  }

  /** What the node's layer changes against the generation it runs, sorted by path. */
  async diff(ip: string): Promise<LayerChange[]> {
    const rec = await this.get(ip);
    const lower = this.store.generationPath(rec.image, await this.running(rec));
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
      if (text !== undefined) out.push(await this.withBootTime(JSON.parse(text) as NodeRecord));
    }
    return out;
  }

  /**
   * Which generation each node runs and which its next boot gets: a
   * generation listed here (as either) is in use and must be kept.
   */
  async generationsInUse(): Promise<NodeGeneration[]> {
    const out: NodeGeneration[] = [];
    for (const rec of await this.list()) {
      const promoted = await this.store.promoted(rec.image);
      if (promoted === undefined) continue;
      const next = rec.generation ?? promoted;
      out.push({ ip: rec.ip, image: rec.image, generation: rec.booted ?? next, next, promoted, pinned: rec.generation !== undefined, bootedAt: rec.bootedAt });
    }
    return out.sort((a, b) => a.ip.localeCompare(b.ip, 'en', { numeric: true }));
  }

  /** Writes the files the node's layer starts with (add-node's hostname and fstab) over the generation its next boot gets. */
  async seed(ip: string): Promise<void> {
    const rec = await this.get(ip);
    const dir = join(this.nodesDir, ip);
    const fs = await OverlayFs.open(this.store.generationPath(rec.image, await this.running(rec)), join(dir, 'upper'), await originsOf(dir));
    for (const [path, text] of Object.entries(rec.seed ?? {})) await fs.writeFile(path, Buffer.from(text));
    fs.close();
  }

  /**
   * The root of the node whose root is `exportPath`, or undefined when no
   * image-backed node has it: the generation the node runs, until its next
   * MOUNT of the root (its next boot) switches it (see NodeRootFs).
   */
  async open(exportPath: string): Promise<NodeRootFs | undefined> {
    const rec = await this.nodeOf(exportPath);
    if (!rec) return undefined;
    const generation = await this.running(rec);
    const fs = await this.overlay(rec, generation);
    return new NodeRootFs(rec.ip, { generation, fs }, (cur) => this.boot(rec.ip, cur));
  }

  /**
   * The node whose root is `exportPath`: add-node names a root DISKLESS_ROOT/IP, so the record of its last
   * component is read first; only another path lists every node (a server opening each of N roots
   * would otherwise read N records for each).
   */
  private async nodeOf(exportPath: string): Promise<NodeRecord | undefined> {
    const guess = basename(exportPath);
    if (isIPv4(guess)) {
      const rec = await this.get(guess).catch(() => undefined);
      if (rec?.root === exportPath) return rec;
    }
    return (await this.list()).find((r) => r.root === exportPath);
  }

  private async overlay(rec: NodeRecord, generation: number): Promise<OverlayFs> {
    const dir = join(this.nodesDir, rec.ip);
    return OverlayFs.open(this.store.generationPath(rec.image, generation), join(dir, 'upper'), await originsOf(dir), { directReadMax: this.opts.directReadMax, directWrites: this.opts.directWrites });
  }

  /**
   * A boot of the node (its MOUNT of its root): records it, and when the
   * boot gets another generation than the node ran, or a reset or rebase
   * waits, returns the root to serve from now on. The old root is not
   * used again: its handles go STALE.
   */
  private async boot(ip: string, cur: BootedRoot): Promise<BootedRoot | undefined> {
    const at = Date.now();
    // Most boots get the generation the record says the node runs, with nothing waiting: only the time is noted. The
    // record is read without the lock (every writer replaces it whole, by a rename); a pin, reset or rebase written
    // just after this read waits for the next boot, as one written just after the boot would.
    const seen = await this.get(ip);
    if (seen.booted === cur.generation && !seen.resetPending && !seen.rebase && (await this.target(seen)) === cur.generation) {
      await this.noteBoot(ip, at);
      return undefined;
    }
    // A first boot, or one the record changed for: read, decided and written back under the lock at once.
    const rec = await this.locked(ip, async () => {
      const r = await this.get(ip);
      if ((await this.target(r)) !== cur.generation || r.resetPending || r.rebase) return r;
      await this.save({ ...r, booted: cur.generation, bootedAt: at });
      return undefined;
    });
    if (!rec) return undefined;
    const generation = await this.target(rec);
    const dir = join(this.nodesDir, ip);
    if (rec.resetPending) {
      // Renamed first so a crash mid-removal leaves no half layer in use.
      const trash = join(dir, `.dropped-${randomBytes(4).toString('hex')}`);
      await rename(join(dir, 'upper'), trash).catch(() => {});
      await rm(join(dir, ORIGINS), { force: true });
      await rm(join(dir, OLD_ORIGINS), { force: true });
      await rm(trash, { recursive: true, force: true });
    } else for (const path of rec.rebase?.take ?? []) await removeBeneath(join(dir, 'upper'), path);
    const fs = await this.overlay(rec, generation);
    if (rec.resetPending) for (const [path, text] of Object.entries(rec.seed ?? {})) await fs.writeFile(path, Buffer.from(text));
    // The layer is changed outside the lock (a reset may remove many files); a pin, reset or rebase given meanwhile waits for the boot after this one.
    await this.locked(ip, async () => {
      const latest = await this.get(ip);
      const sameRebase = JSON.stringify(latest.rebase) === JSON.stringify(rec.rebase);
      await this.save({
        ...latest,
        booted: generation,
        bootedAt: at,
        resetPending: rec.resetPending ? undefined : latest.resetPending,
        rebase: sameRebase ? undefined : latest.rebase,
      });
    });
    return { generation, fs };
  }
}

/**
 * The origins log of the node directory `dir`. A node made before the log
 * has `origins.json`: renamed to the log's name, which reads that format
 * and rewrites it as a log.
 */
async function originsOf(dir: string): Promise<string> {
  const path = join(dir, ORIGINS);
  const logged = await lstat(path).then(() => true, () => false);
  if (!logged) {
    await rename(join(dir, OLD_ORIGINS), path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
  return path;
}

/**
 * Removes `rel` from the layer `root`, every parent checked with lstat to
 * be a real directory: the node may have made a parent a symlink since
 * the path was listed, and it must not lead the removal out of the layer.
 */
async function removeBeneath(root: string, rel: string): Promise<void> {
  const parts = rel.split('/');
  let at = root;
  for (const p of parts.slice(0, -1)) {
    if (p === '' || p === '.' || p === '..') return;
    at = join(at, p);
    const st = await lstat(at).catch(() => undefined);
    if (!st?.isDirectory()) return;
  }
  const last = parts.at(-1)!;
  if (last === '' || last === '.' || last === '..') return;
  await rm(join(at, last), { recursive: true, force: true });
}

/** Whether generations `a` and `b` hold the same entry at `rel` (for a directory replaced whole, `deep`: the same tree). */
async function sameEntry(a: string, b: string, rel: string, deep: boolean, budget: { left: number }): Promise<boolean> {
  if (--budget.left < 0) throw new Error(`the generations differ in more than ${MAX_COMPARE} entries under the node's changes: compare them with "netboot node diff" instead`);
  const [x, y] = [await lstat(join(a, rel)).catch(() => undefined), await lstat(join(b, rel)).catch(() => undefined)];
  if (!x || !y) return !x && !y;
  // Unchanged files are hard links shared between generations.
  if (x.ino === y.ino && x.dev === y.dev) return true;
  if (!sameMeta(x, y)) return false;
  if (x.isSymbolicLink()) return (await readlink(join(a, rel))) === (await readlink(join(b, rel)));
  if (x.isFile()) return (await readFile(join(a, rel))).equals(await readFile(join(b, rel)));
  if (x.isDirectory() && deep) {
    const [ln, rn] = [(await readdir(join(a, rel))).sort(), (await readdir(join(b, rel))).sort()];
    if (ln.join('/') !== rn.join('/')) return false;
    for (const n of ln) if (!(await sameEntry(a, b, `${rel}/${n}`, true, budget))) return false;
  }
  return true;
}

function sameMeta(x: Stats, y: Stats): boolean {
  return x.mode === y.mode && x.uid === y.uid && x.gid === y.gid && x.rdev === y.rdev && (x.isDirectory() || x.size === y.size);
}
