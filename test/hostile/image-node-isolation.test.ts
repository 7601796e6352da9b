import t from 'tap';
import { chownSync, linkSync, lstatSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RpcServer } from '@netboot/oncrpc-xdr';
import { type AccessOptions, Ftype, NfsClient, NfsServer, NfsStat, StableHow, TimeHow, noSattr } from '@netboot/nfs3';
import { ImageStore, OverlayFs } from '@netboot/image-store';
import { isRoot, requireThat } from '../support/programs.js';
import { differences, snapshot, withoutAtimes } from './tree-snapshot.js';

// Two image-backed node roots over one image, each exported to its own
// address only (loopback aliases 127.0.0.2 and 127.0.0.3 stand for the two
// nodes), no_root_squash: node A's root user does everything NFS lets it do
// to its root, over image files (one hard-linked inside the image, all
// shared with the previous generation by hard link). Checked: the image's
// generations do not change (every fact but atimes: copy-up reads them),
// node B still sees the image as it was, node B's address is refused every
// call on node A's handles (and A on B's), and neither layer changes by it.

const rw: AccessOptions = { rw: true, rootSquash: false, allSquash: false, anonuid: 65534, anongid: 65534, secure: false };
const root = { flavor: 1 as const, stamp: 1, machine: 'node', uid: 0, gid: 0, gids: [0] };
const A = { ip: '198.18.0.21', addr: '127.0.0.2' };
const B = { ip: '198.18.0.22', addr: '127.0.0.3' };

function okv<T extends { status: number }>(r: T, what: string): Extract<T, { status: 0 }> {
  if (r.status !== 0) throw new Error(`${what}: status ${r.status}`);
  return r as Extract<T, { status: 0 }>;
}

