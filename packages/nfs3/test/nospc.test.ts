import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NfsStat, StableHow } from '@netboot/nfs3';
import { harness, ok } from './harness.js';
import { isRoot, requireThat } from '../../../test/support/programs.js';

// With directWrites the data is copied into the page cache on the serving thread itself, not in the pool: the
// error comes back by another way, and must still be NOSPC with the file's attributes.
for (const directWrites of [false, true]) {
  t.test(`a full file system answers NFS3ERR_NOSPC${directWrites ? ' with data copied on the serving thread' : ''}`, async (t) => {
    if (!requireThat(t, isRoot(), 'needs root to mount a small tmpfs')) return;
    const dir = await mkdtemp(join(tmpdir(), 'nfs3-full-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0755', 'nfs3-nospc', dir], { stdio: 'pipe' });
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      t.plan(0, `cannot mount a tmpfs here: ${String(e)}`);
      return;
    }
    t.teardown(async () => {
      execFileSync('umount', [dir], { stdio: 'pipe' });
      await rm(dir, { recursive: true, force: true });
    });
    const h = await harness(t, { dir, directWrites });
    const c = await h.client();
    const f = ok(t, await c.create(h.root, 'big')).object!;
    // A write that fits opens the file: the failing UNSTABLE write after it is copied without a promise on
    // the way (writeNow), and its error must come back the same.
    ok(t, await c.write(f, 0n, Buffer.from('x'), StableHow.UNSTABLE));
    for (const stable of [StableHow.UNSTABLE, StableHow.FILE_SYNC] as const) {
      const before = Buffer.from(h.server.writeVerifier);
      const w = await c.write(f, 0n, Buffer.alloc(1024 * 1024, 1), stable);
      t.equal(w.status, NfsStat.NOSPC, `stable ${stable}`);
      t.ok('wcc' in w && w.wcc.after, 'with the file attributes after the failure');
      // Writes answered UNSTABLE before may be lost with it: the client's next COMMIT must see a new verifier.
      t.notSame(h.server.writeVerifier, before, 'a new write verifier');
      t.same(ok(t, await c.write(f, 0n, Buffer.from('y'), StableHow.UNSTABLE)).verf, h.server.writeVerifier, 'which the next reply carries');
    }
  });
}
