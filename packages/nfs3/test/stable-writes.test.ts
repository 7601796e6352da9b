import t from 'tap';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { NfsStat, StableHow } from '@netboot/nfs3';
import { harness, ok } from './harness.js';

// A stable WRITE is durable when its reply leaves because the pwrite itself went through a
// descriptor opened O_SYNC (FILE_SYNC) or O_DSYNC (DATA_SYNC); no fsync follows it. What the
// server holds open for a file, with the open flags the kernel reports, shows which it used.

const O_DSYNC = 0o10000;
const O_SYNC = 0o4010000; // __O_SYNC | O_DSYNC

/** The open flags of every descriptor of this process on `path`. */
function openFlags(path: string): number[] {
  const flags: number[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed meanwhile (readdir's own descriptor)
    }
    if (target !== path) continue;
    const m = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
    if (m) flags.push(parseInt(m[1]!, 8));
  }
  return flags;
}

const has = (flags: number[], bits: number) => flags.some((f) => (f & bits) === bits);

t.test('stable writes go through O_SYNC / O_DSYNC descriptors, UNSTABLE ones do not', async (t) => {
  const h = await harness(t);
  const c = await h.client();
  const f = ok(t, await c.create(h.root, 'data')).object!;
  const path = join(h.dir, 'data');

  const w0 = await c.write(f, 0n, Buffer.alloc(8192, 1), StableHow.UNSTABLE);
  t.equal(w0.status, NfsStat.OK);
  t.notOk(has(openFlags(path), O_DSYNC), 'UNSTABLE: no synchronous descriptor opened');

  const w1 = await c.write(f, 8192n, Buffer.alloc(8192, 2), StableHow.DATA_SYNC);
  t.equal(w1.status, NfsStat.OK);
  t.ok(has(openFlags(path), O_DSYNC), 'DATA_SYNC: an O_DSYNC descriptor');
  t.notOk(has(openFlags(path), O_SYNC), 'and no O_SYNC one yet');

  const w2 = await c.write(f, 16384n, Buffer.alloc(8192, 3), StableHow.FILE_SYNC);
  t.equal(w2.status, NfsStat.OK);
  if (w2.status === NfsStat.OK) {
    t.equal(w2.committed, StableHow.FILE_SYNC, 'committed as asked');
    t.equal(w2.wcc.after?.size, 24576n, 'post-op size covers the write');
  }
  t.ok(has(openFlags(path), O_SYNC), 'FILE_SYNC: an O_SYNC descriptor');

  const back = readFileSync(path);
  t.same([back[0], back[8192], back[16384], back.length], [1, 2, 3, 24576], 'every write landed where it was sent');
});
