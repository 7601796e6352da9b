import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NfsServer } from '@netboot/nfs3';
import { rw } from './harness.js';

// Without the platform module the server works on host paths: it says so once, at start, with what
// that leaves open (the path race on rw exports) and which calls are approximate.

t.test('portable mode is said once, plainly', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nfs3-portable-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const lines: string[] = [];
  const exports = [{ id: 1, path: dir, optionsFor: () => rw }];
  const server = await NfsServer.create({ exports, handleKey: Buffer.alloc(32, 7), log: (l) => lines.push(l), portable: true });
  t.teardown(() => server.close());
  await server.setExports([...exports, { id: 2, path: dir + '/', optionsFor: () => rw }]);
  const said = lines.filter((l) => /portable mode/.test(l));
  t.equal(said.length, 1, 'one line, however many exports');
  t.match(said[0], /rw exports/, 'names the exports at risk');
  t.match(said[0], /outside the export/, 'and what the race can do');
  t.match(said[0], /microsecond/, 'which calls are approximate: times');
  t.match(said[0], /MKNOD/, 'MKNOD');
  t.match(said[0], /4096 bytes/, 'path length');
});
