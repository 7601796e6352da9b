import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OriginLog } from '../src/origin-log.js';
import { start } from '../../../test/support/processes.js';

function scratch(t: { teardown(f: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'origin-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'origins.log');
}

t.test('a copy-up appends one line; a removal one more; read back as the map', async (t) => {
  const path = scratch(t);
  const log = await OriginLog.load(path);
  await log.set(100n, 7n);
  await log.set(101n, 8n);
  t.equal(readFileSync(path, 'latin1'), '100 7\n101 8\n', 'the first write makes the file whole, later ones append');
  await log.delete(100n);
  await log.delete(999n);
  t.equal(readFileSync(path, 'latin1'), '100 7\n101 8\n100 -\n', 'a removal is a line; forgetting what was never noted writes nothing');
  const again = await OriginLog.load(path);
  t.equal(again.get(100n), undefined);
  t.equal(again.get(101n), 8n);
});

t.test('copy-ups in flight together all reach the file, in order', async (t) => {
  const path = scratch(t);
  const log = await OriginLog.load(path);
  await log.set(1n, 1n);
  await Promise.all(Array.from({ length: 50 }, (_, i) => log.set(BigInt(10 + i), BigInt(i))).concat([log.delete(10n)]));
  const again = await OriginLog.load(path);
  t.equal(again.get(10n), undefined, 'the removal queued after its set stays after it');
  for (let i = 1; i < 50; i++) t.equal(again.get(BigInt(10 + i)), BigInt(i));
});

t.test('a torn last line is dropped and the log written whole before the next line', async (t) => {
  const path = scratch(t);
  writeFileSync(path, '5 6\n7 8\n9 1');
  const log = await OriginLog.load(path);
  t.equal(log.get(7n), 8n);
  t.equal(log.get(9n), undefined, 'the line a crash cut off does not count');
  await log.set(11n, 12n);
  t.equal(readFileSync(path, 'latin1'), '5 6\n7 8\n11 12\n', 'no line is appended to the torn one');
});

t.test('origins kept as JSON (the format before) are read, and rewritten as a log', async (t) => {
  const path = scratch(t);
  writeFileSync(path, JSON.stringify({ 40: '4', 41: '5' }));
  const log = await OriginLog.load(path);
  t.equal(log.get(41n), 5n);
  await log.set(42n, 6n);
  t.equal(readFileSync(path, 'latin1'), '40 4\n41 5\n42 6\n');
});

t.test('a log much longer than its map is rewritten whole', async (t) => {
  const path = scratch(t);
  const log = await OriginLog.load(path);
  for (let i = 0; i < 700; i++) {
    await log.set(3n, BigInt(i));
    await log.delete(3n);
  }
  await log.set(4n, 4n);
  t.ok(statSync(path).size < 1100 * 6, `bounded (${statSync(path).size} bytes after 1401 changes)`);
  const again = await OriginLog.load(path);
  t.equal(again.get(3n), undefined);
  t.equal(again.get(4n), 4n);
});

t.test('kill -9 of a writer between copy-ups: every line it was told is on disk is read back', async (t) => {
  const path = scratch(t);
  const module = fileURLToPath(new URL('../dist/origin-log.js', import.meta.url));
  // Appends one origin after another, printing each once it is on disk, until killed.
  const script = `const { OriginLog } = await import(${JSON.stringify(module)});
const log = await OriginLog.load(${JSON.stringify(path)});
for (let i = 1n; i < 100000n; i++) { await log.set(i, i * 2n); process.stdout.write(i + '\\n'); }`;
  const writer = start(t, process.execPath, ['--input-type=module', '-e', script]);
  const done = Number((await writer.waitFor(/^(\d{2,})\n/m, 60_000))[1]);
  await writer.kill();
  const told = Math.max(done, ...writer.output().split('\n').filter((l) => /^\d+$/.test(l)).map(Number));
  const log = await OriginLog.load(path);
  let missing = 0;
  for (let i = 1; i <= told; i++) if (log.get(BigInt(i)) !== BigInt(i * 2)) missing++;
  t.equal(missing, 0, `all ${told} origins it reported written are there`);
  await log.set(1_000_000n, 1n);
  t.equal((await OriginLog.load(path)).get(1_000_000n), 1n, 'and the log takes more lines after');
});
