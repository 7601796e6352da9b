import t from 'tap';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NfsStat, StableHow } from '@netboot/nfs3';
import { harness, ok } from './harness.js';

// A server with directWrites (as on an NFS worker thread) copies WRITE data on its own thread and flushes
// stable writes in the pool: the same answers and the same file contents as the pool's way (a full file
// system with directWrites: nospc.test.ts).

t.test('WRITE at every stability and COMMIT, data copied on the serving thread', async (t) => {
  const h = await harness(t, { directWrites: true });
  const c = await h.client();
  await writeFile(join(h.dir, 'file'), 'abcdef');
  const file = ok(t, await c.lookup(h.root, 'file')).object;
  let want = Buffer.from('abcdef');
  for (const stable of [StableHow.UNSTABLE, StableHow.DATA_SYNC, StableHow.FILE_SYNC] as const) {
    const data = Buffer.alloc(256 * 1024 + stable, 0x41 + stable);
    const at = want.length;
    const w = ok(t, await c.write(file, BigInt(at), data, stable));
    t.equal(w.committed, stable, `committed = ${stable}`);
    t.equal(w.count, data.length, 'all of it');
    t.same(w.verf, h.server.writeVerifier);
    t.equal(w.wcc.after?.size, BigInt(at + data.length), 'the size after it in the reply');
    want = Buffer.concat([want, data]);
  }
  t.same(await readFile(join(h.dir, 'file')), want, 'the file holds every write');
  ok(t, await c.write(file, 1n, Buffer.from('Z'), StableHow.UNSTABLE));
  want[1] = 0x5a;
  t.same(ok(t, await c.commit(file)).verf, h.server.writeVerifier);
  t.same(await readFile(join(h.dir, 'file')), want, 'an overwrite in place');
  t.equal((await c.write(h.root, 0n, Buffer.from('x'), StableHow.UNSTABLE)).status, NfsStat.ISDIR);
});