t.test('a node can neither read another node\'s layer nor change the image', async (t) => {
  if (!requireThat(t, isRoot(), 'needs root: image owners and device nodes')) return;
  const base = mkdtempSync(join(tmpdir(), 'image-isolation-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const src = join(base, 'rootfs');
  for (const d of ['etc', 'usr/bin', 'usr/lib', 'var/log', 'home/user']) mkdirSync(join(src, d), { recursive: true });
  writeFileSync(join(src, 'etc/hostname'), 'image\n');
  writeFileSync(join(src, 'etc/motd'), 'welcome\n');
  writeFileSync(join(src, 'usr/bin/tool'), 'ELF tool', { mode: 0o4755 });
  writeFileSync(join(src, 'usr/lib/libshared.so'), 'shared library\n');
  linkSync(join(src, 'usr/lib/libshared.so'), join(src, 'usr/lib/libshared.so.1'));
  writeFileSync(join(src, 'var/log/boot.log'), 'old log\n');
  writeFileSync(join(src, 'home/user/.profile'), 'PS1=$\n');
  chownSync(join(src, 'home/user'), 1000, 1000);
  chownSync(join(src, 'home/user/.profile'), 1000, 1000);

  const store = new ImageStore(join(base, 'state'));
  await store.import('deb', { kind: 'directory', path: src });
  const { generation } = await store.import('deb', { kind: 'directory', path: src });
  const lower = store.generationPath('deb', generation);
  const g1 = store.generationPath('deb', generation - 1);
  t.equal(lstatSync(join(lower, 'usr/lib/libshared.so')).ino, lstatSync(join(g1, 'usr/lib/libshared.so')).ino, 'the generations share the file by hard link');
  t.equal(lstatSync(join(lower, 'usr/lib/libshared.so.1')).ino, lstatSync(join(lower, 'usr/lib/libshared.so')).ino, 'a hard link inside the image');
  const images = join(base, 'state', 'images');
  const imagesBefore = withoutAtimes(snapshot(images));

  const layer = (n: typeof A) => join(base, 'state', 'nodes', n.ip);
  const server = await NfsServer.create({
    exports: [A, B].map((n, i) => ({ id: i + 1, path: `/diskless/${n.ip}`, optionsFor: (addr: string) => (addr === n.addr ? rw : undefined) })),
    handleKey: Buffer.alloc(32, 5),
    log: () => {},
    backend: async (def) => {
      const n = def.path.endsWith(A.ip) ? A : B;
      return OverlayFs.open(lower, join(layer(n), 'upper'), join(layer(n), 'origins.json'));
    },
  });
  const rpc = new RpcServer({ log: () => {} });
  server.register(rpc);
  const port = await rpc.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(async () => {
    server.close();
    await rpc.close();
  });
  const connect = async (n: typeof A) => {
    const c = await NfsClient.connect({ host: '127.0.0.1', port, transport: 'tcp', cred: root, localAddress: n.addr, timeoutMs: 60_000 });
    t.teardown(() => c.close());
    return c;
  };
  const [a, b] = [await connect(A), await connect(B)];
  const aRoot = server.rootHandle(`/diskless/${A.ip}`)!;
  const bRoot = server.rootHandle(`/diskless/${B.ip}`)!;
  const at = async (c: NfsClient, dir: Buffer, path: string) => {
    let h = dir;
    for (const name of path.split('/')) h = okv(await c.lookup(h, name), `LOOKUP ${path}`).object;
    return h;
  };

  // Node A changes everything it can, over image files.
  const etc = await at(a, aRoot, 'etc');
  const hostname = await at(a, aRoot, 'etc/hostname');
  okv(await a.setattr(hostname, { size: 0n }), 'SETATTR size');
  okv(await a.write(hostname, 0n, Buffer.from('node-a\n'), StableHow.FILE_SYNC), 'WRITE');
  const tool = await at(a, aRoot, 'usr/bin/tool');
  const time = { seconds: 1_000_000_000, nseconds: 5 };
  okv(await a.setattr(tool, { mode: 0o700, uid: 1000, gid: 1000, atime: { how: TimeHow.SET_TO_CLIENT_TIME, time }, mtime: { how: TimeHow.SET_TO_CLIENT_TIME, time } }), 'SETATTR all');
  const shared = await at(a, aRoot, 'usr/lib/libshared.so');
  okv(await a.write(shared, 0n, Buffer.from('PATCHED'), StableHow.FILE_SYNC), 'WRITE to a hard-linked image file');
  okv(await a.link(await at(a, aRoot, 'usr/lib/libshared.so.1'), aRoot, 'hard'), 'LINK of an image file');
  okv(await a.write(await at(a, aRoot, 'hard'), 0n, Buffer.from('THROUGH-LINK'), StableHow.FILE_SYNC), 'WRITE through the new link');
  okv(await a.remove(etc, 'motd'), 'REMOVE an image file');
  okv(await a.rename(await at(a, aRoot, 'home'), 'user', aRoot, 'moved-home'), 'RENAME an image directory');
  okv(await a.remove(await at(a, aRoot, 'var/log'), 'boot.log'), 'REMOVE');
  okv(await a.rmdir(await at(a, aRoot, 'var'), 'log'), 'RMDIR an image directory');
  okv(await a.mkdir(await at(a, aRoot, 'var'), 'log'), 'MKDIR over its whiteout');
  okv(await a.create(await at(a, aRoot, 'var/log'), 'new.log'), 'CREATE');
  okv(await a.mknod(etc, 'null', { type: Ftype.CHR, attributes: { ...noSattr(), mode: 0o666 }, spec: { specdata1: 1, specdata2: 3 } }), 'MKNOD');
  okv(await a.symlink(etc, 'localtime', '/usr/share/zoneinfo/UTC'), 'SYMLINK');
  okv(await a.setattr(aRoot, { mode: 0o700 }), 'SETATTR of the root');
  const made = await at(a, aRoot, 'var/log/new.log');
  okv(await a.write(made, 0n, Buffer.from('A only\n'), StableHow.FILE_SYNC), 'WRITE to a file of the layer');

  t.same(differences(imagesBefore, withoutAtimes(snapshot(images))), [], 'both generations are as imported: contents, modes, owners, times, link counts');

  // Node B sees the image as it was.
  const read = async (c: NfsClient, r: Buffer, path: string) => okv(await c.read(await at(c, r, path), 0n, 100), `READ ${path}`).data.toString();
  t.equal(await read(b, bRoot, 'etc/hostname'), 'image\n');
  t.equal(await read(b, bRoot, 'usr/lib/libshared.so.1'), 'shared library\n');
  t.equal(await read(b, bRoot, 'etc/motd'), 'welcome\n');
  t.equal(okv(await b.getattr(await at(b, bRoot, 'usr/bin/tool')), 'GETATTR').attributes.mode & 0o7777, 0o4755);
  t.equal((await b.lookup(bRoot, 'hard')).status, NfsStat.NOENT, 'A\'s new names are not in B\'s root');
  const bHostname = await at(b, bRoot, 'etc/hostname');
  okv(await b.write(bHostname, 0n, Buffer.from('node-b\n'), StableHow.FILE_SYNC), 'B writes its own hostname');

  // Each node's handles, presented from the other's address: every call refused, nothing changes.
  for (const n of [A, B]) snapshot(join(layer(n), 'upper')); // settles directory and symlink atimes (see snapshot)
  const layersBefore = new Map([A, B].map((n) => [n.ip, snapshot(join(layer(n), 'upper'))]));
  const tries = async (c: NfsClient, h: { dir: Buffer; file: Buffer }) => [
    ['GETATTR', await c.getattr(h.file)],
    ['LOOKUP', await c.lookup(h.dir, 'hostname')],
    ['READ', await c.read(h.file, 0n, 100)],
    ['WRITE', await c.write(h.file, 0n, Buffer.from('stolen'), StableHow.FILE_SYNC)],
    ['SETATTR', await c.setattr(h.file, { mode: 0o777, size: 0n })],
    ['CREATE', await c.create(h.dir, 'planted')],
    ['MKDIR', await c.mkdir(h.dir, 'planted-dir')],
    ['REMOVE', await c.remove(h.dir, 'hostname')],
    ['RENAME', await c.rename(h.dir, 'hostname', h.dir, 'renamed')],
    ['LINK', await c.link(h.file, h.dir, 'linked')],
    ['READDIR', await c.readdir(h.dir)],
  ] as const;
  const aEtc = etc;
  const bEtc = await at(b, bRoot, 'etc');
  for (const [who, c, h] of [
    ['B with A\'s handles', b, { dir: aEtc, file: hostname }],
    ['B with A\'s layer-only file', b, { dir: aRoot, file: made }],
    ['A with B\'s handles', a, { dir: bEtc, file: bHostname }],
  ] as const) {
    for (const [proc, r] of await tries(c, h)) t.equal(r.status, NfsStat.ACCES, `${who}: ${proc} refused`);
  }
  for (const n of [A, B]) t.same(differences(layersBefore.get(n.ip)!, snapshot(join(layer(n), 'upper'))), [], `node ${n.ip}'s layer unchanged by the other`);
  t.equal(await read(a, aRoot, 'etc/hostname'), 'node-a\n', 'A still reads its own hostname');
  t.equal(await read(b, bRoot, 'etc/hostname'), 'node-b\n', 'B still reads its own');
  t.same(differences(imagesBefore, withoutAtimes(snapshot(images))), [], 'the image is still as imported');
});
