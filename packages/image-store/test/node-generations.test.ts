import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NfsStat, type ExportFs, type FsObject } from '@netboot/nfs3';
import { NodeRoots } from '@netboot/image-store';

const IP = '198.18.0.31';
const ROOT = `/diskless/${IP}`;

/** An image "deb" with generation 1 from a directory, and a node on it seeded with its hostname. */
async function setup(t: { teardown(f: () => unknown): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'node-generations-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const src = join(dir, 'rootfs');
  mkdirSync(join(src, 'etc'), { recursive: true });
  writeFileSync(join(src, 'etc/motd'), 'one\n');
  writeFileSync(join(src, 'etc/passwd'), 'root:x:0:0\n');
  writeFileSync(join(src, 'etc/services'), 'ssh 22/tcp\n');
  const roots = new NodeRoots(join(dir, 'state'));
  await roots.store.import('deb', { kind: 'directory', path: src });
  await roots.add({ ip: IP, image: 'deb', root: ROOT, seed: { 'etc/hostname': 'n31\n' } });
  await roots.seed(IP);
  /** Imports the rootfs as changed by `change` as the next generation. */
  const next = async (change: (src: string) => void) => {
    change(src);
    return (await roots.store.import('deb', { kind: 'directory', path: src })).generation;
  };
  return { dir, roots, next };
}

async function lookupPath(fs: ExportFs, path: string): Promise<FsObject> {
  let o = await fs.root();
  for (const name of path.split('/')) o = await fs.lookup(o, Buffer.from(name));
  return o;
}

async function cat(fs: ExportFs, o: FsObject): Promise<string> {
  const buf = Buffer.alloc(4096);
  return buf.subarray(0, await fs.read(o, buf, 0, buf.length, 0)).toString();
}

/** The NFS status a call failed with, or 'ok'. */
const statusOf = (p: Promise<unknown>) => p.then(() => 'ok', (e: { status?: number }) => e.status);

const exists = (fs: ExportFs, path: string) => lookupPath(fs, path).then(() => true, () => false);

t.test('a node keeps the generation it booted until its next MOUNT; its old handles then go STALE', async (t) => {
  const { roots, next } = await setup(t);
  const fs = (await roots.open(ROOT))!;
  t.ok(await fs.mounted!(IP) === false, 'the first boot on the promoted generation: the root stays');
  t.equal((await roots.get(IP)).booted, 1, 'the boot is recorded');
  const motd = await lookupPath(fs, 'etc/motd');
  t.equal(motd.generation, 1n, 'handles name the generation');

  const two = await next((src) => {
    writeFileSync(join(src, 'etc/motd'), 'two\n');
    writeFileSync(join(src, 'etc/new-in-2'), 'new\n');
  });
  await roots.store.promote('deb', two);
  t.equal(await cat(fs, motd), 'one\n', 'a promotion changes nothing under the running node');
  t.equal(await cat(fs, await fs.resolve(motd.fileid, 1n)), 'one\n', 'its handles keep resolving');
  t.notOk(await exists(fs, 'etc/new-in-2'));
  t.equal(await fs.mounted!('198.18.0.99'), false, "another address's MOUNT is not this node's boot");

  t.equal(await fs.mounted!(`::ffff:${IP}`), true, "the node's MOUNT is its boot: the promoted generation");
  t.equal(fs.generation, 2);
  t.equal(await cat(fs, await lookupPath(fs, 'etc/new-in-2')), 'new\n', 'the new generation is served');
  t.equal(await cat(fs, await lookupPath(fs, 'etc/hostname')), 'n31\n', 'over the same layer');
  t.equal(await statusOf(fs.resolve(motd.fileid, 1n)), NfsStat.STALE, 'a handle of the previous boot is stale');
  t.equal(await statusOf(fs.getattr(motd)), NfsStat.STALE);
  const etcNow = await lookupPath(fs, 'etc');
  const entries = await fs.lookupNames!(etcNow, ['hostname', 'gone', 'motd', 'new-in-2']);
  t.same(entries.map((o) => o?.generation), [2n, undefined, 2n, 2n], "READDIRPLUS's entries in one batch: the names there, on the generation booted");
  t.equal(await cat(fs, entries[2]!), 'two\n');
  const motdNow = fs.lookupNow!(etcNow, Buffer.from('motd'));
  t.equal(motdNow?.fileid, (await fs.lookup(etcNow, Buffer.from('motd'))).fileid, 'a name the batch located is looked up without a promise');
  t.equal(motdNow?.generation, 2n);
  t.equal(fs.lookupNow!(etcNow, Buffer.from('gone')), undefined, 'a name not there is left to lookup(), which gives the error');
  t.equal(fs.lookupNow!(motd, Buffer.from('x')), undefined, 'so is a directory of the previous boot (STALE from lookup())');
  await fs.remove(etcNow, Buffer.from('new-in-2'), false);
  t.equal(fs.lookupNow!(etcNow, Buffer.from('new-in-2')), undefined, 'a name removed (a whiteout now) is not answered from before the change');
  t.equal(await statusOf(fs.lookupNames!(motd, ['x'])), NfsStat.STALE, 'the batch of a directory of the previous boot is stale');
  t.match(await roots.get(IP), { booted: 2 });

  const again = (await roots.open(ROOT))!;
  t.equal(again.generation, 2, 'a server restart serves what the node booted');
  t.equal(await cat(again, await again.resolve((await lookupPath(again, 'etc/motd')).fileid, 2n)), 'two\n');
});

t.test('pin and reset wait for the next boot', async (t) => {
  const { roots, next } = await setup(t);
  const fs = (await roots.open(ROOT))!;
  await fs.mounted!(IP);
  const two = await next((src) => writeFileSync(join(src, 'etc/motd'), 'two\n'));
  await roots.store.promote('deb', two);
  await roots.pin(IP, 1);
  const local = await fs.create(await lookupPath(fs, 'etc'), Buffer.from('local'), { uid: 0, gid: 0 });
  await roots.reset(IP);
  t.equal(fs.generation, 1);
  t.ok(await exists(fs, 'etc/local'), 'a reset leaves the running node its layer');
  t.equal(await fs.mounted!(IP), true, 'the boot after a reset gets a new root');
  t.equal(fs.generation, 1, 'the pin holds the canary on generation 1');
  t.notOk(await exists(fs, 'etc/local'), 'the layer was dropped at the boot');
  t.equal(await cat(fs, await lookupPath(fs, 'etc/hostname')), 'n31\n', 'and its seed written again');
  t.equal(await statusOf(fs.getattr(local)), NfsStat.STALE);
  t.notOk((await roots.get(IP)).resetPending);
  await roots.pin(IP, undefined);
  t.equal(await fs.mounted!(IP), true);
  t.equal(fs.generation, 2, 'unpinned: the promoted generation');
});

t.test('rebase lists conflicts and changes nothing without a resolution', async (t) => {
  const { dir, roots, next } = await setup(t);
  const fs = (await roots.open(ROOT))!;
  await fs.mounted!(IP);
  const etc = await lookupPath(fs, 'etc');
  // The node changes passwd and services, deletes motd and adds a file.
  await fs.write(await lookupPath(fs, 'etc/passwd'), Buffer.from('root:x:0:0\nnode:x:1000:1000\n'), 0, 'file');
  await fs.write(await lookupPath(fs, 'etc/services'), Buffer.from('ssh 2222/tcp\n'), 0, 'file');
  await fs.remove(etc, Buffer.from('motd'), false);
  await fs.create(etc, Buffer.from('added'), { uid: 0, gid: 0 });
  const two = await next((src) => {
    writeFileSync(join(src, 'etc/passwd'), 'root:x:0:0\nsshd:x:100:65534\n');
    writeFileSync(join(src, 'etc/motd'), 'two\n');
    writeFileSync(join(src, 'etc/added'), 'image made it too\n');
    writeFileSync(join(src, 'etc/fresh'), 'fresh\n');
  });
  await roots.store.promote('deb', two);

  const stopped = await roots.rebase(IP, undefined);
  t.same(stopped, { from: 1, to: 2, conflicts: ['etc/added', 'etc/motd', 'etc/passwd'], applied: false }, 'services changed only on the node: no conflict');
  t.notOk((await roots.get(IP)).rebase, 'nothing recorded');

  const kept = await roots.rebase(IP, undefined, 'keep-node');
  t.ok(kept.applied);
  t.equal(fs.generation, 1, 'the running node is not disturbed');
  await fs.mounted!(IP);
  t.equal(fs.generation, 2);
  t.equal(await cat(fs, await lookupPath(fs, 'etc/passwd')), 'root:x:0:0\nnode:x:1000:1000\n', "keep-node: the node's version");
  t.ok(await exists(fs, 'etc/fresh'), 'files new in the generation appear');
  t.notOk(await exists(fs, 'etc/motd'), 'its delete stays');
  t.same(await roots.rebase(IP, undefined), { from: 2, to: 2, conflicts: [], applied: true }, 'on the target already: nothing to settle');

  // Generation 3 changes passwd again; the node takes the image's version of its conflicts.
  const three = await next((src) => writeFileSync(join(src, 'etc/passwd'), 'root:x:0:0\nsshd:x:100:65534\nntp:x:101:101\n'));
  const taken = await roots.rebase(IP, three, 'take-image');
  t.same(taken.conflicts, ['etc/passwd']);
  t.match(await roots.get(IP), { generation: three, rebase: { from: 2, to: 3, take: ['etc/passwd'] } }, 'a rebase to a named generation pins it');
  await fs.mounted!(IP);
  t.equal(fs.generation, 3, 'pinned to 3 though 2 is promoted');
  t.equal(await cat(fs, await lookupPath(fs, 'etc/passwd')), 'root:x:0:0\nsshd:x:100:65534\nntp:x:101:101\n', "take-image: the generation's version");
  t.equal(await cat(fs, await lookupPath(fs, 'etc/services')), 'ssh 2222/tcp\n', 'changes without conflict stay');
  t.equal(readFileSync(join(dir, 'state/images/deb/1/etc/passwd'), 'utf8'), 'root:x:0:0\n', 'generations are never written');
});
