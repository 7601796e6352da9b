import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import t from 'tap';

const comms = (): string[] => readdirSync('/proc/self/task').map((tid) => readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim());

t.test('nameThread names the calling thread only, cut to 15 bytes', { skip: process.platform !== 'linux' && 'thread names are read from /proc (Linux)' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'platform-thread-name-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // A worker of plain JavaScript that imports the built package, names its thread and says what /proc says of it.
  const script = join(dir, 'worker.mjs');
  const index = new URL('../dist/index.js', import.meta.url).href;
  writeFileSync(
    script,
    `import { parentPort } from 'node:worker_threads';\nimport { readFileSync } from 'node:fs';\nimport { nameThread } from ${JSON.stringify(index)};\n` +
      `const named = nameThread('storm-test-thread-name');\nparentPort.postMessage({ named, comm: readFileSync('/proc/thread-self/comm', 'utf8').trim() });\n` +
      `parentPort.once('message', () => process.exit(0));\n`,
  );
  const mainComm = readFileSync('/proc/thread-self/comm', 'utf8').trim();
  const worker = new Worker(script, { execArgv: [] });
  const [said] = (await once(worker, 'message')) as [{ named: boolean; comm: string }];
  t.equal(said.named, true, 'named');
  t.equal(said.comm, 'storm-test-thre', 'the worker thread carries the name, cut to 15 bytes');
  t.ok(comms().includes('storm-test-thre'), 'the process lists the named thread');
  t.equal(readFileSync('/proc/thread-self/comm', 'utf8').trim(), mainComm, 'the main thread keeps its name');
  worker.postMessage('done');
  await once(worker, 'exit');
});
