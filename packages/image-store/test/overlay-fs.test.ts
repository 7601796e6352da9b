import t from 'tap';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, readSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RpcServer } from '@netboot/oncrpc-xdr';
import { NfsClient, NfsServer, NfsStat, StableHow, type AccessOptions } from '@netboot/nfs3';
import { ImageStore, OverlayFs } from '@netboot/image-store';
import { native } from '@netboot/platform';
import { until } from '../../../test/support/until.js';
import { tar, type Member } from './tar-writer.js';

const rw: AccessOptions = { rw: true, rootSquash: false, allSquash: false, anonuid: 65534, anongid: 65534, secure: false };

async function* once(b: Buffer): AsyncGenerator<Uint8Array> {
  yield b;
}

const IMAGE: Member[] = [
  { name: 'etc/', type: '5', mode: 0o755 },
  { name: 'etc/hostname', data: 'image\n', mode: 0o644 },
  { name: 'etc/motd', data: 'welcome\n' },
  { name: 'etc/ssh/', type: '5' },
  { name: 'etc/ssh/sshd_config', data: 'Port 22\n' },
  { name: 'usr/bin/tool', data: 'ELF', mode: 0o755 },
  { name: 'var/lib/', type: '5' },
  { name: 'var/lib/old', data: 'old\n' },
];

/** Two nodes' roots over one image generation, served by one NfsServer through the OverlayFs backend. */
async function setup(t: { teardown(f: () => unknown): void }, opts: { directWrites?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'overlay-fs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new ImageStore(join(dir, 'state'));
  await store.import('deb', { kind: 'tar', stream: once(tar(IMAGE)) });
  const lower = store.generationPath('deb', 1);
  const node = (ip: string) => ({ upper: join(dir, 'state/nodes', ip, 'upper'), origins: join(dir, 'state/nodes', ip, 'origins.json') });
  const exports = ['198.18.0.21', '198.18.0.22'].map((ip, i) => ({ id: i + 1, path: `/diskless/${ip}`, optionsFor: (a: string) => (a === '127.0.0.1' && i === 0 ? rw : undefined) }));
  const start = async () => {
    const server = await NfsServer.create({
      exports,
      handleKey: Buffer.alloc(32, 3),
      log: () => {},
      backend: async (def) => {
        const n = node(def.path.split('/').pop()!);
        return OverlayFs.open(lower, n.upper, n.origins, opts);
      },
    });
    const rpc = new RpcServer({ log: () => {} });
    server.register(rpc);
    const port = await rpc.listen({ host: '127.0.0.1', port: 0 });
    const c = await NfsClient.connect({ host: '127.0.0.1', port, transport: 'tcp', cred: { flavor: 1, stamp: 1, machine: 't', uid: 0, gid: 0, gids: [] }, timeoutMs: 60_000 });
    const stop = async () => {
      c.close();
      server.close();
      await rpc.close();
    };
    t.teardown(stop);
    return { server, c, root: server.rootHandle('/diskless/198.18.0.21')!, other: server.rootHandle('/diskless/198.18.0.22')!, stop };
  };
  return { dir, lower, node, start };
}

/**
 * One node's OverlayFs over a fresh import of `members` (no NFS server in front), closed and removed when
 * the test ends: for tests that reach into the layers or the backend's own calls.
 */
async function bareOverlay(t: { teardown(f: () => unknown): void }, members: Member[], opts: Parameters<typeof OverlayFs.open>[3]) {
  const dir = mkdtempSync(join(tmpdir(), 'overlay-fs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new ImageStore(join(dir, 'state'));
  await store.import('deb', { kind: 'tar', stream: once(tar(members)) });
  const lower = store.generationPath('deb', 1);
  const upper = join(dir, 'upper');
  const fs = await OverlayFs.open(lower, upper, join(dir, 'origins.log'), opts);
  t.teardown(() => fs.close());
  return { dir, lower, upper, fs };
}

/** Lookups of a path from the root of `fs`, and reads of the first 64 bytes of what an object or a path names. */
function reader(fs: OverlayFs) {
  const at = async (path: string) => {
    let o = await fs.root();
    for (const n of path.split('/')) o = await fs.lookup(o, Buffer.from(n));
    return o;
  };
  const buf = Buffer.alloc(64);
  const readAll = async (o: Awaited<ReturnType<typeof at>>) => buf.subarray(0, await fs.read(o, buf, 0, 64, 0)).toString();
  return { at, readAll, readAt: async (path: string) => readAll(await at(path)) };
}

/** Until more than 2 ms passed: the tests that call it keep locations 1 ms, so what was found before is past its lifetime. */
async function lifetimePassed() {
  const from = performance.now();
  await until(() => performance.now() - from > 2, 'the locations\' lifetime to pass');
}

/** This process's open descriptors of the file at `path` (also once its name is gone: "(deleted)"). */
function descriptorsOn(path: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).replace(/ \(deleted\)$/, '') === path;
    } catch {
      return false; // closed meanwhile (the listing's own descriptor)
    }
  }).length;
}

function okv<T extends { status: number }>(r: T): Extract<T, { status: 0 }> {
  if (r.status !== 0) throw new Error(`status ${r.status}`);
  return r as Extract<T, { status: 0 }>;
}

const names = async (c: NfsClient, dir: Buffer) =>
  okv(await c.readdirplus(dir))
    .entries.map((e) => e.name.toString())
    .filter((n) => n !== '.' && n !== '..')
    .sort();

