import { closeSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native, platformSummary } from '@netboot/platform';

console.log(`platform: ${platformSummary()}`); // native (linux-x64, ...) or portable (why)
if (native) {
  const c = native.constants;
  const root = mkdtempSync(join(tmpdir(), 'export-'));
  writeFileSync(join(root, 'kernel'), 'bytes');
  // Every later call starts from this directory fd: no absolute path from a client.
  const dir = native.openat2(c.AT_FDCWD, root, c.O_RDONLY | c.O_DIRECTORY, 0, 0);
  const beneath = c.RESOLVE_BENEATH | c.RESOLVE_NO_MAGICLINKS;
  try {
    native.openat2(dir, '../etc/passwd', c.O_RDONLY, 0, beneath);
  } catch (error) {
    console.log((error as Error).message); // EXDEV: cross-device link not permitted, openat2
  }
  native.utimensat(dir, 'kernel', 0, c.UTIME_OMIT, 1_700_000_000, 123_456_789, 0);
  console.log(native.fstatat(dir, 'kernel', 0).mtimeNs); // 1700000000123456789n
  closeSync(dir);
  rmSync(root, { recursive: true });
}
