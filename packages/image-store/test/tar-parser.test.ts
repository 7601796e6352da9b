import t, { type Test } from 'tap';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync, mkdirSync, symlinkSync, linkSync, chownSync, chmodSync, utimesSync, lutimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TarError, TarParser, type TarEntry, type TarEvent } from '@netboot/image-store';
import { requirePrograms } from '../../../test/support/programs.js';
import { header, tar } from './tar-writer.js';

interface Parsed {
  entry: TarEntry;
  data: Buffer;
}

/** Parses `bytes` fed in the given chunk sizes (cycled). */
function parse(bytes: Uint8Array, chunks: number[] = [bytes.length || 1]): Parsed[] {
  const p = new TarParser();
  const out: Parsed[] = [];
  let cur: { entry: TarEntry; parts: Uint8Array[] } | undefined;
  const take = (evs: TarEvent[]) => {
    for (const ev of evs) {
      if (ev.kind === 'entry') cur = { entry: ev.entry, parts: [] };
      else if (ev.kind === 'data') cur!.parts.push(Buffer.from(ev.bytes));
      else out.push({ entry: cur!.entry, data: Buffer.concat(cur!.parts) });
    }
  };
  for (let i = 0, k = 0; i < bytes.length; k++) {
    const n = Math.max(1, chunks[k % chunks.length]!);
    take(p.push(bytes.subarray(i, i + n)));
    i += n;
  }
  p.end();
  return out;
}

function catchTar(f: () => unknown): TarError {
  try {
    f();
  } catch (err) {
    if (err instanceof TarError) return err;
    throw err;
  }
  throw new Error('no TarError');
}

const MTIME = 1_700_000_123;

/** A tree with every kind of entry a root file system has. */
function makeTree(dir: string): void {
  mkdirSync(join(dir, 'etc/deep'), { recursive: true });
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
  writeFileSync(join(dir, 'empty'), '');
  writeFileSync(join(dir, 'big'), Buffer.alloc(70_000, 7));
  linkSync(join(dir, 'etc/passwd'), join(dir, 'etc/passwd-link'));
  symlinkSync('../etc/passwd', join(dir, 'etc/deep/rel'));
  symlinkSync('/usr/share/zoneinfo/UTC', join(dir, 'etc/localtime'));
  const long = 'd'.repeat(90) + '/' + 'e'.repeat(90) + '/' + 'f'.repeat(120);
  mkdirSync(join(dir, long.split('/').slice(0, 2).join('/')), { recursive: true });
  writeFileSync(join(dir, long), 'long name\n');
  symlinkSync('t'.repeat(150), join(dir, 'longlink'));
  writeFileSync(join(dir, 'suid'), '#!/bin/sh\n');
  chmodSync(join(dir, 'suid'), 0o4755);
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  if (process.getuid?.() === 0) {
    execFileSync('mknod', [join(dir, 'null'), 'c', '1', '3']);
    chownSync(join(dir, 'etc/passwd'), 3_000_000, 42);
  }
  writeFileSync(join(dir, 'ünïcode'), 'x');
  for (const rel of ['etc/deep/rel', 'etc/localtime', 'longlink']) lutimesSync(join(dir, rel), MTIME, MTIME);
  for (const rel of ['etc/passwd', 'empty', 'big', long, 'suid', 'fifo', 'ünïcode', ...(process.getuid?.() === 0 ? ['null'] : [])]) utimesSync(join(dir, rel), MTIME, MTIME);
}

