import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageStore, TarError, UnsafeEntryError } from '@netboot/image-store';
import { native } from '@netboot/platform';
import { requirePrograms } from '../../../test/support/programs.js';
import { tar, type Member } from './tar-writer.js';

const root = process.getuid?.() === 0;

function fresh(t: { teardown(f: () => void): void }): { dir: string; store: ImageStore } {
  const dir = mkdtempSync(join(tmpdir(), 'image-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, store: new ImageStore(join(dir, 'state')) };
}

async function* once(b: Buffer): AsyncGenerator<Uint8Array> {
  yield b;
}
const fromTar = (members: Member[]) => ({ kind: 'tar' as const, stream: once(tar(members)) });

const BASE: Member[] = [
  { name: './', type: '5', mode: 0o755 },
  { name: './etc/', type: '5', mode: 0o755 },
  { name: './etc/passwd', data: 'root:x:0:0::/root:/bin/sh\n', mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_001 },
  { name: './etc/big', data: Buffer.alloc(200_000, 1), mtime: 1_700_000_002 },
  { name: './usr/bin/su', data: 'ELF', mode: 0o4755, uid: 0, gid: 0 },
  { name: './usr/bin/wall', data: 'ELF', mode: 0o2755, uid: 0, gid: 5 },
  { name: './home/user/', type: '5', mode: 0o700, uid: 1000, gid: 1000, mtime: 1_600_000_000 },
  { name: './home/user/.profile', data: 'PS1=$\n', uid: 1000, gid: 1000, mode: 0o600, mtime: 1_600_000_001 },
  { name: './tmp/', type: '5', mode: 0o1777 },
  { name: './etc/localtime', type: '2', linkname: '/usr/share/zoneinfo/UTC', mtime: 1_650_000_000 },
  { name: './bin', type: '2', linkname: 'usr/bin' },
  { name: './usr/bin/su2', type: '1', linkname: './usr/bin/su' },
  { name: './dev/null', type: '3', devmajor: 1, devminor: 3, mode: 0o666 },
  { name: './dev/sda', type: '4', devmajor: 8, devminor: 0, mode: 0o660, gid: 6 },
  { name: './run/initctl', type: '6', mode: 0o600 },
  { name: './etc/secret', data: 'x', pax: { 'SCHILY.xattr.user.tag': Buffer.from([0, 1, 0xfe]) } },
  { name: './etc/exact', data: 'x', pax: { mtime: '1700000000.123456789' } },
];

t.test('an import keeps owners, modes, devices, fifos, symlinks, hard links and mtimes exactly', { skip: !root && 'needs root (owners, device nodes)' }, async (t) => {
  const { store } = fresh(t);
  const { generation } = await store.import('deb', fromTar(BASE));
  t.equal(generation, 1);
  const g = store.generationPath('deb', 1);
  const st = (p: string) => lstatSync(join(g, p));
  t.equal(st('usr/bin/su').mode & 0o7777, 0o4755, 'setuid kept (mode set after chown)');
  t.equal(st('usr/bin/wall').mode & 0o7777, 0o2755, 'setgid kept');
  t.match(st('usr/bin/wall'), { gid: 5 });
  t.match(st('home/user'), { uid: 1000, gid: 1000, mode: 0o40700 }, 'directory owner and mode');
  t.equal(st('home/user').mtimeMs, 1_600_000_000_000, 'directory mtime set after its contents');
  t.equal(st('home/user/.profile').mtimeMs, 1_600_000_001_000);
  t.equal(st('tmp').mode & 0o7777, 0o1777, 'sticky');
  t.equal(readlinkSync(join(g, 'etc/localtime')), '/usr/share/zoneinfo/UTC', 'absolute symlink kept as text');
  t.equal(st('etc/localtime').mtimeMs, 1_650_000_000_000, 'symlink mtime');
  t.equal(st('usr/bin/su2').ino, st('usr/bin/su').ino, 'hard link');
  t.ok(st('dev/null').isCharacterDevice() && st('dev/null').rdev === ((1 << 8) | 3), 'char device 1,3');
  t.ok(st('dev/sda').isBlockDevice() && st('dev/sda').rdev === 8 << 8, 'block device 8,0');
  t.equal(st('dev/null').mode & 0o7777, 0o666);
  t.ok(st('run/initctl').isFIFO(), 'fifo');
  t.equal(readFileSync(join(g, 'etc/big')).length, 200_000);
  t.equal(lstatSync(join(g, 'etc/exact'), { bigint: true }).mtimeNs, 1_700_000_000_123_456_789n, 'a pax mtime to the nanosecond');
  const getfattr = requirePrograms(t, { getfattr: 'attr' });
  if (getfattr) {
    const out = execFileSync(getfattr.getfattr, ['--absolute-names', '-e', 'hex', '-n', 'user.tag', join(g, 'etc/secret')], { encoding: 'utf8' });
    t.match(out, /user\.tag=0x0001fe/, 'SCHILY.xattr kept as an xattr');
  }
  t.same(await store.list(), [{ name: 'deb', generations: [1], promoted: 1 }], 'the first generation is promoted');
});

t.test('an import starts no helper program: with no PATH it still makes devices and keeps xattrs and nanosecond times', { skip: (!root && 'needs root (device nodes)') || (!native && 'portable mode: devices and the flush need coreutils') }, async (t) => {
  const { store } = fresh(t);
  const path = process.env.PATH;
  process.env.PATH = '/nonexistent';
  t.teardown(() => {
    process.env.PATH = path;
  });
  await store.import('deb', fromTar(BASE));
  process.env.PATH = path;
  const g = store.generationPath('deb', 1);
  t.ok(lstatSync(join(g, 'dev/null')).isCharacterDevice(), 'char device made by mknodat');
  t.ok(lstatSync(join(g, 'run/initctl')).isFIFO(), 'fifo');
  t.equal(lstatSync(join(g, 'etc/exact'), { bigint: true }).mtimeNs, 1_700_000_000_123_456_789n, 'utimensat to the nanosecond');
  t.same(native!.lgetxattr(join(g, 'etc/secret'), 'user.tag'), Buffer.from([0, 1, 0xfe]), 'lsetxattr');
});

t.test('a new generation shares unchanged files and writes only what changed', async (t) => {
  const { store } = fresh(t);
  await store.import('deb', fromTar(BASE.filter((m) => m.type !== '3' && m.type !== '4')));
  const changed = BASE.filter((m) => m.type !== '3' && m.type !== '4').map((m) => (m.name === './etc/passwd' ? { ...m, data: 'root:x:0:0::/root:/bin/bash\n' } : m));
  const r = await store.import('deb', fromTar(changed));
  t.equal(r.generation, 2);
  const g1 = store.generationPath('deb', 1);
  const g2 = store.generationPath('deb', 2);
  t.equal(lstatSync(join(g2, 'etc/big')).ino, lstatSync(join(g1, 'etc/big')).ino, 'the unchanged 200 kB file is the same inode');
  t.not(lstatSync(join(g2, 'etc/passwd')).ino, lstatSync(join(g1, 'etc/passwd')).ino, 'the changed file is new');
  t.equal(readFileSync(join(g1, 'etc/passwd'), 'utf8'), 'root:x:0:0::/root:/bin/sh\n', 'the old generation is unchanged');
  t.equal(readFileSync(join(g2, 'etc/passwd'), 'utf8'), 'root:x:0:0::/root:/bin/bash\n');
  t.ok(r.stats.bytesWritten < 1000, `a small update costs its size (${r.stats.bytesWritten} bytes written)`);
  t.ok(r.stats.bytesShared >= 200_000, 'the rest is shared');
  const touched = changed.map((m) => (m.name === './etc/big' ? { ...m, mtime: 1_700_000_999 } : m));
  await store.import('deb', fromTar(touched));
  t.not(lstatSync(join(store.generationPath('deb', 3), 'etc/big')).ino, lstatSync(join(g2, 'etc/big')).ino, 'same bytes but another mtime is not shared (metadata lives in the inode)');
  t.equal(lstatSync(join(g2, 'etc/big')).mtimeMs, 1_700_000_002_000, 'and the shared inode kept its mtime');
});

t.test('promote and rollback move the pointer; a generation must exist', async (t) => {
  const { store } = fresh(t);
  for (let i = 0; i < 3; i++) await store.import('img', fromTar([{ name: 'f', data: String(i) }]));
  t.equal(await store.promoted('img'), 1);
  await store.promote('img', 3);
  await store.promote('img', 2);
  t.equal(await store.promoted('img'), 2);
  t.equal(await store.rollback('img'), 3);
  t.equal(await store.rollback('img'), 1);
  await t.rejects(store.rollback('img'), /no earlier promoted generation/);
  await t.rejects(store.promote('img', 9), /no generation 9/);
  await t.rejects(store.import('../x', fromTar([])), /image name/);
});

/** Each hostile archive: refused with the entry's name, nothing outside, no generation, no leftovers. */
const HOSTILE: [string, Member[], RegExp][] = [
  ['an absolute name', [{ name: '/etc/passwd', data: 'x' }], /"\/etc\/passwd": absolute name/],
  ['a ".." component', [{ name: 'a/../../escape', data: 'x' }], /"a\/..\/..\/escape".*"\.\."/],
  ['a symlink pointing outside', [{ name: 'evil', type: '2', linkname: '../../../../outside' }], /"evil": symlink .* outside/],
  ['a hard link pointing outside', [{ name: 'h', type: '1', linkname: '../outside' }], /"h": hard link target .*"\.\."/],
  ['an absolute hard link', [{ name: 'h', type: '1', linkname: '/etc/shadow' }], /"h": absolute hard link target/],
  ['a hard link to a name not in the archive', [{ name: 'h', type: '1', linkname: 'nowhere' }], /"h": hard link target "nowhere" is not an earlier entry/],
  ['an entry under a symlink made earlier', [{ name: 'lnk', type: '2', linkname: '/' }, { name: 'lnk/escape', data: 'x' }], /"lnk\/escape": lies under "lnk", a symlink/],
  ['a hard link through a symlink made earlier', [{ name: 'lnk', type: '2', linkname: 'etc' }, { name: 'etc/', type: '5' }, { name: 'etc/f', data: 'x' }, { name: 'h', type: '1', linkname: 'lnk/f' }], /"h": hard link target "lnk\/f" lies under a symlink/],
  ['a file replacing a directory', [{ name: 'd/', type: '5' }, { name: 'd', data: 'x' }], /"d": would replace a directory/],
];

t.test('hostile archives are refused naming the entry, and leave nothing behind', async (t) => {
  const { dir, store } = fresh(t);
  const outside = join(dir, 'outside');
  for (const [what, members, message] of HOSTILE) {
    await t.rejects(store.import('img', fromTar(members)), message, what);
    t.notOk(existsSync(outside), `${what}: nothing written outside`);
  }
  t.same(await store.generations('img'), [], 'no generation appeared');
  t.same(readdirSync(join(store.imagesDir, 'img')), [], 'no half-built generation left');
});

t.test('a hard link to a symlink pointing outside is refused even when the symlink slipped in', async (t) => {
  const { store } = fresh(t);
  // The symlink itself is refused first: nothing can link to what never got in.
  await t.rejects(store.import('img', fromTar([{ name: 's', type: '2', linkname: '../../x' }, { name: 'h', type: '1', linkname: 's' }])), /"s": symlink/);
  const r = await store.import('img', fromTar([{ name: 'd/', type: '5' }, { name: 'd/s', type: '2', linkname: '../etc' }, { name: 'h', type: '1', linkname: 'd/s' }]));
  t.equal(r.generation, 1, 'a hard link to a symlink inside the image is fine');
});

t.test('damaged streams are refused with a TarError naming the entry; the earlier generation stays promoted', async (t) => {
  const { store } = fresh(t);
  await store.import('img', fromTar([{ name: 'ok', data: 'x' }]));
  const cut = tar([{ name: 'etc/shadow', data: 'y'.repeat(2000) }]).subarray(0, 1000);
  const err = await store.import('img', { kind: 'tar', stream: once(cut) }).catch((e: unknown) => e);
  t.ok(err instanceof TarError && err.code === 'truncated' && err.entry === 'etc/shadow', 'truncated, naming etc/shadow');
  const bad = tar([{ name: 'a', data: 'x' }]);
  bad[10] ^= 0x40;
  await t.rejects(store.import('img', { kind: 'tar', stream: once(bad) }), { code: 'checksum' });
  t.same(await store.generations('img'), [1]);
  t.equal(await store.promoted('img'), 1);
  t.notOk(readdirSync(join(store.imagesDir, 'img')).some((n) => n.startsWith('.tmp-')), 'no .tmp left');
});

t.test('a directory import gives the same tree as its tar, and refuses nothing it should keep', async (t) => {
  const { dir, store } = fresh(t);
  const src = join(dir, 'src');
  mkdirSync(join(src, 'etc'), { recursive: true });
  writeFileSync(join(src, 'etc/hostname'), 'node\n');
  execFileSync('ln', ['-s', '../etc/hostname', join(src, 'etc/link')]);
  execFileSync('ln', [join(src, 'etc/hostname'), join(src, 'hard')]);
  await store.import('dir', { kind: 'directory', path: src });
  const g = store.generationPath('dir', 1);
  t.equal(readFileSync(join(g, 'etc/hostname'), 'utf8'), 'node\n');
  t.equal(readlinkSync(join(g, 'etc/link')), '../etc/hostname');
  t.equal(lstatSync(join(g, 'hard')).ino, lstatSync(join(g, 'etc/hostname')).ino, 'hard links stay hard links');
  t.equal(lstatSync(join(g, 'etc/hostname'), { bigint: true }).mtimeNs, lstatSync(join(src, 'etc/hostname'), { bigint: true }).mtimeNs, 'mtime to the nanosecond');
  const again = await store.import('dir', { kind: 'directory', path: src });
  t.equal(again.stats.filesShared, 1, 'a second import of the same tree shares its file');
});