t.test('reads fall through to the image; the first write copies up and keeps the handle', async (t) => {
  const s = await setup(t);
  const { c, root } = await s.start();
  const etc = okv(await c.lookup(root, 'etc')).object;
  const host = okv(await c.lookup(etc, 'hostname')).object;
  t.equal(okv(await c.read(host, 0n, 100)).data.toString(), 'image\n', 'read through');
  const before = okv(await c.getattr(host)).attributes.fileid;
  okv(await c.write(host, 0n, Buffer.from('node21\n'), StableHow.FILE_SYNC));
  t.equal(okv(await c.read(host, 0n, 100)).data.toString(), 'node21\n', 'the same handle reads the copy');
  t.equal(okv(await c.getattr(host)).attributes.fileid, before, 'fileid kept across copy-up');
  t.same(okv(await c.lookup(etc, 'hostname')).object, host, 'lookup gives the same handle after copy-up');
  t.equal(readFileSync(join(s.lower, 'etc/hostname'), 'utf8'), 'image\n', 'the image is unchanged');
  t.equal(readFileSync(join(s.node('198.18.0.21').upper, 'etc/hostname'), 'utf8'), 'node21\n', 'the change is in the node layer');
  t.notOk(readdirSync(s.node('198.18.0.21').upper + '/etc').includes('motd'), 'only what changed is copied');
  const tool = okv(await c.lookup(okv(await c.lookup(okv(await c.lookup(root, 'usr')).object, 'bin')).object, 'tool')).object;
  okv(await c.setattr(tool, { mode: 0o700 }));
  t.equal(okv(await c.getattr(tool)).attributes.mode & 0o7777, 0o700, 'setattr copies up');
  t.equal(lstatSync(join(s.lower, 'usr/bin/tool')).mode & 0o7777, 0o755);
});

t.test('with WRITE data copied on the serving thread (an NFS worker thread): copy-up, then writes in place, at every stability', async (t) => {
  const s = await setup(t, { directWrites: true });
  const { c, root } = await s.start();
  const etc = okv(await c.lookup(root, 'etc')).object;
  const host = okv(await c.lookup(etc, 'hostname')).object;
  let want = 'image\n';
  for (const stable of [StableHow.FILE_SYNC, StableHow.UNSTABLE, StableHow.DATA_SYNC] as const) {
    const w = okv(await c.write(host, BigInt(want.length), Buffer.from(`+${stable}`), stable));
    want += `+${stable}`;
    t.equal(w.committed, stable, `stable ${stable}: committed as asked`);
    t.equal(w.wcc.after?.size, BigInt(want.length), 'the size after it in the reply');
  }
  okv(await c.commit(host));
  t.equal(readFileSync(join(s.node('198.18.0.21').upper, 'etc/hostname'), 'utf8'), want, 'the node layer holds every write');
  t.equal(readFileSync(join(s.lower, 'etc/hostname'), 'utf8'), 'image\n', 'the image is unchanged');
});

t.test('READs of an image file reuse one descriptor of it, shared by the roots on its generation and closed with the last; a copy-up is read, not the image', async (t) => {
  const s = await setup(t);
  const { c, root, stop } = await s.start();
  const second = await s.start();
  const motdPath = join(s.lower, 'etc/motd');
  const openOnMotd = () => descriptorsOn(motdPath);
  const motd = okv(await c.lookup(okv(await c.lookup(root, 'etc')).object, 'motd')).object;
  for (let i = 0; i < 20; i++) t.equal(okv(await c.read(motd, BigInt(i % 4), 100)).data.toString(), 'welcome\n'.slice(i % 4), `read ${i}`);
  t.equal(openOnMotd(), 1, 'twenty READs, one descriptor of the image file');
  const motd2 = okv(await second.c.lookup(okv(await second.c.lookup(second.root, 'etc')).object, 'motd')).object;
  t.equal(okv(await second.c.read(motd2, 0n, 100)).data.toString(), 'welcome\n', 'another root on the generation reads it');
  t.equal(openOnMotd(), 1, 'through the same descriptor');
  okv(await c.write(motd, 0n, Buffer.from('W'), StableHow.FILE_SYNC));
  t.equal(okv(await c.read(motd, 0n, 100)).data.toString(), 'Welcome\n', 'after the copy-up the node layer is read');
  t.equal(readFileSync(motdPath, 'utf8'), 'welcome\n', 'the image is unchanged');
  await stop();
  t.equal(openOnMotd(), 1, 'closing one root leaves it to the other');
  await second.stop();
  // The descriptor is closed by an fs.close callback: turns of the event loop until it has run, bounded.
  for (let turn = 0; turn < 10_000 && openOnMotd() > 0; turn++) await new Promise((r) => setImmediate(r));
  t.equal(openOnMotd(), 0, 'closing the last root on the generation closes it');
});

