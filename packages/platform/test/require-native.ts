import type { Test } from 'tap';
import { native, platformStatus, type NativeCalls } from '@netboot/platform';

/** The addon, or undefined after skipping (locally) or failing (CI=true: CI runs with the module). */
export function requireNative(t: Pick<Test, 'skip' | 'fail'>): NativeCalls | undefined {
  if (native) return native;
  const status = platformStatus();
  const why = status.mode === 'portable' ? status.why : '';
  if (process.env.CI === 'true') t.fail(`the native module must load in CI: ${why}`);
  else t.skip(`portable mode: ${why}`, () => {});
  return undefined;
}

/** Runs fn, expecting a Node-style errno error: code, negative errno, syscall, message "CODE: text, syscall". */
export function expectErrno(t: Test, fn: () => unknown, code: string, syscall: string, message?: string): void {
  try {
    fn();
    t.fail(`expected ${code} from ${syscall}`);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    t.equal(e.code, code, message ?? `${syscall} throws ${code}`);
    t.equal(e.syscall, syscall, 'names the syscall');
    t.ok(typeof e.errno === 'number' && e.errno < 0, 'errno is negative, as in node:fs');
    t.match(e.message, new RegExp(`^${code}: [a-z].*, ${syscall}$`), 'message reads like node:fs');
  }
}
