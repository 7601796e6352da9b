import t from 'tap';
import fc from 'fast-check';
import { lstatSync, mkdirSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { Ftype, NfsStat, StableHow } from '@netboot/nfs3';
import type { NfsClient } from '@netboot/nfs3';
import { harness, ok } from './harness.js';

// File names are bytes: names in legacy encodings and byte sequences that are not UTF-8 at all
// must list, look up, create, rename and remove byte for byte, as on knfsd.

const NAMES: Record<string, Buffer> = {
  'Latin-1 "café.txt"': Buffer.from('caf\xe9.txt', 'latin1'),
  'Shift-JIS "日本語"': Buffer.from([0x93, 0xfa, 0x96, 0x7b, 0x8c, 0xea]),
  'EUC-KR "한국어"': Buffer.from([0xc7, 0xd1, 0xb1, 0xb9, 0xbe, 0xee]),
  'invalid UTF-8 ff fe 80': Buffer.from([0xff, 0xfe, 0x80]),
  'overlong "/" c0 af': Buffer.from([0x61, 0xc0, 0xaf, 0x62]),
  'a lone surrogate ed a0 80': Buffer.from([0xed, 0xa0, 0x80]),
  'control characters': Buffer.from('a\nb\x1b[2J', 'latin1'),
  'UTF-8 "héllo"': Buffer.from('héllo', 'utf8'),
};

/** Raw names of a local directory. */
const localNames = (dir: string): Buffer[] => readdirSync(Buffer.from(dir), { encoding: 'buffer' });
const has = (names: readonly Uint8Array[], name: Uint8Array) => names.some((n) => Buffer.compare(n, name) === 0);
const under = (dir: string | Buffer, name: Uint8Array) => Buffer.concat([Buffer.from(dir), Buffer.from('/'), name]);

/** Every name READDIR (or READDIRPLUS) gives, page by page. */
async function listAll(c: NfsClient, dir: Buffer, plus: boolean): Promise<Buffer[]> {
  const names: Buffer[] = [];
  let cookie = 0n;
  let verf: Buffer | undefined;
  for (let pages = 0; pages < 100; pages++) {
    const r = plus ? await c.readdirplus(dir, cookie, verf) : await c.readdir(dir, cookie, verf);
    if (r.status !== 0) throw new Error(`${plus ? 'READDIRPLUS' : 'READDIR'}: status ${r.status}`);
    for (const e of r.entries) names.push(e.name);
    if (r.eof || r.entries.length === 0) break;
    cookie = r.entries[r.entries.length - 1]!.cookie;
    verf = r.cookieverf;
  }
  return names;
}

t.test('names made on the server list and look up byte for byte', async (t) => {
  const h = await harness(t);
  for (const name of Object.values(NAMES)) writeFileSync(under(h.dir, name), name);
  const c = await h.client();
  for (const plus of [false, true]) {
    const listed = await listAll(c, h.root, plus);
    for (const [what, name] of Object.entries(NAMES)) t.ok(has(listed, name), `${plus ? 'READDIRPLUS' : 'READDIR'} lists ${what} as its bytes`);
  }
  for (const [what, name] of Object.entries(NAMES)) {
    const r = ok(t, await c.lookup(h.root, name), `LOOKUP ${what}`);
    t.equal(r.attributes!.fileid, lstatSync(under(h.dir, name), { bigint: true }).ino, `${what}: the same inode`);
    const data = ok(t, await c.read(r.object, 0n, 100)).data;
    t.same(data, name, `${what}: READ gives that file's contents`);
  }
  t.equal((await c.lookup(h.root, Buffer.from('caf\ufffd.txt'))).status, NfsStat.NOENT, 'the name with a replacement character is another name');
});

t.test('CREATE, MKDIR, RENAME, LINK, MKNOD, REMOVE and RMDIR of byte names', async (t) => {
  const h = await harness(t);
  const c = await h.client();
  const names = Object.values(NAMES);
  for (const [what, name] of Object.entries(NAMES)) {
    const f = ok(t, await c.create(h.root, name), `CREATE ${what}`).object!;
    ok(t, await c.write(f, 0n, Buffer.from('x'), StableHow.FILE_SYNC));
    t.ok(has(localNames(h.dir), name), `${what}: on disk as its bytes`);
  }
  const sjis = NAMES['Shift-JIS "日本語"']!;
  const euckr = NAMES['EUC-KR "한국어"']!;
  const latin1 = NAMES['Latin-1 "café.txt"']!;
  const bad = Buffer.from([0xfe, 0xc1, 0x80, 0xff]);
  // A directory with a non-UTF-8 name, and objects of every kind inside it.
  const d = ok(t, await c.mkdir(h.root, bad), 'MKDIR of an invalid UTF-8 name fe c1 80 ff').object!;
  t.ok(lstatSync(under(h.dir, bad)).isDirectory());
  const inner = ok(t, await c.create(d, sjis), 'CREATE inside it').object!;
  ok(t, await c.write(inner, 0n, Buffer.from('inner'), StableHow.FILE_SYNC));
  t.equal(lstatSync(Buffer.concat([under(h.dir, bad), Buffer.from('/'), sjis])).size, 5, 'the file inside the non-UTF-8 directory');
  ok(t, await c.mknod(d, latin1, { type: Ftype.FIFO, attributes: { mode: 0o644, uid: undefined, gid: undefined, size: undefined, atime: { how: 0 }, mtime: { how: 0 } } }), 'MKNOD a FIFO of a Latin-1 name');
  t.ok(lstatSync(Buffer.concat([under(h.dir, bad), Buffer.from('/'), latin1])).isFIFO(), 'the FIFO has its name');
  t.notOk(readdirSync(under(h.dir, bad), { encoding: 'buffer' }).some((n) => n.toString('latin1').startsWith('.nfs-node-')), 'no temporary name left');
  ok(t, await c.link(inner, h.root, euckr.subarray(0, 4)), 'LINK under a name cut mid-character');
  t.equal(lstatSync(under(h.dir, euckr.subarray(0, 4))).nlink, 2);

  ok(t, await c.rename(h.root, sjis, d, euckr), 'RENAME Shift-JIS -> EUC-KR into the other directory');
  t.notOk(has(localNames(h.dir), sjis));
  t.ok(has(readdirSync(under(h.dir, bad), { encoding: 'buffer' }), euckr), 'on disk under its new name');
  t.equal((await c.lookup(d, euckr)).status, 0, 'found by its new name');
  t.equal((await c.lookup(h.root, sjis)).status, NfsStat.NOENT, 'gone from the old one');
  t.equal((await c.rmdir(h.root, bad)).status, NfsStat.NOTEMPTY, 'RMDIR of a full directory');
  for (const name of [sjis, euckr, latin1]) ok(t, await c.remove(d, name), 'REMOVE inside it');
  ok(t, await c.rmdir(h.root, bad), 'RMDIR of the invalid UTF-8 name');
  for (const name of names.filter((n) => n !== sjis)) ok(t, await c.remove(h.root, name), 'REMOVE');
  ok(t, await c.remove(h.root, euckr.subarray(0, 4)));
  t.same(localNames(h.dir), [], 'everything removed by its bytes');
});

t.test('symlink targets are bytes; handles in non-UTF-8 directories survive a restart', async (t) => {
  let h = await harness(t);
  let c = await h.client();
  const target = Buffer.concat([Buffer.from('../'), NAMES['Shift-JIS "日本語"']!, Buffer.from('/'), NAMES['invalid UTF-8 ff fe 80']!]);
  const l = ok(t, await c.symlink(h.root, NAMES['EUC-KR "한국어"']!, target), 'SYMLINK with a non-UTF-8 target').object!;
  t.same(readlinkSync(under(h.dir, NAMES['EUC-KR "한국어"']!), { encoding: 'buffer' }), target, 'the link holds the target bytes');
  t.same(ok(t, await c.readlink(l)).data, target, 'READLINK gives them back');
  t.equal((await c.symlink(h.root, 'nul', Buffer.from('a\0b'))).status, NfsStat.INVAL, 'a target with NUL: NFS3ERR_INVAL');

  const deep = [NAMES['Latin-1 "café.txt"']!, NAMES['invalid UTF-8 ff fe 80']!, NAMES['control characters']!];
  const deepPath = Buffer.concat([Buffer.from(h.dir), ...deep.map((n) => Buffer.concat([Buffer.from('/'), n]))]);
  mkdirSync(deepPath, { recursive: true });
  writeFileSync(Buffer.concat([deepPath, Buffer.from('/f')]), 'deep');
  let dir = h.root;
  for (const n of deep) dir = ok(t, await c.lookup(dir, n)).object;
  const f = ok(t, await c.lookup(dir, 'f')).object;
  h = await h.restart();
  c = await h.client();
  t.same(ok(t, await c.read(f, 0n, 10), 'the handle after a restart (found by the inode walk)').data, Buffer.from('deep'));
});

t.test('name length is counted in bytes', async (t) => {
  const h = await harness(t);
  const c = await h.client();
  const twoByte = Buffer.alloc(254, 0xe9);
  ok(t, await c.create(h.root, Buffer.concat([twoByte, Buffer.from('a')])), '255 bytes: allowed');
  t.equal((await c.create(h.root, Buffer.alloc(256, 0xe9))).status, NfsStat.NAMETOOLONG, '256 bytes: NFS3ERR_NAMETOOLONG');
  t.equal((await c.lookup(h.root, Buffer.alloc(256, 0x93))).status, NfsStat.NAMETOOLONG, 'also for LOOKUP');
  t.equal((await c.create(h.root, Buffer.from([0xe9, 0x2f, 0xe9]))).status, NfsStat.ACCES, 'a name holding "/"');
  t.equal((await c.create(h.root, Buffer.from([0xe9, 0x00]))).status, NfsStat.ACCES, 'a name holding NUL');
});

t.test('property: random byte names round-trip CREATE -> READDIR -> LOOKUP -> REMOVE', async (t) => {
  const h = await harness(t);
  const c = await h.client();
  const name = fc
    .uint8Array({ minLength: 1, maxLength: 255 })
    .map((a) => Buffer.from(a.map((b) => (b === 0 || b === 0x2f ? 0x5f : b))))
    .filter((n) => n.toString('latin1') !== '.' && n.toString('latin1') !== '..');
  await fc.assert(
    fc.asyncProperty(name, async (n) => {
      const made = await c.create(h.root, n);
      if (made.status !== 0) return false;
      const listed = await listAll(c, h.root, true);
      const found = await c.lookup(h.root, n);
      const removed = await c.remove(h.root, n);
      const after = await c.lookup(h.root, n);
      return (
        has(listed, n) &&
        found.status === 0 &&
        Buffer.compare(found.object, made.object!) === 0 &&
        removed.status === 0 &&
        after.status === NfsStat.NOENT &&
        localNames(h.dir).length === 0
      );
    }),
    { seed: 15, numRuns: 150 },
  );
  t.pass('150 random names');
});
