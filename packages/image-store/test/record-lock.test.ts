import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '@netboot/platform';
import { withRecordLock } from '../src/record-lock.js';

const CHANGES = 40;

/**
 * Many read-change-write cycles of one record at once, each under the record's lock: none is lost,
 * whether the lock is an OFD lock (two open file descriptions of one process exclude each other as two
 * processes do) or, in portable mode, the pid lock file. Without the lock nearly all would read the
 * same value and write the same next one.
 */
for (const [mode, calls] of [['native', native], ['portable', undefined]] as const) {
  t.test(`${mode}: changes of a record under its lock never undo each other`, { skip: mode === 'native' && !native ? 'the platform module is not built' : false }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'record-lock-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const record = join(dir, 'count');
    await writeFile(record, '0');
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: CHANGES }, () =>
        withRecordLock(
          join(dir, 'node.lock'),
          'a change of the count',
          async () => {
            most = Math.max(most, ++inside);
            const n = Number(await readFile(record, 'utf8'));
            await writeFile(record, String(n + 1));
            inside--;
          },
          calls,
        ),
      ),
    );
    t.equal(await readFile(record, 'utf8'), String(CHANGES), `all ${CHANGES} changes kept`);
    t.equal(most, 1, 'one change at a time');
  });
}