t.test('a listing and its names\' attributes open an image directory once, from a descriptor the roots on its generation share and the last one closes', { skip: native ? false : 'the platform module is not built' }, async (t) => {
  // The backend's openat2 calls, counted.
  let opens = 0;
  const calls = new Proxy(native!, {
    get(target, p) {
      const v = Reflect.get(target, p) as unknown;
      if (p !== 'openat2' || typeof v !== 'function') return v;
      return (...a: unknown[]) => {
        opens++;
        return (v as (...x: unknown[]) => unknown).apply(target, a);
      };
    },
  });
  const { fs, lower } = await bareOverlay(t, IMAGE, { calls });
  const ssh = await reader(fs).at('etc/ssh');
  // READDIRPLUS's two calls: the listing, then the attributes of its names.
  const listed = async () => {
    opens = 0;
    const { names } = await fs.readdir(ssh, 0n, Buffer.alloc(8));
    await fs.lookupNames(ssh, names.slice(2));
    return opens;
  };
  t.equal(await listed(), 2, 'the first: the directory opened beneath the image root once, and for reading from it');
  t.equal(await listed(), 1, 'the next: for reading only');
  const sshPath = join(lower, 'etc/ssh');
  t.equal(descriptorsOn(sshPath), 1, 'one descriptor of it held');

  const s = await setup(t);
  const one = await s.start();
  const two = await s.start();
  const held = () => descriptorsOn(join(s.lower, 'etc'));
  const etcOf = async (c: NfsClient, root: Buffer) => okv(await c.lookup(root, 'etc')).object;
  t.same(await names(one.c, await etcOf(one.c, one.root)), ['hostname', 'motd', 'ssh'], 'a root lists the image directory');
  t.same(await names(two.c, await etcOf(two.c, two.root)), ['hostname', 'motd', 'ssh'], 'so does another root on the generation');
  t.equal(held(), 1, 'from one descriptor');
  await one.stop();
  t.equal(held(), 1, 'closing one root leaves it to the other');
  await two.stop();
  t.equal(held(), 0, 'closing the last root on the generation closes it');
});

t.test('handles survive a server restart', async (t) => {
  const s = await setup(t);
  const first = await s.start();
  const etc = okv(await first.c.lookup(first.root, 'etc')).object;
  const host = okv(await first.c.lookup(etc, 'hostname')).object;
  okv(await first.c.write(host, 0n, Buffer.from('x'), StableHow.FILE_SYNC));
  await first.stop();
  const second = await s.start();
  t.equal(okv(await second.c.read(host, 0n, 100)).data.toString(), 'xmage\n', 'the copied-up file by its old handle');
});

t.test('deletes leave whiteouts, directories merge, rmdir + mkdir is opaque', async (t) => {
  const s = await setup(t);
  const { c, root } = await s.start();
  const etc = okv(await c.lookup(root, 'etc')).object;
  okv(await c.remove(etc, 'motd'));
  t.equal((await c.lookup(etc, 'motd')).status, NfsStat.NOENT, 'gone from the merged view');
  t.ok(lstatSync(join(s.lower, 'etc/motd')).isFile(), 'still in the image');
  const wh = lstatSync(join(s.node('198.18.0.21').upper, 'etc/motd'));
  t.ok(wh.isCharacterDevice() && wh.rdev === 0, 'a 0/0 whiteout in the layer');
  okv(await c.create(etc, 'local.conf'));
  t.same(await names(c, etc), ['hostname', 'local.conf', 'ssh'], 'upper and image names merged, the whiteout hidden');
  const created = okv(await c.create(etc, 'motd')).object!;
  okv(await c.write(created, 0n, Buffer.from('new'), StableHow.FILE_SYNC));
  t.equal(okv(await c.read(okv(await c.lookup(etc, 'motd')).object, 0n, 10)).data.toString(), 'new', 'a name re-created over its whiteout');
  const ssh = okv(await c.lookup(etc, 'ssh')).object;
  okv(await c.remove(ssh, 'sshd_config'));
  okv(await c.rmdir(etc, 'ssh'));
  okv(await c.mkdir(etc, 'ssh'));
  t.same(await names(c, okv(await c.lookup(etc, 'ssh')).object), [], 'the re-made directory does not show the image contents');
  t.equal((await c.rmdir(root, 'var')).status, NfsStat.NOTEMPTY, 'rmdir of a directory whose entries are only in the image');
});

t.test('rename across layers and hard links behave as on a local disk', async (t) => {
  const s = await setup(t);
  const { c, root } = await s.start();
  const etc = okv(await c.lookup(root, 'etc')).object;
  const motd = okv(await c.lookup(etc, 'motd')).object;
  const id = okv(await c.getattr(motd)).attributes.fileid;
  okv(await c.rename(etc, 'motd', root, 'motd.moved'));
  t.equal((await c.lookup(etc, 'motd')).status, NfsStat.NOENT, 'the old name is gone');
  t.equal(okv(await c.read(motd, 0n, 100)).data.toString(), 'welcome\n', 'the handle follows the rename');
  t.equal(okv(await c.getattr(okv(await c.lookup(root, 'motd.moved')).object)).attributes.fileid, id);
  const varDir = okv(await c.lookup(root, 'var')).object;
  okv(await c.rename(varDir, 'lib', root, 'lib2'));
  const lib2 = okv(await c.lookup(root, 'lib2')).object;
  t.same(await names(c, lib2), ['old'], 'a renamed image directory keeps its contents');
  t.same(await names(c, varDir), [], 'and leaves nothing at its old name');
  const hostname = okv(await c.lookup(etc, 'hostname')).object;
  okv(await c.link(hostname, root, 'hostname.link'));
  const linked = okv(await c.lookup(root, 'hostname.link')).object;
  okv(await c.write(linked, 0n, Buffer.from('HARD'), StableHow.FILE_SYNC));
  t.equal(okv(await c.read(hostname, 0n, 4)).data.toString(), 'HARD', 'a write through one name shows through the other');
  t.equal(okv(await c.getattr(hostname)).attributes.nlink, 2);
});

