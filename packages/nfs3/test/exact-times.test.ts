import t from 'tap';
import { execFileSync } from 'node:child_process';
import { lstatSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TimeHow } from '@netboot/nfs3';
import { harness, ok } from './harness.js';

// SETATTR times round-trip to the nanosecond (`touch -d` with nanoseconds, `cp -a`, `rsync -a`),
// and GETATTR reports the nanoseconds the local file system keeps, as on knfsd.

const at = (seconds: number, nseconds: number) => ({ how: TimeHow.SET_TO_CLIENT_TIME, time: { seconds, nseconds } }) as const;
const ns = (seconds: number, nseconds: number) => BigInt(seconds) * 1_000_000_000n + BigInt(nseconds);

t.test('client times with nanoseconds round-trip exactly', async (t) => {
  const h = await harness(t);
  const c = await h.client();
  const f = ok(t, await c.create(h.root, 'f')).object!;
  ok(t, await c.setattr(f, { atime: at(1_700_000_000, 123_456_789), mtime: at(1_600_000_000, 987_654_321) }));
  const st = lstatSync(join(h.dir, 'f'), { bigint: true });
  t.equal(st.atimeNs, ns(1_700_000_000, 123_456_789), 'atime on disk to the nanosecond');
  t.equal(st.mtimeNs, ns(1_600_000_000, 987_654_321), 'mtime on disk to the nanosecond');
  const a = ok(t, await c.getattr(f)).attributes;
  t.same(a.atime, { seconds: 1_700_000_000, nseconds: 123_456_789 }, 'GETATTR gives them back');
  t.same(a.mtime, { seconds: 1_600_000_000, nseconds: 987_654_321 });

  ok(t, await c.setattr(f, { atime: at(5, 1) }));
  const kept = lstatSync(join(h.dir, 'f'), { bigint: true });
  t.equal(kept.atimeNs, ns(5, 1), 'atime alone');
  t.equal(kept.mtimeNs, ns(1_600_000_000, 987_654_321), 'mtime left exactly as it was');

  // Values a double cannot hold (about 240 ns apart near 1.7e9 s), and the ends of the range.
  const values: [number, number][] = [[0, 0], [0, 999_999_999], [0xffffffff, 999_999_999], [2_000_000_000, 1]];
  for (let i = 0; i < 40; i++) values.push([1_700_000_000 + i * 7919, (i * 104_729_111) % 1_000_000_000]);
  const wrong: string[] = [];
  for (const [s, n] of values) {
    const r = await c.setattr(f, { atime: at(s, n), mtime: at(s, n) });
    const got = ok(t, await c.getattr(f), 'GETATTR').attributes;
    if (r.status !== 0 || got.mtime.seconds !== s || got.mtime.nseconds !== n || got.atime.nseconds !== n) wrong.push(`${s}.${n}`);
  }
  t.same(wrong, [], `${values.length} times set and read back exactly`);
  t.equal((await c.setattr(f, { mtime: at(1, 1_000_000_000) })).status !== 0, true, 'nseconds past a second is refused');
});

t.test('server time, symlinks and byte names', async (t) => {
  const h = await harness(t);
  const c = await h.client();
  writeFileSync(join(h.dir, 'target'), 'x');
  symlinkSync('target', join(h.dir, 'l'));
  const l = ok(t, await c.lookup(h.root, 'l')).object;
  ok(t, await c.setattr(l, { mtime: at(1234, 567_890_123) }));
  t.equal(lstatSync(join(h.dir, 'l'), { bigint: true }).mtimeNs, ns(1234, 567_890_123), "the symlink's own time is set");
  t.not(lstatSync(join(h.dir, 'target'), { bigint: true }).mtimeNs, ns(1234, 567_890_123), 'never its target');

  const name = Buffer.from([0x93, 0xfa, 0xff, 0x0a]);
  const f = ok(t, await c.create(h.root, name)).object!;
  ok(t, await c.setattr(f, { atime: at(42, 424_242_424), mtime: at(43, 434_343_434) }));
  const st = lstatSync(Buffer.concat([Buffer.from(`${h.dir}/`), name]), { bigint: true });
  t.same([st.atimeNs, st.mtimeNs], [ns(42, 424_242_424), ns(43, 434_343_434)], 'a file with a non-UTF-8 name');

  const before = BigInt(Date.now() - 2000) * 1_000_000n;
  ok(t, await c.setattr(f, { mtime: { how: TimeHow.SET_TO_SERVER_TIME } }));
  const now = lstatSync(Buffer.concat([Buffer.from(`${h.dir}/`), name]), { bigint: true });
  t.ok(now.mtimeNs > before, 'SET_TO_SERVER_TIME: now');
  t.equal(now.atimeNs, ns(42, 424_242_424), 'the other time untouched');
});

t.test('GETATTR reports the nanoseconds set beside the server', async (t) => {
  const h = await harness(t, { attributeCacheMs: 0 });
  const c = await h.client();
  writeFileSync(join(h.dir, 'f'), 'x');
  execFileSync('touch', ['-h', '-d', '@1700000000.000000001', join(h.dir, 'f')]);
  const f = ok(t, await c.lookup(h.root, 'f')).object;
  const a = ok(t, await c.getattr(f)).attributes;
  t.same([a.mtime, a.atime], [{ seconds: 1_700_000_000, nseconds: 1 }, { seconds: 1_700_000_000, nseconds: 1 }], 'touch -d @1700000000.000000001');
});

t.test('in portable mode, times are set with lutimes, to the microsecond', async (t) => {
  const h = await harness(t, { portable: true });
  const c = await h.client();
  const f = ok(t, await c.create(h.root, 'f')).object!;
  ok(t, await c.setattr(f, { atime: at(1_700_000_000, 123_456_000), mtime: at(1_600_000_000, 5_000) }), 'SETATTR still works');
  const st = lstatSync(join(h.dir, 'f'), { bigint: true });
  t.equal(st.atimeNs / 1000n, ns(1_700_000_000, 123_456_000) / 1000n, 'atime to the microsecond');
  t.equal(st.mtimeNs / 1000n, ns(1_600_000_000, 5_000) / 1000n, 'mtime to the microsecond');
  ok(t, await c.setattr(f, { mtime: at(7, 0) }));
  t.equal(lstatSync(join(h.dir, 'f'), { bigint: true }).atimeNs / 1000n, ns(1_700_000_000, 123_456_000) / 1000n, 'a time left alone stays');
});