/** Each parsed entry agrees with lstat of the tree it was made from. */
function checkAgainstTree(t: Test, dir: string, entries: Parsed[], label: string): void {
  const names = new Set<string>();
  for (const { entry: e, data } of entries) {
    const rel = e.path.replace(/^\.\//, '').replace(/\/$/, '');
    names.add(rel);
    const p = rel === '' || rel === '.' ? dir : join(dir, rel);
    const st = lstatSync(p);
    const ok =
      e.mode === (st.mode & 0o7777) &&
      e.uid === st.uid &&
      e.gid === st.gid &&
      (e.type === 'dir' || Math.floor(e.mtime) === Math.floor(st.mtimeMs / 1000));
    if (!ok) t.fail(`${label} ${rel}: metadata ${JSON.stringify({ mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime })}`);
    if (e.type === 'file') {
      if (!st.isFile() || !data.equals(readFileSync(p))) t.fail(`${label} ${rel}: content`);
    } else if (e.type === 'hardlink') {
      if (lstatSync(join(dir, e.linkpath.replace(/^\.\//, ''))).ino !== st.ino) t.fail(`${label} ${rel}: hard link target`);
    } else if (e.type === 'symlink') {
      if (readlinkSync(p) !== e.linkpath) t.fail(`${label} ${rel}: symlink target`);
    } else if (e.type === 'char') {
      if (!st.isCharacterDevice() || e.devmajor !== 1 || e.devminor !== 3) t.fail(`${label} ${rel}: device`);
    } else if (e.type === 'fifo') {
      if (!st.isFIFO()) t.fail(`${label} ${rel}: fifo`);
    } else if (e.type === 'dir') {
      if (!st.isDirectory()) t.fail(`${label} ${rel}: dir`);
    }
  }
  const expected = execFileSync('find', ['.', '-mindepth', '1'], { cwd: dir, encoding: 'utf8' }).trim().split('\n').map((n) => n.slice(2));
  t.same([...names].filter((n) => n !== '' && n !== '.').sort(), expected.sort(), `${label}: every name of the tree, once`);
}

t.test('golden archives written by GNU tar and bsdtar at test time', (t) => {
  const progs = requirePrograms(t, { tar: 'tar', bsdtar: 'libarchive-tools' });
  if (!progs) return t.end();
  const dir = mkdtempSync(join(tmpdir(), 'image-store-golden-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tree = join(dir, 'tree');
  mkdirSync(tree);
  makeTree(tree);
  const archives: Record<string, Buffer> = {
    'GNU tar --format=gnu': execFileSync(progs.tar, ['--format=gnu', '-cf', '-', '-C', tree, '.'], { maxBuffer: 1 << 24 }),
    'GNU tar --format=pax': execFileSync(progs.tar, ['--format=pax', '-cf', '-', '-C', tree, '.'], { maxBuffer: 1 << 24 }),
    'bsdtar --format=pax': execFileSync(progs.bsdtar, ['--format=pax', '-cf', '-', '-C', tree, '.'], { maxBuffer: 1 << 24 }),
    'bsdtar (restricted pax)': execFileSync(progs.bsdtar, ['-cf', '-', '-C', tree, '.'], { maxBuffer: 1 << 24 }),
  };
  for (const [label, bytes] of Object.entries(archives)) {
    const whole = parse(bytes);
    checkAgainstTree(t, tree, whole, label);
    t.same(parse(bytes, [1, 511, 513, 4096, 3]).map((p) => [p.entry.path, p.data]), whole.map((p) => [p.entry.path, p.data]), `${label}: the same in odd chunks`);
  }
  t.end();
});

t.test('every proper prefix before the end-of-archive marker is a truncated stream', async (t) => {
  const bytes = tar([{ name: 'a', data: 'x'.repeat(700) }, { name: 'long', pax: { path: 'p'.repeat(200) }, data: 'y' }, { name: 'd/', type: '5' }]);
  const end = bytes.length - 1024;
  let failures = 0;
  for (let n = 0; n < end + 512; n++) {
    const err = catchTar(() => parse(bytes.subarray(0, n)));
    if (err.code !== 'truncated') failures++;
  }
  t.equal(failures, 0, 'all prefixes refused as truncated');
  t.equal(parse(bytes.subarray(0, end + 512)).length, 3, 'one zero block ends the archive');
});

t.test('refusals name the field, the offset and the entry', async (t) => {
  const short = tar([{ name: 'etc/shadow', data: 'abc', size: 5000 }], false);
  let e = catchTar(() => parse(short));
  t.match(e, { code: 'truncated', field: 'size', offset: 0, entry: 'etc/shadow' }, 'a size larger than what follows');
  t.match(e.message, /"etc\/shadow"/);

  const bad = tar([{ name: 'ok', data: 'x' }, { name: 'bad' }]);
  bad[512 + 512 + 3] ^= 1; // a byte of the second header's name
  e = catchTar(() => parse(bad));
  t.match(e, { code: 'checksum', field: 'chksum', offset: 1024 }, 'a header checksum error');

  const notOctal = header({ name: 'x' }, 0);
  notOctal.write('9', 100, 'latin1');
  let sum = 0;
  notOctal.fill(0x20, 148, 156);
  for (const c of notOctal) sum += c;
  notOctal.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  t.match(catchTar(() => parse(Buffer.concat([notOctal, Buffer.alloc(1024)]))), { code: 'field', field: 'mode' }, 'a mode that is not octal');

  t.match(catchTar(() => parse(tar([{ name: 'sparse', type: 'S' }]))), { code: 'unsupported', field: 'typeflag', entry: 'sparse' });
  t.match(catchTar(() => parse(tar([{ name: 's', pax: { 'GNU.sparse.major': '1' } }]))), { code: 'unsupported', entry: 's' });
  t.match(catchTar(() => parse(tar([{ name: 'n', pax: { size: 'lots' } }]))), { code: 'field', field: 'size' });
  const hugePax = Buffer.concat([header({ name: 'PaxHeader', type: 'x' }, 2 << 20), Buffer.alloc(1024)]);
  t.match(catchTar(() => parse(hugePax)), { code: 'limit', field: 'size' }, 'an extended header over the limit is refused before allocating');
  const badPax = Buffer.concat([header({ name: 'PaxHeader', type: 'x' }, 12), Buffer.from('99 path=abc\n'), Buffer.alloc(500), Buffer.alloc(1024)]);
  t.match(catchTar(() => parse(badPax)), { code: 'field', field: 'pax record length', offset: 512 });
  t.match(catchTar(() => parse(tar([{ name: 'bad-\xff', pax: { path: Buffer.from([0x61, 0xff]) } }]))), { code: 'field', field: 'name' }, 'a name that is not UTF-8');
});

t.test('pax records and GNU long names override the ustar fields', async (t) => {
  const v = Buffer.from([0, 1, 2, 0xff]);
  const [e] = parse(tar([{ name: 'short', data: 'abc', pax: { path: 'a/'.repeat(80) + 'z', uid: '3000000', gid: '7', mtime: '1700000000.5', 'SCHILY.xattr.user.bin': v } }]));
  t.equal(e!.entry.path, 'a/'.repeat(80) + 'z');
  t.match(e!.entry, { uid: 3000000, gid: 7, mtime: 1700000000, mtimeNsec: 500_000_000, size: 3 });
  t.match(parse(tar([{ name: 'old', pax: { mtime: '-1.25' } }]))[0]!.entry, { mtime: -2, mtimeNsec: 750_000_000 }, 'a time before the epoch');
  t.same(Buffer.from(e!.entry.xattrs.get('user.bin')!), v, 'xattr values stay bytes');
  const gnuLong = Buffer.concat([header({ name: '././@LongLink', type: 'L' }, 201), Buffer.from('n'.repeat(200) + '\0'), Buffer.alloc(311), tar([{ name: 'cut', data: '' }])]);
  t.equal(parse(gnuLong)[0]!.entry.path, 'n'.repeat(200));
  const [g1, g2] = parse(Buffer.concat([header({ name: 'g', type: 'g' }, 12), Buffer.from('12 uid=4242\n'), Buffer.alloc(500), tar([{ name: 'one' }, { name: 'two' }])]));
  t.equal(g1!.entry.uid, 4242, 'a global header applies to every later entry');
  t.equal(g2!.entry.uid, 4242);
});

const nothingButTarErrors = (f: () => unknown) => {
  try {
    f();
    return true;
  } catch (err) {
    return err instanceof TarError;
  }
};

t.test('random bytes and damaged archives give entries or a TarError, never a crash', async (t) => {
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 5 }), (bytes, chunks) =>
        nothingButTarErrors(() => parse(bytes, chunks)),
      ),
      { seed: 42, numRuns: 300 },
    ),
  );
  const base = tar([{ name: 'a', data: 'hello' }, { name: 'l', type: '2', linkname: 'a' }, { name: 'p', pax: { path: 'q', mtime: '1.5' }, data: 'x'.repeat(600) }]);
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: base.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (edits) => {
        const b = Buffer.from(base);
        for (const [at, v] of edits) b[at] = v;
        return nothingButTarErrors(() => parse(b, [97]));
      }),
      { seed: 42, numRuns: 500 },
    ),
  );
});