t.test('a node can neither read another node\'s layer nor change the image', async (t) => {
  const s = await setup(t);
  const { c, root, other } = await s.start();
  t.equal((await c.getattr(other)).status, NfsStat.ACCES, 'the other node\'s root refuses this address');
  const etc = okv(await c.lookup(root, 'etc')).object;
  t.equal((await c.lookup(etc, '..')).status, 0);
  t.same(okv(await c.lookup(root, '..')).object, root, '".." of the root is the root');
  okv(await c.symlink(root, 'escape', '../../../../../../etc'));
  t.equal((await c.lookup(okv(await c.lookup(root, 'escape')).object, 'passwd')).status, NfsStat.NOTDIR, 'a symlink is never followed');
  for (const f of ['etc/hostname', 'etc/motd', 'usr/bin/tool']) t.equal(readFileSync(join(s.lower, f)).length > 0, true);
  okv(await c.remove(etc, 'hostname'));
  t.ok(lstatSync(join(s.lower, 'etc/hostname')).isFile(), 'the image keeps its file');
});

t.test('copy-up keeps owner, mode, nanosecond times and xattrs; a layer directory swapped for a symlink leads nowhere', { skip: process.getuid?.() !== 0 && 'needs root: image owners' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'overlay-fs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new ImageStore(join(dir, 'state'));
  const tag = Buffer.from([0, 1, 0xfe]);
  await store.import('deb', {
    kind: 'tar',
    stream: once(
      tar([
        { name: 'etc/', type: '5', mode: 0o755 },
        { name: 'etc/exact', data: 'exact\n', mode: 0o4750, uid: 1000, gid: 6, pax: { mtime: '1700000000.123456789', 'SCHILY.xattr.user.tag': tag } },
        { name: 'etc/hostname', data: 'image\n' },
      ]),
    ),
  });
  const lower = store.generationPath('deb', 1);
  const upper = join(dir, 'upper');
  const fs = await OverlayFs.open(lower, upper, join(dir, 'origins.json'));
  t.teardown(() => fs.close());
  const etc = await fs.lookup(await fs.root(), Buffer.from('etc'));
  const exact = await fs.lookup(etc, Buffer.from('exact'));
  await fs.write(exact, Buffer.from('E'), 0, 'file');
  const st = lstatSync(join(upper, 'etc/exact'), { bigint: true });
  t.same({ uid: st.uid, gid: st.gid, mode: st.mode & 0o7777n }, { uid: 1000n, gid: 6n, mode: 0o4750n }, 'owner and mode (setuid too) kept');
  t.equal(readFileSync(join(upper, 'etc/exact'), 'utf8'), 'Exact\n', 'bytes copied, then written');
  const { native } = await import('@netboot/platform');
  // Portable mode keeps times to the microsecond only (and no xattrs).
  if (native) t.equal(lstatSync(join(lower, 'etc/exact'), { bigint: true }).mtimeNs, 1_700_000_000_123_456_789n, 'the image keeps its nanosecond mtime');
  const hostname = await fs.lookup(etc, Buffer.from('hostname'));
  await fs.setattr(hostname, { mode: 0o600 });
  t.equal(lstatSync(join(upper, 'etc/hostname'), { bigint: true }).mtimeNs, lstatSync(join(lower, 'etc/hostname'), { bigint: true }).mtimeNs, 'a copy-up keeps the mtime to the nanosecond');
  if (native) t.same(native.lgetxattr(join(upper, 'etc/exact'), 'user.tag'), tag, 'xattrs copied up');

  // A local user swaps the layer's etc for a symlink to a directory outside: nothing there is reached.
  const outside = join(dir, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'hostname'), 'OUTSIDE\n');
  renameSync(join(upper, 'etc'), join(upper, 'etc.parked'));
  symlinkSync(outside, join(upper, 'etc'));
  await t.rejects(fs.write(hostname, Buffer.from('x'), 0, 'file'), 'a write through the swapped directory fails');
  await t.rejects(fs.setattr(hostname, { mode: 0o777 }), 'so does a setattr');
  await t.rejects(fs.lookup(await fs.lookup(await fs.root(), Buffer.from('etc')), Buffer.from('hostname')), 'and a lookup below the symlink');
  t.equal(readFileSync(join(outside, 'hostname'), 'utf8'), 'OUTSIDE\n', 'the outside file is untouched');
  t.equal(lstatSync(join(outside, 'hostname')).mode & 0o7777, 0o644);
});

