import { createRequire } from 'node:module';
import { dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NativeCalls } from './native-calls.js';

/** How this process runs: with the addon, or without it and why. */
export type PlatformStatus = { mode: 'native'; detail: string } | { mode: 'portable'; why: string };

const require = createRequire(import.meta.url);
const packageDir = dirname(dirname(fileURLToPath(import.meta.url)));

function load(): { native: NativeCalls | undefined; status: PlatformStatus } {
  if (process.env.NETBOOT_PLATFORM === 'portable') {
    return { native: undefined, status: { mode: 'portable', why: 'NETBOOT_PLATFORM=portable in the environment' } };
  }
  if (process.platform !== 'linux') {
    return { native: undefined, status: { mode: 'portable', why: `the native module is Linux-only (this is ${process.platform})` } };
  }
  try {
    // NETBOOT_PLATFORM_ADDON names another build of the same addon (a sanitizer build).
    const override = process.env.NETBOOT_PLATFORM_ADDON;
    const file: string = override || (require('node-gyp-build') as { resolve(dir: string): string }).resolve(packageDir);
    const native = require(file) as NativeCalls;
    const shown = override ? file : relative(packageDir, file);
    return { native, status: { mode: 'native', detail: `${process.platform}-${process.arch}, ${shown}` } };
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    return {
      native: undefined,
      status: {
        mode: 'portable',
        why: `the native module did not load (${reason}); rebuild it with \`npm rebuild @netboot/platform\` (needs a C compiler, make and python3)`,
      },
    };
  }
}

const loaded = load();

/** The addon's calls, or undefined in portable mode. Loading never throws. */
export const native: NativeCalls | undefined = loaded.native;

/** native (with which build) or portable (with why). */
export function platformStatus(): PlatformStatus {
  return loaded.status;
}

/** One line for `--version` and logs: "native (linux-x64, build/Release/...)" or "portable (why)". */
export function platformSummary(): string {
  const status = loaded.status;
  return status.mode === 'native' ? `native (${status.detail})` : `portable (${status.why})`;
}
