// The C load clients of the benchmarks (bench/c/*.c): compiled with gcc when a
// bench runs, into bench/.cache (gitignored), named by a hash of the source and
// flags so an edit rebuilds and an unchanged source is compiled once.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inNs, sh, which } from './processes.js';
import { spawnSync } from 'node:child_process';

const benchDir = fileURLToPath(new URL('..', import.meta.url));
const cacheDir = join(benchDir, '.cache');

/**
 * Builds bench/c/`name`.c linked with `libs`; returns { path } or { why }
 * (gcc or the library's headers missing, with what to install).
 */
export function buildC(name, { libs = [], headers = [], install = '' } = {}) {
  const source = join(benchDir, 'c', `${name}.c`);
  const gcc = which('gcc') ?? which('cc');
  if (!gcc) return { why: `gcc is not installed (apt-get install gcc${install ? ` ${install}` : ''})` };
  for (const h of headers) {
    if (!existsSync(join('/usr/include', h))) return { why: `/usr/include/${h} is missing (apt-get install ${install})` };
  }
  const flags = ['-O2', '-Wall', '-Wextra'];
  const hash = createHash('sha256').update(readFileSync(source)).update(flags.join(' ') + libs.join(' ')).digest('hex').slice(0, 12);
  const path = join(cacheDir, `${name}-${hash}`);
  if (existsSync(path)) return { path };
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}`;
  const r = sh(gcc, [...flags, '-o', tmp, source, ...libs.map((l) => `-l${l}`)], 120_000);
  if (r.status !== 0) return { why: `${gcc} failed on ${source}: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-3).join(' | ')}` };
  renameSync(tmp, path);
  return { path };
}

/** bench/c/nfs-bench.c, the NFSv3 load client (libnfs' raw async API). */
export function buildNfsBench() {
  return buildC('nfs-bench', { libs: ['nfs'], headers: ['nfsc/libnfs-raw.h'], install: 'libnfs-dev' });
}

/**
 * Runs the C NFS client inside `ns` with `args` (see bench/c/nfs-bench.c),
 * bounded in time; returns its JSON line parsed, or { error }.
 */
export function runNfsBench(ns, binary, args, timeoutMs) {
  const [c, a] = inNs(ns, binary, args);
  const r = spawnSync(c, a, { encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) {
    const why = (r.stderr || r.error?.message || `exit ${r.status ?? r.signal}`).trim().split('\n').slice(-3).join(' | ');
    return { error: why };
  }
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop());
  } catch {
    return { error: `unreadable output: ${r.stdout.slice(-200)}` };
  }
}

/** Warm-up walks per NFS thread of a server before a cold walk is measured (a thread's first walks still compile its code). */
const WARM_WALKS_PER_THREAD = 3;

/**
 * Walks `dir` of the export (see --op walk) WARM_WALKS_PER_THREAD times for
 * each of `threads` NFS threads, each walk on a connection of its own:
 * netboot hands connections to its threads in turn, and each thread has a
 * JIT of its own, so warming one thread would leave the measured walk on a
 * cold one. Returns { error } when a walk fails.
 */
export function warmUpWalks(ns, binary, exportPath, dir, threads) {
  for (let i = 0; i < WARM_WALKS_PER_THREAD * threads; i++) {
    const w = runNfsBench(ns, binary, ['--export', exportPath, '--op', 'walk', '--dir', dir], 300_000);
    if (w.error) return w;
  }
  return {};
}