t.test('copy-up keeps the xattrs of directories, symlinks, FIFOs and devices too', { skip: (process.getuid?.() !== 0 && 'needs root: device nodes and trusted.* xattrs') || (!native && 'portable mode has no xattr calls') }, async (t) => {
  const n = native!;
  const dir = mkdtempSync(join(tmpdir(), 'overlay-fs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new ImageStore(join(dir, 'state'));
  // Linux takes user.* xattrs on files and directories only; symlinks and special files hold trusted.* ones (root).
  const x = (name: string, value: string) => ({ [`SCHILY.xattr.${name}`]: Buffer.from(value) });
  await store.import('deb', {
    kind: 'tar',
    stream: once(
      tar([
        { name: 'opt/', type: '5', mode: 0o755, pax: x('user.dir', 'd') },
        { name: 'opt/link', type: '2', linkname: 'target', pax: x('trusted.link', 'l') },
        { name: 'opt/pipe', type: '6', mode: 0o600, pax: x('trusted.pipe', 'p') },
        { name: 'opt/null', type: '3', devmajor: 1, devminor: 3, mode: 0o666, pax: x('trusted.dev', 'c') },
        { name: 'opt/plain/', type: '5', mode: 0o755 },
      ]),
    ),
  });
  const lower = store.generationPath('deb', 1);
  t.same(n.lgetxattr(join(lower, 'opt/link'), 'trusted.link'), Buffer.from('l'), 'the image has them');
  const upper = join(dir, 'upper');
  const fs = await OverlayFs.open(lower, upper, join(dir, 'origins.json'));
  t.teardown(() => fs.close());
  const opt = await fs.lookup(await fs.root(), Buffer.from('opt'));
  // A new file in opt copies the directory up; a chown or chmod copies the others up.
  await fs.create(opt, Buffer.from('new'), { uid: 0, gid: 0 });
  await fs.setattr(await fs.lookup(opt, Buffer.from('link')), { uid: 7 });
  await fs.setattr(await fs.lookup(opt, Buffer.from('pipe')), { mode: 0o640 });
  await fs.setattr(await fs.lookup(opt, Buffer.from('null')), { mode: 0o660 });
  await fs.setattr(await fs.lookup(opt, Buffer.from('plain')), { mode: 0o700 });
  t.ok(lstatSync(join(upper, 'opt/link')).isSymbolicLink() && lstatSync(join(upper, 'opt/pipe')).isFIFO() && lstatSync(join(upper, 'opt/null')).isCharacterDevice(), 'all copied up');
  t.same(n.lgetxattr(join(upper, 'opt'), 'user.dir'), Buffer.from('d'), 'a directory keeps its xattrs');
  t.same(n.lgetxattr(join(upper, 'opt/link'), 'trusted.link'), Buffer.from('l'), 'a symlink keeps its own (not its target\'s)');
  t.same(n.lgetxattr(join(upper, 'opt/pipe'), 'trusted.pipe'), Buffer.from('p'), 'a FIFO keeps its xattrs');
  t.same(n.lgetxattr(join(upper, 'opt/null'), 'trusted.dev'), Buffer.from('c'), 'a device keeps its xattrs');
  t.same(n.llistxattr(join(upper, 'opt/plain')).filter((b) => !b.toString().startsWith('security.')), [], 'a directory without xattrs gets none');
  t.equal(lstatSync(join(upper, 'opt/pipe')).mode & 0o7777, 0o640, 'the change itself applied');
});

t.test('a local rename in the node layer behind cached locations and descriptors: stale at most, never outside the layers', { skip: native ? false : 'the platform module is not built' }, async (t) => {
  // Locations kept a minute: every call below, made after the swap, meets what was cached before it.
  const { dir, lower, upper, fs } = await bareOverlay(t, IMAGE, { attributeCacheMs: 60_000 });
  const etc = await fs.lookup(await fs.root(), Buffer.from('etc'));
  const hostname = await fs.lookup(etc, Buffer.from('hostname'));
  const motd = await fs.lookup(etc, Buffer.from('motd'));
  await fs.write(hostname, Buffer.from('IMAGE'), 0, 'file');
  const buf = Buffer.alloc(64);
  const readAll = async (o: typeof motd) => buf.subarray(0, await fs.read(o, buf, 0, 64, 0)).toString();
  t.equal(await readAll(hostname), 'IMAGE\n', 'the copy-up is read (its location and descriptor now cached)');
  t.equal(await readAll(motd), 'welcome\n', 'the image file is read (its location and descriptor now cached)');
  await fs.getattr(await fs.resolve(hostname.fileid, 0n));

  // A local user parks the layer's etc and puts a symlink to a directory outside in its place.
  const outside = join(dir, 'outside');
  mkdirSync(outside);
  for (const n of ['hostname', 'motd']) writeFileSync(join(outside, n), 'OUTSIDE\n');
  renameSync(join(upper, 'etc'), join(upper, 'etc.parked'));
  symlinkSync(outside, join(upper, 'etc'));
  const allowed = ['IMAGE\n', 'welcome\n', 'image\n'];
  const settle = async <T>(p: Promise<T>): Promise<T | Error> => p.catch((e: Error) => e);
  for (const [what, o] of [['hostname', hostname], ['motd', motd]] as const) {
    const got = await settle(readAll(o));
    t.ok(got instanceof Error || allowed.includes(got), `READ of ${what} after the swap: the inode checked before or an error, not outside (${String(got)})`);
    const again = await settle(fs.lookup(await fs.lookup(await fs.root(), Buffer.from('etc')), Buffer.from(what)).then(readAll));
    t.ok(again instanceof Error || allowed.includes(again), `LOOKUP and READ of etc/${what} after the swap: not outside (${String(again)})`);
  }
  await settle(fs.write(hostname, Buffer.from('X'), 0, 'file'));
  await settle(fs.create(etc, Buffer.from('planted'), { uid: 0, gid: 0 }));
  await settle(fs.setattr(motd, { mode: 0o777 }));
  t.same(readdirSync(outside).sort(), ['hostname', 'motd'], 'nothing made outside');
  for (const n of ['hostname', 'motd']) {
    t.equal(readFileSync(join(outside, n), 'utf8'), 'OUTSIDE\n', `outside ${n} unchanged`);
    t.equal(lstatSync(join(outside, n)).mode & 0o7777, 0o644, `outside ${n} mode unchanged`);
  }
  t.equal(readFileSync(join(lower, 'etc/motd'), 'utf8'), 'welcome\n', 'the image unchanged');
});

t.test('a new name or a copy-up drops the cached locations of that name and its directories, and keeps the rest right', async (t) => {
  // Locations kept a minute: what is not dropped is reused by every call below.
  const { lower, fs } = await bareOverlay(t, IMAGE, { attributeCacheMs: 60_000 });
  const { at, readAll } = reader(fs);
  const varDir = await at('var');
  const lib = await at('var/lib');
  const old = await at('var/lib/old');
  const sshd = await at('etc/ssh/sshd_config');
  const libBefore = await fs.getattr(lib);
  t.equal(await readAll(old), 'old\n', 'read from the image, its location cached');

  const made = await fs.create(lib, Buffer.from('new'), { uid: 0, gid: 0 });
  await fs.write(made, Buffer.from('fresh\n'), 0, 'file');
  const libAfter = await fs.getattr(await fs.resolve(lib.fileid, 0n));
  t.equal(libAfter.ino, libBefore.ino, 'var/lib keeps its identity across its copy-up');
  t.not(libAfter.ctimeNs, libBefore.ctimeNs, 'and shows its layer copy\'s attributes, not the image\'s cached before');
  t.same((await fs.readdir(lib, 0n, Buffer.alloc(8))).names.slice(2).sort(), ['new', 'old'], 'the merged listing has both names');
  t.equal(await readAll(await at('var/lib/new')), 'fresh\n', 'the new name is found');
  t.equal(await readAll(old), 'old\n', 'the image file beside it is read where it was');
  await fs.write(old, Buffer.from('OLD'), 0, 'file');
  t.equal(await readAll(old), 'OLD\n', 'and copied up at its first write, by its old handle');
  t.equal(readFileSync(join(lower, 'var/lib/old'), 'utf8'), 'old\n', 'the image unchanged');
  t.equal((await fs.getattr(varDir)).ino, varDir.fileid, 'var still resolves to its object');
  await fs.write(sshd, Buffer.from('Port 2222\n'), 0, 'file');
  t.equal(await readAll(sshd), 'Port 2222\n', 'a copy-up elsewhere (etc/ssh) is read back');
  t.equal(await readAll(await at('var/lib/new')), 'fresh\n', 'and leaves the names made before it found');
});

t.test('past their lifetime, image names are checked against the node layer alone: kept while it covers nothing, found anew once a local user covers them', async (t) => {
  // Locations kept 1 ms: every wait below lets the lifetime of what was found pass.
  const { lower, upper, fs } = await bareOverlay(t, IMAGE, { attributeCacheMs: 1 });
  const { at, readAt } = reader(fs);
  const motd = await at('etc/motd');
  const tool = await at('usr/bin/tool');
  const before = await fs.getattr(motd);
  await lifetimePassed();
  t.equal(await fs.getattr(motd), before, 'an image name the layer does not cover keeps its location past its lifetime (the same attributes)');

  // A local user puts a file over an image name where the layer has none of its path (etc), then where it has its directory.
  mkdirSync(join(upper, 'etc'));
  writeFileSync(join(upper, 'etc/motd'), 'LOCAL\n');
  await lifetimePassed();
  t.equal(await readAt('etc/motd'), 'LOCAL\n', 'a layer file made beside the server over an image name shows past the lifetime');
  await fs.write(await at('etc/hostname'), Buffer.from('node'), 0, 'file');
  await at('etc/ssh/sshd_config');
  mkdirSync(join(upper, 'etc/ssh'));
  writeFileSync(join(upper, 'etc/ssh/sshd_config'), 'Port 2\n');
  await lifetimePassed();
  t.equal(await readAt('etc/ssh/sshd_config'), 'Port 2\n', 'and below a directory the layer already had');

  // An opaque marker made beside the server hides the image's names below it.
  await at('usr/bin/tool');
  mkdirSync(join(upper, 'usr'));
  writeFileSync(join(upper, 'usr/.wh..wh..opq'), '');
  await lifetimePassed();
  await t.rejects(at('usr/bin/tool'), { code: 'ENOENT' }, 'a directory a local user made opaque hides the image below it past the lifetime');
  await t.rejects(fs.getattr(tool), 'and a handle of a name it hid no longer resolves to the image file');
  t.equal(readFileSync(join(lower, 'etc/motd'), 'utf8'), 'welcome\n', 'the image unchanged');
});

t.test('past their lifetime, image names are vouched for by the node layer\'s directories above them, unchanged, until a local user changes one', { skip: native ? false : 'portable mode: counts the platform module\'s statx calls' }, async (t) => {
  // The backend's statx calls, counted: what a check of the layer costs.
  let statx = 0;
  const calls = new Proxy(native!, {
    get(target, p) {
      const v = Reflect.get(target, p) as unknown;
      if (p !== 'statxInto' || typeof v !== 'function') return v;
      return (...a: unknown[]) => {
        statx++;
        return (v as (...x: unknown[]) => unknown).apply(target, a);
      };
    },
  });
  const dir = mkdtempSync(join(tmpdir(), 'overlay-fs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new ImageStore(join(dir, 'state'));
  await store.import('deb', { kind: 'tar', stream: once(tar(IMAGE)) });
  const lower = store.generationPath('deb', 1);
  const upper = join(dir, 'upper');
  // The layer has etc (so etc/motd and etc/ssh/sshd_config sit below a directory of the layer) and nothing of usr or var.
  mkdirSync(join(upper, 'etc'), { recursive: true });
  // A directory's unchanged times vouch only once they are older than a time stamp's coarseness (2 s).
  const settled = (p: string) => Date.now() - lstatSync(p).ctimeMs > 2100;
  await until(() => settled(upper) && settled(join(upper, 'etc')), 'the layer\'s directories to be 2 s old', 10_000, 50);
  // Locations kept 1 ms: every wait below lets the lifetime of what was found pass.
  const fs = await OverlayFs.open(lower, upper, join(dir, 'origins.log'), { calls, attributeCacheMs: 1 });
  t.teardown(() => fs.close());
  const { at, readAt } = reader(fs);
  const paths = ['etc/motd', 'etc/ssh/sshd_config', 'usr/bin/tool', 'var/lib/old'];
  const objs = await Promise.all(paths.map((p) => at(p)));
  const first = await Promise.all(objs.map((o) => fs.getattr(o)));
  // The first check past the lifetime looks at the names (the directories were first seen after the names were found).
  await lifetimePassed();
  for (const o of objs) await fs.getattr(o);
  await lifetimePassed();
  statx = 0;
  const again = [];
  for (const o of objs) again.push(await fs.getattr(o));
  t.same(again.map((a, i) => a === first[i]), paths.map(() => true), 'each image name keeps its location (the same attributes)');
  // Looking at the names costs two statx each (the opaque marker and the name); the directories, one each per lifetime (at
  // most 6 here, where each lifetime of 1 ms may pass between two calls).
  t.ok(statx < 2 * paths.length, `the layer's two directories vouch for all four names (${statx} statx calls, ${2 * paths.length} looking at the names)`);

  // A local user puts a file over an image name below the layer's etc: etc changes, the layer root does not.
  mkdirSync(join(upper, 'etc/ssh'));
  writeFileSync(join(upper, 'etc/ssh/sshd_config'), 'Port 2\n');
  await lifetimePassed();
  // The handle first: a LOOKUP looks at the name again anyway, a handle's call checks its location.
  await t.rejects(fs.getattr(objs[1]!), 'past the lifetime, the handle of the image file a layer file now covers below a directory that vouched no longer resolves to it');
  t.equal(await readAt('etc/ssh/sshd_config'), 'Port 2\n', 'and its name reads the layer file');
  t.equal(await fs.getattr(objs[2]!), first[2], 'names below the unchanged layer root keep their image location');
  // Then over a name where the layer has none of its path: the layer root changes.
  mkdirSync(join(upper, 'var'));
  writeFileSync(join(upper, 'var/.wh..wh..opq'), '');
  await lifetimePassed();
  await t.rejects(fs.getattr(objs[3]!), 'past the lifetime, a handle of a name an opaque directory made beside the server in the layer root hides no longer resolves to the image file');
  await t.rejects(at('var/lib/old'), { code: 'ENOENT' }, 'nor does its name');
  t.equal(readFileSync(join(lower, 'etc/ssh/sshd_config'), 'utf8'), 'Port 22\n', 'the image unchanged');
});

t.test('calls in flight together on image objects wait for one copy-up', async (t) => {
  const s = await setup(t);
  const { c, root } = await s.start();
  const etc = okv(await c.lookup(root, 'etc')).object;
  const motd = okv(await c.lookup(etc, 'motd')).object;
  // 16 pipelined WRITEs to an image file: the first copies it up, the others wait for that copy.
  const parts = Array.from({ length: 16 }, (_, i) => Buffer.from(`${i}`.padStart(4, '-')));
  const writes = await Promise.all(parts.map((p, i) => c.write(motd, BigInt(i * 4), p, StableHow.UNSTABLE)));
  t.same(writes.map((w) => w.status), parts.map(() => 0), 'every WRITE succeeded');
  t.equal(okv(await c.read(motd, 0n, 100)).data.toString(), Buffer.concat(parts).toString(), 'no write lost to a copy racing it');
  // CREATEs in an image directory at once: one copy-up of the directory.
  const varLib = okv(await c.lookup(okv(await c.lookup(root, 'var')).object, 'lib')).object;
  const made = await Promise.all(Array.from({ length: 8 }, (_, i) => c.create(varLib, `new-${i}`)));
  t.same(made.map((m) => m.status), made.map(() => 0), 'every CREATE succeeded');
  t.same(await names(c, varLib), ['new-0', 'new-1', 'new-2', 'new-3', 'new-4', 'new-5', 'new-6', 'new-7', 'old'].sort());
});

t.test('a new directory on a reused inode number gets a handle of its own', async (t) => {
  const s = await setup(t);
  const { c, root } = await s.start();
  okv(await c.mkdir(root, 'd1'));
  const old = okv(await c.mkdir(root, 'd2')).object!;
  const oldIno = lstatSync(join(s.node('198.18.0.21').upper, 'd2')).ino;
  okv(await c.rename(root, 'd1', root, 'd2'));
  // ext4 gives a freed inode number to the next new inode (the case the guest met); other processes on the
  // machine may take it first, so new directories are made (and removed) until one has it, at most 200.
  let made: Buffer | undefined;
  for (let i = 0; i < 200 && !made; i++) {
    const d = okv(await c.mkdir(root, 'd3')).object!;
    if (lstatSync(join(s.node('198.18.0.21').upper, 'd3')).ino === oldIno) made = d;
    else okv(await c.rmdir(root, 'd3'));
  }
  if (!made) {
    // tmpfs never reuses inode numbers, and a busy ext4 may hand this one elsewhere: the case cannot be staged.
    t.plan(0, `no new directory got inode ${oldIno} back in 200 tries (the file system did not reuse it)`);
    return;
  }
  t.not(made.toString('hex'), old.toString('hex'), 'its handle is not the handle of the directory renamed over');
  t.equal((await c.getattr(old)).status, NfsStat.STALE, "the replaced directory's handle is STALE");
  okv(await c.mkdir(made, 'sub'));
  t.same(await names(c, made), ['sub']);
});

t.test("REMOVE of a file's last name in the node layer holds it across unlinkat and lets go after", { skip: native ? false : 'the platform module is not built' }, async (t) => {
  const n = native!;
  const s = await setup(t);
  const { c, root } = await s.start();
  const big = okv(await c.create(root, 'big')).object!;
  okv(await c.write(big, 0n, Buffer.alloc(1 << 20, 1), StableHow.FILE_SYNC));
  const path = join(s.node('198.18.0.21').upper, 'big');
  const descriptorsOf = () => descriptorsOn(path);
  let during = -1;
  const unlinkat = n.unlinkat;
  t.teardown(() => Object.assign(n, { unlinkat }));
  Object.assign(n, {
    unlinkat: (...a: Parameters<typeof unlinkat>) => {
      if (Buffer.from(a[1]).toString() === 'big') during = descriptorsOf();
      return unlinkat(...a);
    },
  });
  okv(await c.remove(root, 'big'));
  t.ok(during >= 1, 'during unlinkat the server held the file open, so its blocks are not freed inside the call');
  // The descriptor held across the call is closed before the reply; one the root kept open for READ and WRITE is closed in the thread pool just after.
  await until(() => descriptorsOf() === 0, 'the server to close every descriptor of the file', 10_000);
  t.equal(descriptorsOf(), 0, 'and let go of it after');
});

t.test("RENAME over a file's last name in the node layer holds it across renameat2 and lets go after", { skip: native ? false : 'the platform module is not built' }, async (t) => {
  const n = native!;
  const s = await setup(t);
  const { c, root } = await s.start();
  // Made in the layer behind the server's back: no descriptor the root keeps for READ and WRITE, so only the hold can be open during the call.
  const path = join(s.node('198.18.0.21').upper, 'big');
  writeFileSync(path, Buffer.alloc(1 << 20, 1));
  okv(await c.create(root, 'small'));
  const bigIno = lstatSync(path).ino;
  const descriptorsOf = () => descriptorsOn(path);
  let during = -1;
  const renameat2 = n.renameat2;
  t.teardown(() => Object.assign(n, { renameat2 }));
  Object.assign(n, {
    renameat2: (...a: Parameters<typeof renameat2>) => {
      if (Buffer.from(a[3]).toString() === 'big') during = descriptorsOf();
      return renameat2(...a);
    },
  });
  okv(await c.rename(root, 'small', root, 'big'));
  t.ok(during >= 1, 'during renameat2 the server held the file renamed over open, so its blocks are not freed inside the call');
  // The descriptor held across the call is closed before the reply; one the root kept open for READ and WRITE is closed in the thread pool just after.
  await until(() => descriptorsOf() === 0, 'the server to close every descriptor of the file', 10_000);
  t.equal(descriptorsOf(), 0, 'and let go of it after');
  t.not(lstatSync(path).ino, bigIno, 'the name is the renamed file now');
  t.equal(okv(await c.getattr(okv(await c.lookup(root, 'big')).object)).attributes.size, 0n, 'served as the renamed file');
});

t.test('a large READ of a cached image file is copied without a promise only when its client waits on it alone and no other READ runs', { skip: native ? false : 'the platform module is not built' }, async (t) => {
  const content = Buffer.alloc(150_000, 'k');
  // directReadMax as on an NFS worker thread, where read() copies a lone large READ on the thread.
  const { lower, fs } = await bareOverlay(t, [{ name: 'boot/', type: '5' }, { name: 'boot/kernel', data: content }], { directReadMax: Infinity });
  const kernel = await fs.lookup(await fs.lookup(await fs.root(), Buffer.from('boot')), Buffer.from('kernel'));
  const first = Buffer.alloc(150_000);
  t.equal(await fs.read(kernel, first, 0, 150_000, 0), 150_000, 'read() opens the image file');
  readFileSync(join(lower, 'boot/kernel')); // in the page cache
  const now = Buffer.alloc(150_000);
  t.equal(fs.readNow(kernel, now, 0, 150_000, 0, true), 150_000, 'readNow: a large READ its client waits on alone');
  t.ok(now.equals(content), 'the file bytes');
  t.equal(fs.readNow(kernel, now, 0, 150_000, 0, false), -1, 'not when the client waits on others too');
  const running = fs.read(kernel, Buffer.alloc(150_000), 0, 150_000, 0);
  t.equal(fs.readNow(kernel, now, 0, 150_000, 0, true), -1, 'not while another READ runs on this thread');
  t.equal(await running, 150_000);
  t.equal(fs.readNow(kernel, now, 0, 8192, 0), 8192, 'a small one whatever else runs');
});

t.test('fileNow gives the open image file for a cached range it holds whole, and nothing for one past its end', { skip: native ? false : 'the platform module is not built' }, async (t) => {
  const content = Buffer.alloc(150_000, 'k');
  const { lower, fs } = await bareOverlay(t, [{ name: 'boot/', type: '5' }, { name: 'boot/kernel', data: content }], {});
  const kernel = await fs.lookup(await fs.lookup(await fs.root(), Buffer.from('boot')), Buffer.from('kernel'));
  t.equal(fs.fileNow(kernel, 0, 65_536), undefined, 'not before a READ opened the file');
  t.equal(await fs.read(kernel, Buffer.alloc(8192), 0, 8192, 0), 8192, 'read() opens the image file');
  readFileSync(join(lower, 'boot/kernel')); // in the page cache
  const fd = fs.fileNow(kernel, 4096, 65_536);
  t.type(fd, 'number', 'a cached range: the descriptor its bytes are sent from');
  const got = Buffer.alloc(65_536);
  t.equal(readSync(fd!, got, 0, 65_536, 4096), 65_536);
  t.ok(got.equals(content.subarray(4096, 4096 + 65_536)), 'the image file itself');
  t.equal(fs.fileNow(kernel, 150_000 - 1000, 65_536), undefined, 'a range past the end');
});
