import t, { type Test } from 'tap';
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '@netboot/platform';
import { DIRECT_READ_MAX, LocalFs, LocalShared } from '../src/local-fs.js';
import { NativeIo } from '../src/native-io.js';
import { replySender } from '../src/reply-sender.js';
import { harness, ok } from './harness.js';

/*
 * READ of cached data on the event loop (preadNowait), the rest in the
 * thread pool: each call to preadNowait is recorded, and the tests force its
 * answers (not cached, only part cached, an error) to take each path. Whatever
 * the path, the reply holds the file's bytes and the right end-of-file flag.
 */
const SIZE = 200_000;
const content = Buffer.alloc(SIZE);
for (let i = 0; i < SIZE; i++) content[i] = (i * 7 + (i >> 8)) & 0xff;

type Force = 'none' | 'uncached' | 'half' | 'error';

/** A server (`directReadMax` as given) with the file `f` cached, READ through a preadNowait that records its calls. */
async function setup(t: Test, directReadMax?: number) {
  const n = native!;
  const h = await harness(t, { directReadMax });
  writeFileSync(join(h.dir, 'f'), content);
  readFileSync(join(h.dir, 'f')); // in the page cache
  const c = await h.client();
  const f = ok(t, await c.lookup(h.root, 'f')).object;

  const real = n.preadNowait;
  t.teardown(() => Object.assign(n, { preadNowait: real }));
  let calls: Array<{ count: number; got: number }> = [];
  let samples = 0;
  const state = { force: 'none' as Force };
  Object.assign(n, {
    preadNowait: (fd: number, buf: Uint8Array, at: number, count: number, position: bigint | number) => {
      // A one-byte read is a sample of the page cache for a reply sent from it (fileNow): counted apart,
      // and forced to miss with the rest, so a forced READ is copied.
      if (count === 1) {
        samples++;
        return state.force === 'none' ? real(fd, buf, at, count, position) : -1;
      }
      if (state.force === 'error') {
        calls.push({ count: -1, got: -1 });
        throw Object.assign(new Error('EIO: i/o error, preadv2'), { code: 'EIO' });
      }
      const got =
        state.force === 'uncached'
          ? -1
          : state.force === 'half'
            ? real(fd, buf, at, Math.floor(count / 2), position)
            : real(fd, buf, at, count, position);
      calls.push({ count, got });
      return got;
    },
  });
  /** READ `count` at `offset`, checked against the file; the preadNowait calls it made (samples apart: `sampled()`). */
  const read = async (t: Test, offset: number, count: number) => {
    calls = [];
    samples = 0;
    const r = ok(t, await c.read(f, BigInt(offset), count), `READ ${count} at ${offset}`);
    const want = content.subarray(offset, offset + count);
    t.equal(r.count, want.length, 'count');
    t.ok(Buffer.from(r.data).equals(want), 'the file bytes');
    t.equal(r.eof, offset + want.length >= SIZE, 'eof flag');
    return calls;
  };
  return { read, state, sampled: () => samples };
}

const skip = native ? false : 'the platform module is not built';
// A READ up to DIRECT_READ_MAX first tries to answer at once (readNow: no promise); when the page cache
// cannot give it the whole answer, the asynchronous read tries the cache again from the first byte not
// read, then the pool: two direct attempts on those paths, the second for the rest ('half' halves each).
// A larger READ does too where the serving thread copies it (directReadMax) and the client waits on it alone
// (as these tests' client does); otherwise it makes one attempt, on the asynchronous path.
const MISS_8K = { count: 8192, got: -1 };
const HALF_8K = { count: 8192, got: 4096 };
const FAILED = { count: -1, got: -1 };

