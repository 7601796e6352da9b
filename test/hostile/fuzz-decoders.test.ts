import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { execute, fuzz, type FuzzTarget } from '../../fuzz/engine.js';
import { targets } from '../../fuzz/targets.js';

// The fixed-seed part of the fuzzing (npm run fuzz runs the long one): every
// decoder and parser of the shipped packages, fed random bytes and mutations
// of its golden vectors (bit flips, truncations, inflated length fields,
// splices), gives a value or its package's typed error, never another
// exception, quickly, without asking for an allocation its input does not
// justify. Then every input a long run ever found is replayed.

const EXECS_PER_TARGET = Number(process.env.HOSTILE_FUZZ_EXECS ?? 400);

t.test('the harness notices what it is looking for', async (t) => {
  const probe = (run: (b: Buffer) => unknown): FuzzTarget => ({ name: 'probe', golden: [], run, typed: (e) => e instanceof RangeError });
  t.equal(execute(probe(() => 1), Buffer.alloc(4)), undefined, 'a value passes');
  t.equal(execute(probe(() => { throw new RangeError('typed here'); }), Buffer.alloc(4)), undefined, 'the typed error passes');
  t.equal(execute(probe(() => { throw new TypeError('x'); }), Buffer.alloc(4))?.kind, 'exception', 'another exception is a finding');
  t.equal(execute(probe((b) => Buffer.allocUnsafe(b.readUInt32BE(0))), Buffer.from([0x7f, 0xff, 0xff, 0xff]))?.kind, 'allocation', 'a 2 GiB allocation request is a finding');
  t.equal(execute(probe(() => { const end = Date.now() + 700; while (Date.now() < end); }), Buffer.alloc(0))?.kind, 'slow', 'a slow input is a finding');
});

t.test('every decoder, fixed seed', async (t) => {
  const started = Date.now();
  let total = 0;
  for (const [i, target] of targets.entries()) {
    const found: string[] = [];
    const { execs } = fuzz([target], {
      seed: 42 + i,
      deadline: Date.now() + 60_000,
      maxExecs: EXECS_PER_TARGET,
      onFinding: (_t, input, f) => found.push(`${f.kind}: ${f.detail} (input ${input.toString('hex').slice(0, 200)})`),
    });
    total += execs;
    t.same(found, [], `${target.name}: ${execs} inputs, ${target.golden.length} golden`);
  }
  t.comment(`fuzz: ${total} executions over ${targets.length} targets in ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

t.test('every input a long run found stays fixed', async (t) => {
  const root = new URL('../../fuzz/fixtures/', import.meta.url);
  let replayed = 0;
  for (const target of targets) {
    const dir = new URL(`${target.name}/`, root);
    if (!existsSync(dir)) continue;
    for (const file of readdirSync(dir)) {
      const finding = execute(target, readFileSync(new URL(file, dir)));
      t.equal(finding, undefined, `${target.name}/${file}`);
      replayed++;
    }
  }
  t.comment(`${replayed} saved inputs replayed`);
});
