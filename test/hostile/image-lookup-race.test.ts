import t from 'tap';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageStore, OverlayFs } from '@netboot/image-store';
import { native } from '@netboot/platform';
import { startSwapRacer } from './swap-racer.js';

// An image-backed root reuses where it found a merged name (OverlayFs's
// location cache) and looks a directory's names up from that directory's
// location, opened beneath its layer root and checked by inode, instead of
// walking both layers from their roots. What this guards against: a stale
// location leading a LOOKUP, READDIRPLUS's lookups or a READ somewhere
// else. A local user on the master flips the node layer's `etc` between the
// real directory and a symlink to a root-owned directory outside whose
// entries have the same names, as fast as rename(2) goes, while the server
// looks names of etc up (ones it found lately and ones it never did) and
// reads them: no call may name or read an object outside.

t.test('lookups from cached locations while a local user flips a layer directory for a symlink out', { skip: native ? false : 'the platform module is not built' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'image-lookup-race-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const src = join(dir, 'rootfs');
  mkdirSync(join(src, 'etc'), { recursive: true });
  const names = Array.from({ length: 8 }, (_, i) => `f${i}`);
  for (const n of names) writeFileSync(join(src, 'etc', n), `image ${n}\n`);
  const store = new ImageStore(join(dir, 'state'));
  await store.import('deb', { kind: 'directory', path: src });
  const upper = join(dir, 'upper');
  const fs = await OverlayFs.open(store.generationPath('deb', 1), upper, join(dir, 'origins.json'), { attributeCacheMs: 60_000 });
  t.teardown(() => fs.close());
  const root = await fs.root();
  const etc = await fs.lookup(root, Buffer.from('etc'));
  // Half the names copied up into the layer (so etc is a layer directory too); f0..f3 looked up, so cached.
  for (const n of names.slice(0, 4)) await fs.write(await fs.lookup(etc, Buffer.from(n)), Buffer.from('N'), 0, 'file');
  for (const n of names.slice(0, 4)) await fs.lookup(etc, Buffer.from(n));

  const outside = join(dir, 'outside');
  mkdirSync(outside);
  for (const n of [...names, 'only-outside']) writeFileSync(join(outside, n), 'OUTSIDE\n');
  const outsideInodes = new Set(readdirSync(outside).map((n) => lstatSync(join(outside, n), { bigint: true }).ino));
  const racer = startSwapRacer({ path: join(upper, 'etc'), parked: join(upper, 'etc.parked'), link: join(upper, 'etc.link'), target: outside, deadline: Date.now() + 20_000, maxFlips: 200_000 });
  const escapes: string[] = [];
  const buf = Buffer.alloc(64);
  const check = async (what: string, o: { fileid: bigint; attrs: { ino: bigint } } | undefined) => {
    if (!o) return;
    if (outsideInodes.has(o.attrs.ino) || outsideInodes.has(o.fileid)) escapes.push(`${what}: an outside inode`);
    const n = await fs.read(o as never, buf, 0, 64, 0).catch(() => -1);
    if (n > 0 && buf.subarray(0, n).toString().includes('OUTSIDE')) escapes.push(`${what}: outside bytes`);
  };
  let calls = 0;
  try {
    for (let round = 0; round < 300; round++) {
      // Every few rounds the cache is dropped (as after a NOENT reply), so names are located anew from etc's location.
      if (round % 10 === 0) fs.forgetCached();
      for (const n of [...names, 'only-outside']) {
        calls++;
        await check(`LOOKUP ${n}`, await fs.lookup(etc, Buffer.from(n)).catch(() => undefined));
      }
      calls++;
      for (const [i, o] of (await fs.lookupNames!(etc, [...names, 'only-outside']).catch(() => [])).entries()) await check(`READDIRPLUS entry ${i}`, o);
    }
  } finally {
    racer.stop();
  }
  const flips = await racer.done;
  t.ok(flips > 0, `the racer flipped etc ${flips} times during ${calls} lookups`);
  t.same(escapes, [], 'no lookup named or read an object outside');
  t.same(readdirSync(outside).sort(), [...names, 'only-outside'].sort(), 'nothing made outside');
  for (const n of names) t.equal(readFileSync(join(outside, n), 'utf8'), 'OUTSIDE\n');
});
