import t, { type Test } from 'tap';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { native } from '@netboot/platform';
import { NfsStat, type Stable, StableHow } from '@netboot/nfs3';
import { harness, ok } from './harness.js';

// Stable WRITEs in flight together: each is one pwritev2 with RWF_SYNC or RWF_DSYNC (platform pwriteSync) in
// the thread pool, on a server without directWrites and on one with them (an NFS worker thread, which copies
// UNSTABLE data on its own thread: direct-writes.test). The test replaces pwriteSync with the real call followed
// by a gate it opens, so it decides when each write's flush has finished and sees which replies have left by
// then, in order, with no clock.

const skip = native ? false : 'needs the platform module';

/** pwriteSync replaced: every call does the real write, then waits for the test to end its flush. */
function gatedSyncWrites(t: Test) {
  const n = native!;
  const real = n.pwriteSync;
  t.teardown(() => Object.assign(n, { pwriteSync: real }));
  const calls: { position: number; flags: number; end: (err?: Error) => void }[] = [];
  let arrived: (() => void) | undefined;
  Object.assign(n, {
    pwriteSync: async (fd: number, buf: Uint8Array, offset: number, length: number, position: bigint | number, flags: number) => {
      const written = await real(fd, buf, offset, length, position, flags);
      await new Promise<void>((resolve, reject) => {
        calls.push({ position: Number(position), flags, end: (err) => (err ? reject(err) : resolve()) });
        arrived?.();
      });
      return written;
    },
  });
  return {
    calls,
    /** Resolves once `count` writes wait for their flush to end. */
    waiting: (count: number) =>
      new Promise<void>((resolve) => {
        const check = () => (calls.length >= count ? resolve() : (arrived = check));
        check();
      }),
    at: (position: number) => calls.find((c) => c.position === position)!,
  };
}

for (const directWrites of [false, true]) {
  t.test(`stable WRITEs in flight together: each reply leaves only after its own flush has ended${directWrites ? ' (directWrites)' : ''}`, { skip }, async (t) => {
    const h = await harness(t, { directWrites });
    const c = await h.client();
    await writeFile(join(h.dir, 'f'), '');
    const f = ok(t, await c.lookup(h.root, 'f')).object;
    const gate = gatedSyncWrites(t);
    const replied: number[] = [];
    const send = (at: number, stable: Stable) =>
      c.write(f, BigInt(at), Buffer.alloc(4096, at / 4096 + 1), stable).then((r) => {
        replied.push(at);
        return r;
      });
    const writes = [send(0, StableHow.FILE_SYNC), send(4096, StableHow.DATA_SYNC), send(8192, StableHow.FILE_SYNC)];
    const answered = Promise.all(writes).then(() => 'answered');
    t.equal(await Promise.race([gate.waiting(3).then(() => 'flushing'), answered]), 'flushing', 'every stable write is one pwriteSync, each waiting for its flush');
    const k = native!.constants;
    t.same(gate.calls.map((w) => [w.position, w.flags]).sort((a, b) => a[0]! - b[0]!), [[0, k.RWF_SYNC], [4096, k.RWF_DSYNC], [8192, k.RWF_SYNC]], 'FILE_SYNC with RWF_SYNC, DATA_SYNC with RWF_DSYNC');
    t.same(replied, [], 'no reply while every flush runs');
    gate.at(4096).end();
    const middle = ok(t, await writes[1]!);
    t.equal(middle.committed, StableHow.DATA_SYNC);
    t.same(replied, [4096], 'the write whose flush ended is answered, the others are not');
    gate.at(8192).end();
    gate.at(0).end();
    for (const w of [writes[0]!, writes[2]!]) t.equal(ok(t, await w).committed, StableHow.FILE_SYNC);
    t.same(replied.sort((a, b) => a - b), [0, 4096, 8192], 'each answered after its flush');
    t.same(await readFile(join(h.dir, 'f')), Buffer.concat([Buffer.alloc(4096, 1), Buffer.alloc(4096, 2), Buffer.alloc(4096, 3)]), 'the file holds every write');
  });
}

for (const directWrites of [false, true]) {
  t.test(`a flush that fails answers NFS3ERR_IO and changes the write verifier${directWrites ? ' (directWrites)' : ''}`, { skip }, async (t) => {
    const h = await harness(t, { directWrites });
    const c = await h.client();
    await writeFile(join(h.dir, 'f'), '');
    const f = ok(t, await c.lookup(h.root, 'f')).object;
    // An UNSTABLE write answered with the verifier of now: a failed writeback may drop its data.
    const before = ok(t, await c.write(f, 0n, Buffer.from('unstable'), StableHow.UNSTABLE)).verf;
    const gate = gatedSyncWrites(t);
    const failing = c.write(f, 8n, Buffer.from('stable'), StableHow.FILE_SYNC);
    t.equal(await Promise.race([gate.waiting(1).then(() => 'flushing'), failing.then(() => 'answered')]), 'flushing', 'the write is one pwriteSync');
    gate.calls[0]!.end(Object.assign(new Error('EIO: i/o error, pwritev2'), { code: 'EIO' }));
    const w = await failing;
    t.equal(w.status, NfsStat.IO, 'the flush error is the reply');
    t.ok('wcc' in w && w.wcc.after, 'with the file attributes');
    const commit = ok(t, await c.commit(f));
    t.notSame(commit.verf, before, 'the next COMMIT carries a new verifier: the client sends its UNSTABLE writes again');
  });
}
