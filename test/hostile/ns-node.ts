import { run } from '../support/processes.js';
import { repoRoot } from '../support/paths.js';

/**
 * Runs an ES module source with this Node inside network namespace `ns`
 * (a test's client that must send from that namespace's addresses), from
 * the repository root so `@netboot/*` resolve to the built packages. The
 * script gets `input` as `process.argv[1]` (JSON) and prints its result as
 * JSON on its last stdout line.
 */
export async function nodeIn<T>(ns: string, source: string, input: unknown, timeoutMs = 30_000): Promise<T> {
  const r = await run(process.execPath, ['--input-type=module', '-e', source, JSON.stringify(input)], { ns, cwd: repoRoot, timeoutMs });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as T;
  } catch {
    throw new Error(`script in ${ns} gave no JSON (exit ${r.code}${r.timedOut ? ', timed out' : ''}):\n${r.stdout}\n${r.stderr}`);
  }
}

