import t from 'tap';
import { fstatSync, openSync } from 'node:fs';
import { until } from '../../../test/support/until.js';
// Internal to the package (not exported): reached through its build output.
import { TransferThreads } from '../dist/transfer-threads.js';

t.test('a transfer handed over after close() fails at once instead of starting a thread, and its fd is closed', async (t) => {
  const threads = new TransferThreads(1, () => {});
  await threads.close(0, 'server shutting down');
  const ends: string[] = [];
  const fd = openSync(new URL(import.meta.url), 'r');
  const abort = threads.start(
    {
      fd,
      identity: { dev: 0, ino: 0, size: 0, mtimeMs: 0 },
      serve: { settings: { blksize: 512, windowsize: 1 }, oack: [] },
      retry: { initialMs: 1000, maxMs: 8000, maxRetries: 5 },
      family: 'udp4',
      local: '127.0.0.1',
      address: '127.0.0.1',
      port: 9,
      sendBufferBytes: 65536,
      transport: 'dgram',
    },
    { onDone: (d) => ends.push(`${d.outcome}: ${d.reason}`), onLog: () => {} },
  );
  t.same(ends, ['failed: server shutting down']);
  abort(0, 'again', false);
  t.same(ends.length, 1, 'aborting it afterwards does nothing');
  await until(() => {
    try {
      fstatSync(fd);
      return false;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EBADF';
    }
  }, 'the fd handed over is closed');
  t.pass('the fd handed over is closed');
});
