// What V8 compiles and throws away while netboot's NFS server meets cold
// trees: per cold walk (as nfs-cost's `walk` cell makes it, C client, page
// cache dropped first), the server's CPU microseconds per call and how many
// functions TurboFan optimised, how many optimised functions were
// deoptimised where they ran (eager and soft deopts: a check failed, feedback
// was missing) and how many were thrown away by a dependency ("code
// dependencies": a field's type or an allocation site's pretenuring changed).
// Counts, not times: they do not move with the machine's load, so two builds
// can be compared on a busy machine. The CPU figure is with the tracing on.
//
//   node bench/nfs-walk-jit.js [--walks 4] [--tree-entries 3000] [--baseline DIR] [--keep-logs DIR]
//
// Each server is warmed up as nfs-cost's walk cell does (a 500-entry tree
// walked three times per NFS thread), then walks --walks trees of its own,
// each a copy no server has seen. Connections go to the NFS threads in turn,
// so walk i runs on thread i mod threads: a thread's first walk is where its
// code is optimised, its later ones show what is still recompiled.
// --keep-logs DIR writes each walk's trace lines there. Needs root, perf is
// not used; gcc and libnfs-dev for the C client.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildNfsBench, runNfsBench, warmUpWalks } from './lib/c-client.js';
import { nfsThreads, startNetboot } from './lib/nfs-servers.js';
import { cleanups, dropPageCache, load, threadsCpuNs } from './lib/processes.js';
import { copyRealTree } from './lib/real-tree.js';

const { values } = parseArgs({
  options: {
    walks: { type: 'string', default: '4' },
    'tree-entries': { type: 'string', default: '3000' },
    baseline: { type: 'string' },
    'keep-logs': { type: 'string' },
  },
});
const walks = Number(values.walks);
const entries = Number(values['tree-entries']);
if (!(Number.isInteger(walks) && walks >= 1 && walks <= 20) || !(Number.isInteger(entries) && entries >= 100 && entries <= 100_000)) {
  console.error('usage: node bench/nfs-walk-jit.js [--walks 1-20] [--tree-entries 100-100000] [--baseline DIR] [--keep-logs DIR]');
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  console.error('nfs-walk-jit: needs root (network namespaces, dropping the page cache)');
  process.exit(1);
}
const build = buildNfsBench();
if (build.why) {
  console.error(`nfs-walk-jit: the C client: ${build.why}`);
  process.exit(1);
}

/** What V8 printed during one walk, counted. */
function jitCounts(text) {
  const count = (re) => (text.match(re) ?? []).length;
  return {
    optimised: count(/^\[completed compiling .*\(target TURBOFAN\)/gm),
    deopts: count(/^\[bailout \(kind: deopt-(eager|soft)/gm),
    dependencyDeopts: count(/^\[marking dependent code .*reason: code dependencies\]/gm),
  };
}

const atExit = cleanups();
const work = mkdtempSync(join(tmpdir(), 'nb-nfs-walk-jit-'));
atExit.add(() => rmSync(work, { recursive: true, force: true }));
try {
  const dir = join(work, 'export');
  mkdirSync(dir);
  const servers = { netboot: undefined, ...(values.baseline ? { baseline: values.baseline } : {}) };
  for (const name of Object.keys(servers)) {
    copyRealTree('/usr/lib', join(dir, `${name}-warm`), { maxEntries: 500 });
    for (let i = 0; i < walks; i++) copyRealTree('/usr/lib', join(dir, `${name}-${i}`), { maxEntries: entries });
  }
  console.log(`cold walks of ${entries} entries of /usr/lib, C client, after warm-up walks on each of ${nfsThreads()} NFS threads; load ${load().join(' ')}`);
  console.log(`${'server'.padEnd(10)}${'walk'.padStart(5)}${'thread'.padStart(8)}${'calls'.padStart(7)}${'cpu µs/call'.padStart(13)}${'optimised'.padStart(11)}${'deopts'.padStart(8)}${'dependency'.padStart(12)}`);
  for (const [name, checkout] of Object.entries(servers)) {
    const s = await startNetboot({ dir, work, atExit, checkout, tag: name, v8Flags: ['--trace-opt', '--trace-deopt-verbose'] });
    if (s.why) {
      console.log(`${name}: not measured: ${s.why}`);
      continue;
    }
    const log = join(work, `${name}.log`);
    const warm = warmUpWalks(s.ns, build.path, s.exportPath, `${name}-warm`, nfsThreads());
    if (warm.error) {
      console.log(`${name}: warm-up walk: ${warm.error}`);
      await s.server.stop();
      continue;
    }
    for (let i = 0; i < walks; i++) {
      const from = statSync(log).size;
      dropPageCache();
      const ns0 = threadsCpuNs(s.server.pid);
      const r = runNfsBench(s.ns, build.path, ['--export', s.exportPath, '--op', 'walk', '--dir', `${name}-${i}`], 600_000);
      const ns1 = threadsCpuNs(s.server.pid);
      if (r.error) {
        console.log(`${name}: walk ${i}: ${r.error}`);
        break;
      }
      const text = readFileSync(log).subarray(from).toString();
      if (values['keep-logs']) {
        mkdirSync(values['keep-logs'], { recursive: true });
        writeFileSync(join(values['keep-logs'], `${name}-walk${i}.log`), text);
      }
      const c = jitCounts(text);
      console.log(
        `${name.padEnd(10)}${String(i).padStart(5)}${String(i % nfsThreads()).padStart(8)}${String(r.calls).padStart(7)}${((ns1 - ns0) / 1e3 / r.calls).toFixed(1).padStart(13)}` +
          `${String(c.optimised).padStart(11)}${String(c.deopts).padStart(8)}${String(c.dependencyDeopts).padStart(12)}`,
      );
    }
    await s.server.stop();
  }
  console.log(`load at end ${load().join(' ')}; thread = the NFS thread the walk's connection went to (each an isolate that compiles on its own); optimised = TurboFan compiles, deopts = eager and soft deopts, dependency = optimised code thrown away by a changed dependency`);
} finally {
  atExit.run();
}
