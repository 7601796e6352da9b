import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { requireNative } from './require-native.js';

const n = requireNative(t);
if (n) {
  t.test('syncfs flushes the file system of an fd, off the event loop', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'platform-syncfs-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'file'), 'data');
    const fd = openSync(dir, 'r');
    try {
      const p = n.syncfs(fd);
      t.ok(p instanceof Promise, 'a promise');
      await t.resolves(p);
    } finally {
      closeSync(fd);
    }
    await t.rejects(n.syncfs(fd), { code: 'EBADF', syscall: 'syncfs' }, 'a closed fd');
    t.throws(() => n.syncfs(-1), { code: 'EBADF' }, 'a negative fd, before the call');
    t.throws(() => n.syncfs('3' as unknown as number), { code: 'ERR_INVALID_ARG_TYPE' }, 'not a number');
  });
}
