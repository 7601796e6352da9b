import { spawnSync } from 'node:child_process';
import t from 'tap';

// V8's maps are seen only with its natives syntax, so a child process of plain JavaScript imports the built module.
const run = (make: string) => {
  const mod = new URL('../dist/object-array.js', import.meta.url).href;
  const script =
    `import { objectArray } from ${JSON.stringify(mod)};\n` +
    // An array that has held an object, then was emptied: the kind every queue of a connection reaches.
    `const used = []; used.push({}); used.length = 0;\n` +
    `const fresh = ${make};\n` +
    `console.log(JSON.stringify({ same: %HaveSameMap(fresh, used), empty: fresh.length === 0 }));\n`;
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(r.stderr || `exit ${r.status}`);
  return JSON.parse(r.stdout) as { same: boolean; empty: boolean };
};

t.test('an array from objectArray() has, empty, the map an array of objects has', async (t) => {
  t.same(run('objectArray()'), { same: true, empty: true }, 'no change of kind is left for its first push');
  // What the queues were made with before: a literal starts as small integers, another map.
  t.same(run('[]'), { same: false, empty: true }, 'the literal differs, so the check can tell');
});
