import t from 'tap';
import fc from 'fast-check';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EventHistory, parseHistory, type BootEvent } from '@netboot/boot-events';

const ev = (i: number): BootEvent => ({ kind: 'nfs', at: 1_700_000_000_000 + i, ip: '198.18.1.20', what: 'active' });

t.test('a restart reads back what was appended, newest kept, the file compacted', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'boot-events.jsonl');
  const first = await EventHistory.open(file, { maxEvents: 10 });
  t.same(first.events, []);
  for (let i = 0; i < 25; i++) first.history.append(ev(i));
  t.equal(first.history.events().length, 10, 'memory holds the bound');
  await first.history.close();
  const lines = (await readFile(file, 'utf8')).trim().split('\n').length;
  t.ok(lines <= 20, `the file holds at most twice the bound (${lines})`);
  // A torn last line and junk from elsewhere are skipped, not fatal.
  await writeFile(file, `${await readFile(file, 'utf8')}not json\n{"kind":"nfs","at":"x"}\n{"kind":"nfs","at":1,`);
  const second = await EventHistory.open(file, { maxEvents: 10 });
  t.equal(second.skipped, 3);
  t.same(second.events.map((e) => e.at - 1_700_000_000_000), [15, 16, 17, 18, 19, 20, 21, 22, 23, 24]);
  await second.history.close();
  t.equal((await readFile(file, 'utf8')).trim().split('\n').length, 10, 'compacted on open');
});

t.test('parseHistory takes any text without throwing', async () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 2000 }), (s) => {
      const { events, skipped } = parseHistory(s);
      if (events.length + skipped > s.split('\n').length) throw new Error('more results than lines');
    }),
    { seed: 24, numRuns: 500 },
  );
});