t.test('READ takes cached data on the loop and the rest in the pool', { skip }, async (t) => {
  const { read, state, sampled } = await setup(t);

  t.test('cached: read on the loop, whole', async (t) => {
    state.force = 'none';
    t.same(await read(t, 0, 8192), [{ count: 8192, got: 8192 }], '8 KiB: one direct read');
    // Sent from the page cache (a ReplyFile), not copied: sampled at its first and last byte.
    t.same(await read(t, 4096, DIRECT_READ_MAX), [], 'the largest READ on the loop: not copied');
    t.equal(sampled(), 2, 'sampled at both ends');
    t.same(await read(t, 4096, DIRECT_READ_MAX - 2), [{ count: DIRECT_READ_MAX - 2, got: DIRECT_READ_MAX - 2 }], 'not a multiple of 4 (XDR padding after the data): copied');
    t.same(await read(t, 100_000, DIRECT_READ_MAX + 1), [], 'larger reads go to the pool only');
    t.same(await read(t, SIZE - 1000, 8192), [{ count: 8192, got: 1000 }], 'short at the end: eof, no pool read');
    t.same(await read(t, SIZE - 8192, 8192), [{ count: 8192, got: 8192 }], 'ending exactly at the end: eof');
  });

  t.test('not cached (EAGAIN): the pool reads it all', async (t) => {
    state.force = 'uncached';
    t.same(await read(t, 8192, 8192), [MISS_8K, MISS_8K]);
    t.same(await read(t, SIZE - 100, 8192), [MISS_8K, MISS_8K], 'at the end too');
  });

  t.test('partly cached (a short read): the pool reads the rest', async (t) => {
    state.force = 'half';
    t.same(await read(t, 12_345, 8192), [HALF_8K, { count: 4096, got: 2048 }], 'the rest from the first byte not read');
    t.same(await read(t, SIZE - 3000, 8192), [{ count: 8192, got: 3000 }], 'a short read reaching the end needs no pool');
    t.same(await read(t, SIZE - 6000, 8192), [HALF_8K, { count: 4096, got: 1904 }], 'the pool reads up to the end');
  });

  t.test('an error from the direct read leaves the read to the pool', async (t) => {
    state.force = 'error';
    t.same(await read(t, 0, 8192), [FAILED, FAILED]);
  });
});

t.test('a serving thread that takes every size (an NFS worker) reads large cached READs on the loop', { skip }, async (t) => {
  const { read, state, sampled } = await setup(t, Infinity);
  const big = 150_000; // above DIRECT_READ_MAX, as a 1 MiB READ is

  t.test('cached: sent from the page cache or one direct read, whatever the size', async (t) => {
    state.force = 'none';
    // The first opens the file: its READ is copied by read() (one direct read), the others find it open.
    t.same(await read(t, 100_000, big), [{ count: big, got: SIZE - 100_000 }], 'past the end: one direct read, short, eof, no pool read');
    t.same(await read(t, 1000, big), [], 'sent from the page cache, not copied');
    t.equal(sampled(), 4, 'sampled every 64 KiB and at its last byte');
    t.same(await read(t, 0, SIZE), [], 'the whole file, to the end exactly: eof');
  });

  t.test('not cached (EAGAIN): the pool reads it all', async (t) => {
    state.force = 'uncached';
    t.same(await read(t, 1000, big), [{ count: big, got: -1 }, { count: big, got: -1 }]);
    t.same(await read(t, 100_000, big), [{ count: big, got: -1 }, { count: big, got: -1 }], 'to the end too');
  });

  t.test('partly cached: the pool reads from the first byte not read', async (t) => {
    state.force = 'half';
    t.same(await read(t, 1000, big), [{ count: big, got: big / 2 }, { count: big / 2, got: big / 4 }]);
    t.same(await read(t, 100_000, big), [{ count: big, got: big / 2 }, { count: big / 2, got: SIZE - 100_000 - big / 2 }], 'a short read reaching the end needs no pool');
  });

  t.test('an error from the direct read leaves the read to the pool', async (t) => {
    state.force = 'error';
    t.same(await read(t, 0, big), [FAILED, FAILED]);
  });
});

