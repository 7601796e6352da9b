#!/usr/bin/env node
// Long fuzzing runs: `npm run fuzz -- --seconds 600 [--seed N] [--target SUBSTRING]`.
// The loop runs in a worker; this thread watches it, so an input that hangs
// a decoder is caught (and saved) even though the worker is stuck in it.
// Every finding is written to fuzz/fixtures/<target>/<kind>-<sha1>.bin, which
// test/hostile/fuzz-decoders.test.ts replays in npm test.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const HANG_MS = 10_000;
const INPUT_MAX = 64 * 1024;

if (isMainThread) {
  const { values } = parseArgs({
    options: { seconds: { type: 'string', default: '60' }, seed: { type: 'string' }, target: { type: 'string' } },
  });
  const seconds = Number(values.seconds);
  if (!(seconds > 0)) {
    console.error('--seconds must be a positive number, e.g. npm run fuzz -- --seconds 600');
    process.exit(2);
  }
  let seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 0x7fffffff;
  const deadline = Date.now() + seconds * 1000;
  const findings = [];
  let execs = 0;
  const perTarget = new Map();
  console.log(`fuzz: ${seconds} s, seed ${seed}${values.target ? `, targets matching "${values.target}"` : ''}`);

  const save = (target, input, kind, detail) => {
    const id = createHash('sha1').update(input).digest('hex').slice(0, 12);
    const dir = new URL(`./fixtures/${target}/`, import.meta.url);
    mkdirSync(dir, { recursive: true });
    const file = new URL(`${kind}-${id}.bin`, dir);
    writeFileSync(file, input);
    findings.push({ target, kind, detail, file: `fuzz/fixtures/${target}/${kind}-${id}.bin` });
    console.log(`FINDING ${target} ${kind}: ${detail.split('\n')[0]}\n  saved as fuzz/fixtures/${target}/${kind}-${id}.bin`);
  };

  const runWorker = () =>
    new Promise((resolve) => {
      const shared = new SharedArrayBuffer(16 + INPUT_MAX);
      const header = new Int32Array(shared, 0, 4); // [execs, input length, target index]
      const worker = new Worker(new URL(import.meta.url), { workerData: { seed, deadline, target: values.target, shared } });
      let names;
      let lastExecs = 0;
      let lastMove = Date.now();
      const watch = setInterval(() => {
        if (!names) return; // still loading the targets
        const n = Atomics.load(header, 0);
        if (n !== lastExecs) {
          lastExecs = n;
          lastMove = Date.now();
        } else if (Date.now() - lastMove > HANG_MS) {
          const len = Atomics.load(header, 1);
          const input = Buffer.from(new Uint8Array(shared, 16, len));
          save(names[Atomics.load(header, 2)] ?? 'unknown', input, 'hang', `no progress for ${HANG_MS} ms`);
          execs += Atomics.load(header, 0); // the stuck worker never reports its count
          clearInterval(watch);
          void worker.terminate();
        }
      }, 500);
      worker.on('message', (m) => {
        if (m.names) {
          names = m.names;
          lastMove = Date.now();
        }
        if (m.finding) save(m.target, Buffer.from(m.input), m.finding.kind, m.finding.detail);
        if (m.done) {
          execs += m.execs;
          for (const [k, v] of m.counts) perTarget.set(k, (perTarget.get(k) ?? 0) + v);
        }
      });
      worker.on('error', (e) => {
        console.log(`fuzz worker failed: ${e.stack ?? e}`);
      });
      worker.on('exit', () => {
        clearInterval(watch);
        resolve();
      });
    });

  while (Date.now() < deadline) {
    await runWorker();
    seed = (seed * 1103515245 + 12345) & 0x7fffffff; // after a hang, go on with a fresh stream
  }
  for (const [k, v] of [...perTarget].sort()) console.log(`  ${k.padEnd(28)} ${v}`);
  console.log(`fuzz: ${execs} executions over ${perTarget.size} targets in ${seconds} s, ${findings.length} findings`);
  process.exit(findings.length === 0 ? 0 : 1);
} else {
  const { fuzz } = await import('./engine.js');
  const { targets } = await import('./targets.js');
  const { seed, deadline, target: filter, shared } = workerData;
  const chosen = filter ? targets.filter((t) => t.name.includes(filter)) : targets;
  const header = new Int32Array(shared, 0, 4);
  const slot = new Uint8Array(shared, 16);
  const index = new Map(chosen.map((t, i) => [t, i]));
  parentPort.postMessage({ names: chosen.map((t) => t.name) });
  const { execs, counts } = fuzz(chosen, {
    seed,
    deadline,
    onInput(target, input) {
      const n = Math.min(input.length, slot.length);
      slot.set(input.subarray(0, n));
      Atomics.store(header, 1, n);
      Atomics.store(header, 2, index.get(target));
      Atomics.add(header, 0, 1);
    },
    onFinding(target, input, finding) {
      parentPort.postMessage({ target: target.name, input, finding });
    },
  });
  parentPort.postMessage({ done: true, execs, counts: [...counts] });
}
