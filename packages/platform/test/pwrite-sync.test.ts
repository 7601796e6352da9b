import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { requireNative } from './require-native.js';

const n = requireNative(t);
if (n) {
  const dir = mkdtempSync(join(tmpdir(), 'platform-pwrite-sync-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { RWF_DSYNC, RWF_SYNC } = n.constants;

  t.test('pwriteSync writes a range of the buffer at a position, with either flag', async (t) => {
    const path = join(dir, 'file');
    const fd = openSync(path, 'w+');
    t.teardown(() => closeSync(fd));
    const buf = Buffer.from('..hello world..');
    const p = n.pwriteSync(fd, buf, 2, 5, 0, RWF_DSYNC);
    t.ok(p instanceof Promise, 'a promise');
    t.equal(await p, 5, 'all bytes written');
    t.equal(await n.pwriteSync(fd, buf, 8, 5, 10n, RWF_SYNC), 5, 'a bigint position');
    t.equal(await n.pwriteSync(fd, buf, 0, 0, 0, RWF_SYNC), 0, 'an empty range');
    t.equal(readFileSync(path, 'latin1'), 'hello\0\0\0\0\0world', 'the bytes, a hole between');
  });

  t.test('many in flight, each from a buffer nothing else holds', async (t) => {
    const path = join(dir, 'many');
    const fd = openSync(path, 'w+');
    t.teardown(() => closeSync(fd));
    const writes: Promise<number>[] = [];
    for (let i = 0; i < 64; i++) writes.push(n.pwriteSync(fd, Buffer.alloc(4096, i), 0, 4096, i * 4096, i % 2 ? RWF_SYNC : RWF_DSYNC));
    t.same(await Promise.all(writes), new Array(64).fill(4096));
    const back = readFileSync(path);
    t.equal(back.length, 64 * 4096);
    t.ok([...Array(64).keys()].every((i) => back.subarray(i * 4096, (i + 1) * 4096).every((b) => b === i)), 'each block holds its own bytes');
  });

  t.test('arguments are checked before the call; errors as Node names them', async (t) => {
    const fd = openSync(join(dir, 'checked'), 'w+');
    const ro = openSync(join(dir, 'checked'), 'r');
    t.teardown(() => {
      closeSync(fd);
      closeSync(ro);
    });
    const buf = Buffer.alloc(64);
    t.throws(() => n.pwriteSync(fd, buf, 0, 65, 0, RWF_DSYNC), { code: 'ERR_OUT_OF_RANGE' }, 'length past the buffer');
    t.throws(() => n.pwriteSync(fd, buf, 60, 5, 0, RWF_DSYNC), { code: 'ERR_OUT_OF_RANGE' }, 'offset + length past the buffer');
    t.throws(() => n.pwriteSync(fd, buf, 65, 0, 0, RWF_DSYNC), { code: 'ERR_OUT_OF_RANGE' }, 'offset past the buffer');
    t.throws(() => n.pwriteSync(fd, buf, 0, 1, -1, RWF_DSYNC), { code: 'ERR_OUT_OF_RANGE' }, 'negative position');
    t.throws(() => n.pwriteSync(fd, buf, 0, 1, 2n ** 63n - 1n, RWF_DSYNC), { code: 'ERR_OUT_OF_RANGE' }, 'position + length past off_t');
    t.throws(() => n.pwriteSync(fd, buf, 0, 1, 0, 0), { code: 'ERR_OUT_OF_RANGE' }, 'flags 0: not a durable write');
    t.throws(() => n.pwriteSync(fd, buf, 0, 1, 0, RWF_DSYNC | RWF_SYNC), { code: 'ERR_OUT_OF_RANGE' }, 'both flags');
    t.throws(() => n.pwriteSync(fd, new Uint16Array(4) as never, 0, 1, 0, RWF_DSYNC), { code: 'ERR_INVALID_ARG_TYPE' });
    t.throws(() => n.pwriteSync(-1, buf, 0, 1, 0, RWF_DSYNC), { code: 'EBADF' }, 'a negative fd, before the call');
    await t.rejects(n.pwriteSync(ro, buf, 0, 1, 0, RWF_DSYNC), { code: 'EBADF', syscall: 'pwritev2' }, 'a read-only fd');
    const closed = openSync(join(dir, 'closed'), 'w');
    closeSync(closed);
    await t.rejects(n.pwriteSync(closed, buf, 0, 1, 0, RWF_SYNC), { code: 'EBADF', syscall: 'pwritev2' }, 'a closed fd');
  });
}