t.test('READs running together: a large one goes to the pool, where it overlaps the others; small ones stay direct', { skip }, async (t) => {
  const n = native!;
  const dir = await mkdtemp(join(tmpdir(), 'nfs3-reads-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'f'), content);
  readFileSync(join(dir, 'f')); // in the page cache
  const shared = new LocalShared(1000, Infinity);
  const fs = LocalFs.open(1, dir, new NativeIo(n, dir), shared);
  t.teardown(() => (shared.close(), fs.close()));
  const f = await fs.lookup(await fs.root(), Buffer.from('f'));

  const real = n.preadNowait;
  t.teardown(() => Object.assign(n, { preadNowait: real }));
  const direct: number[] = [];
  Object.assign(n, {
    preadNowait: (fd: number, buf: Uint8Array, at: number, count: number, position: bigint | number) => {
      direct.push(count);
      return real(fd, buf, at, count, position);
    },
  });
  const read = async (offset: number, count: number) => {
    const buf = Buffer.alloc(count);
    const got = await fs.read(f, buf, 0, count, offset);
    t.ok(buf.subarray(0, got).equals(content.subarray(offset, offset + count)), `the file bytes of ${count} at ${offset}`);
    return got;
  };

  t.same(await read(0, 150_000), 150_000, 'alone');
  t.same(direct, [150_000], 'a lone large READ is direct');
  direct.length = 0;
  // readNow (no promise) takes a large READ only when its client waits on it alone and no READ runs here.
  const now = Buffer.alloc(150_000);
  t.equal(fs.readNow(f, now, 0, 150_000, 0, true), 150_000, 'readNow: a large READ its client waits on alone');
  t.ok(now.equals(content.subarray(0, 150_000)), 'the file bytes');
  t.equal(fs.readNow(f, now, 0, 150_000, 0, false), -1, 'readNow: not when the client waits on others too');
  const running = read(0, 150_000);
  t.equal(fs.readNow(f, now, 0, 150_000, 0, true), -1, 'readNow: not while another READ runs here');
  await running;
  t.same(direct, [150_000, 150_000], 'only the direct reads named');
  direct.length = 0;
  t.same(await Promise.all([read(0, 150_000), read(10_000, 150_000), read(0, 8192)]), [150_000, 150_000, 8192], 'three at once');
  t.same(direct, [8192], 'the two large READs went to the pool, the small one stayed direct');
  t.equal(shared.readsRunning, 0, 'none counted as running once done');
  direct.length = 0;
  n.preadNowait = () => {
    throw Object.assign(new Error('EIO: i/o error, preadv2'), { code: 'EIO' });
  };
  t.same(await read(0, 8192), 8192, 'an error from the direct read: the pool reads it');
  t.equal(shared.readsRunning, 0, 'not counted as running after the error either');
});

t.test('READs of 16 to 64 KiB over TCP leave from the page cache by sendfile; a file cut short meanwhile closes the connection', { skip }, async (t) => {
  const n = native!;
  const h = await harness(t, { replySender: replySender(n) });
  const path = join(h.dir, 'f');
  writeFileSync(path, content);
  readFileSync(path); // in the page cache
  const c = await h.client();
  const f = ok(t, await c.lookup(h.root, 'f')).object;
  const real = n.sendFileNowait;
  t.teardown(() => Object.assign(n, { sendFileNowait: real }));
  const sent: number[] = [];
  let cut = false;
  Object.assign(n, {
    sendFileNowait: (fd: number, buffers: readonly Uint8Array[], count: number, fileFd: number, position: bigint | number, length: number) => {
      sent.push(length);
      // The file truncated after the READ sampled it, before its bytes go: its reply's head promised them.
      if (cut) truncateSync(path, 1000);
      return real(fd, buffers, count, fileFd, position, length);
    },
  });
  // The first opens the file (the asynchronous way); the others find it open.
  for (const [offset, count] of [[0, 8192], [0, 16_384], [4096, 65_536], [SIZE - 65_536, 65_536], [123_456, 20_000], [SIZE - 1000, 65_536]] as const) {
    const r = ok(t, await c.read(f, BigInt(offset), count), `READ ${count} at ${offset}`);
    t.ok(Buffer.from(r.data).equals(content.subarray(offset, offset + count)), 'the file bytes');
    t.equal(r.eof, offset + count >= SIZE, 'eof flag');
  }
  t.same(sent, [16_384, 65_536, 65_536, 20_000], 'sent from the file: 16 KiB to 64 KiB ranges the file holds whole; not 8 KiB, nor one past the end');

  cut = true;
  await t.rejects(c.read(f, 0n, 65_536), { name: 'RpcConnectionError' }, 'the connection closes: no record short of what its head promised');
  cut = false;
  const again = await h.client();
  const r = ok(t, await again.read(f, 0n, 65_536), 'the retry on a new connection');
  t.ok(Buffer.from(r.data).equals(content.subarray(0, 1000)), 'what the file holds now');
});

t.test('on a thread that copies any size (an NFS worker), a larger cached READ leaves from the page cache too; on a shared loop it does not', { skip }, async (t) => {
  const n = native!;
  const real = n.sendFileNowait;
  t.teardown(() => Object.assign(n, { sendFileNowait: real }));
  const sent: number[] = [];
  Object.assign(n, {
    sendFileNowait: (fd: number, buffers: readonly Uint8Array[], count: number, fileFd: number, position: bigint | number, length: number) => {
      sent.push(length);
      return real(fd, buffers, count, fileFd, position, length);
    },
  });
  for (const directReadMax of [Infinity, undefined]) {
    const h = await harness(t, { replySender: replySender(n), directReadMax });
    writeFileSync(join(h.dir, 'f'), content);
    readFileSync(join(h.dir, 'f')); // in the page cache
    const c = await h.client();
    const f = ok(t, await c.lookup(h.root, 'f')).object;
    sent.length = 0;
    for (const offset of [0, 1000]) {
      const r = ok(t, await c.read(f, BigInt(offset), 150_000), `READ 150000 at ${offset}`);
      t.ok(Buffer.from(r.data).equals(content.subarray(offset, offset + 150_000)), 'the file bytes');
    }
    t.same(sent, directReadMax === Infinity ? [150_000] : [], directReadMax === Infinity ? 'the second (the file open) sent from the file' : 'copied: a shared loop copies no more than 64 KiB should the socket take only part');
  }
});
