import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Test } from 'tap';

const SEARCH = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];

/** The absolute path of an executable, or undefined. Looks in sbin too, where rpcbind and dhcpd live. */
export function which(program: string): string | undefined {
  for (const dir of SEARCH) {
    if (!dir) continue;
    const path = join(dir, program);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

type Skippable = Pick<Test, 'skip' | 'fail'>;

/**
 * Finds the real programs an interop test drives, keyed by program name with
 * the Debian package that ships it. Locally a missing program skips the test
 * and says which package to install; in CI (CI=true) it is a failure, never a
 * skip. Returns the absolute paths, or undefined when the test must stop.
 */
export function requirePrograms<K extends string>(
  t: Skippable,
  programs: Record<K, string>,
): Record<K, string> | undefined {
  const found = {} as Record<K, string>;
  const missing: string[] = [];
  for (const name of Object.keys(programs) as K[]) {
    const path = which(name);
    if (path) found[name] = path;
    else missing.push(`${name} (Debian package ${programs[name]})`);
  }
  if (missing.length === 0) return found;
  requireThat(t, false, `missing ${missing.join(', ')}: apt-get install it to run this test`);
  return undefined;
}

/**
 * Says whether what a test needs from the machine is there. When it is not,
 * the test skips locally with `message` and fails in CI (CI=true), where a
 * missing capability means the run proves less than it claims.
 */
export function requireThat(t: Skippable, ok: boolean, message: string): boolean {
  if (ok) return true;
  if (process.env.CI === 'true') t.fail(message);
  else t.skip(message, () => {});
  return false;
}

/** Whether this process can create network namespaces (root with iproute2). */
export function canUseNetns(): boolean {
  return isRoot() && which('ip') !== undefined;
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Network namespaces for the test, or a local skip / CI failure saying what is missing. */
export function requireNetns(t: Skippable): boolean {
  return requireThat(t, canUseNetns(), 'needs root and iproute2 for network namespaces');
}
