import t from 'tap';
import { mkdir, rm, writeFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import { NfsStat, StableHow } from '@netboot/nfs3';
import { harness, ok } from './harness.js';

const N = 100_000;

t.test(`READDIRPLUS over ${N} entries page by page: no duplicate, none missing`, async (t) => {
  const h = await harness(t);
  const big = join(h.dir, 'big');
  await mkdir(big);
  for (let i = 0; i < N; i += 1000) {
    await Promise.all(Array.from({ length: 1000 }, (_, j) => open(join(big, `entry-${i + j}`), 'w').then((f) => f.close())));
  }
  const c = await h.client();
  const dir = ok(t, await c.lookup(h.root, 'big')).object;
  const seen = new Map<string, bigint>();
  let cookie = 0n;
  let verf: Buffer = Buffer.alloc(8);
  let pages = 0;
  let dups = 0;
  let badFileid = 0;
  for (let eof = false; !eof && pages < 20_000; pages++) {
    const r = await c.readdirplus(dir, cookie, verf, 1024, 4096);
    if (r.status !== 0) {
      t.fail(`page ${pages}: status ${r.status}`);
      break;
    }
    for (const e of r.entries) {
      const name = e.name.toString();
      if (seen.has(name)) dups++;
      seen.set(name, e.fileid);
      if (!e.attributes || e.attributes.fileid !== e.fileid || !e.handle) badFileid++;
      cookie = e.cookie;
    }
    verf = r.cookieverf;
    eof = r.eof;
    // Changes while listing must not disturb the listing in progress.
    if (pages === 10) {
      await writeFile(join(big, 'added-while-listing'), '');
      await rm(join(big, 'entry-99999'));
    }
  }
  t.ok(pages > 100, `${pages} pages`);
  t.equal(dups, 0, 'no duplicates');
  t.equal(badFileid, 0, 'every entry has a handle and attributes with its fileid');
  let missing = 0;
  for (let i = 0; i < N - 1; i++) if (!seen.has(`entry-${i}`)) missing++;
  t.equal(missing, 0, 'none missing');
  t.ok(seen.has('.') && seen.has('..'));
  t.equal(new Set(seen.values()).size >= N - 1, true, 'real, distinct fileids');

  // READDIR with a small count, and a verifier the server no longer knows (after a restart).
  const h2 = await h.restart();
  const c2 = await h2.client();
  const r = await c2.readdir(dir, cookie - 5n, verf, 1024);
  t.equal(r.status, 0, 'an unknown verifier continues instead of BAD_COOKIE');
  t.equal((await c2.readdir(dir, 1n << 40n, verf, 1024)).status, NfsStat.BAD_COOKIE, 'a cookie past the end is BAD_COOKIE');
  t.equal((await c2.readdir(dir, 0n, verf, 40)).status, NfsStat.TOOSMALL, 'a count too small for one entry is TOOSMALL');
  t.equal((await c2.readdirplus(dir, 0n, verf, 10, 60)).status, NfsStat.TOOSMALL);
});

t.test('READDIR pages of a small directory, with fileids', async (t) => {
  const h = await harness(t);
  for (let i = 0; i < 50; i++) await writeFile(join(h.dir, `f${i}`), '');
  const c = await h.client();
  const names: string[] = [];
  let cookie = 0n;
  let verf: Buffer = Buffer.alloc(8);
  for (let eof = false, n = 0; !eof && n < 100; n++) {
    const r = ok(t, await c.readdir(h.root, cookie, verf, 200));
    for (const e of r.entries) {
      names.push(e.name.toString());
      cookie = e.cookie;
      if (e.name.toString() === 'f7') t.equal(e.fileid, ok(t, await c.getattr(ok(t, await c.lookup(h.root, 'f7')).object)).attributes.fileid);
    }
    verf = r.cookieverf;
    eof = r.eof;
  }
  t.equal(names.length, 52);
  t.equal(new Set(names).size, 52);
  ok(t, await c.create(h.root, 'created-now'));
  const fresh = ok(t, await c.readdir(h.root, 0n, Buffer.alloc(8), 8192));
  t.ok(fresh.entries.some((e) => e.name.toString() === 'created-now'), 'a listing from cookie 0 shows a file created just before');
  const f = ok(t, await c.lookup(h.root, 'f1')).object;
  t.equal((await c.readdir(f)).status, NfsStat.NOTDIR);
});

t.test('the write verifier changes on restart, so a client resends UNSTABLE data', async (t) => {
  const h = await harness(t);
  const c = await h.client();
  const f = ok(t, await c.create(h.root, 'f')).object!;
  const w = ok(t, await c.write(f, 0n, Buffer.from('unstable'), StableHow.UNSTABLE));
  t.equal(w.committed, StableHow.UNSTABLE);
  t.same(ok(t, await c.commit(f)).verf, w.verf, 'same verifier while the server runs');
  const h2 = await h.restart();
  const c2 = await h2.client();
  const cm = ok(t, await c2.commit(f));
  t.notSame(cm.verf, w.verf, 'COMMIT after a restart has a new verifier');
  t.same(ok(t, await c2.write(f, 0n, Buffer.from('x'), StableHow.FILE_SYNC)).verf, cm.verf);
});

t.test('over UDP a READDIRPLUS asking for more than a datagram gets a reply that fits one', async (t) => {
  const h = await harness(t);
  await Promise.all(Array.from({ length: 3000 }, (_, i) => writeFile(join(h.dir, `file-with-a-longer-name-${i}`), '')));
  const c = await h.client(undefined, 'udp');
  const r = ok(t, await c.readdirplus(h.root, 0n, Buffer.alloc(8), 1 << 20, 1 << 20));
  t.ok(r.entries.length > 10, `${r.entries.length} entries`);
  t.equal(r.eof, false, 'the rest is left for the next call');
});
