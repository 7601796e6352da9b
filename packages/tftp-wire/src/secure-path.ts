import { realpath } from 'node:fs/promises';
import { dirname, isAbsolute, join, sep } from 'node:path';

export type Resolved =
  | { ok: true; path: string; exists: boolean }
  | { ok: false; reason: 'escape' | 'bad-name'; detail: string };

function inside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * Resolves a requested name under `root` the way `in.tftpd -s` confines it,
 * then checks the real path (symlinks followed) is still inside.
 *
 * - A name with a `..` component is refused outright.
 * - An absolute name that names a path inside the root (`/srv/tftp/x` with
 *   root `/srv/tftp`) is taken as it is. Otherwise leading slashes are
 *   stripped, as tftp-hpa does, and the rest is looked up under the root; if
 *   nothing is there the client asked for a path outside the root, which is
 *   refused rather than answered "not found".
 * - A path whose real location (after symlinks) leaves the root is refused.
 *
 * `root` must itself be a real path (see `realRoot`). For a name that does not
 * exist yet (a WRQ), the real path of its parent directory is checked.
 */
export async function resolveUnderRoot(root: string, name: string): Promise<Resolved> {
  if (name.length === 0) return { ok: false, reason: 'bad-name', detail: 'empty file name' };
  if (name.includes('\0')) return { ok: false, reason: 'bad-name', detail: 'NUL in file name' };
  const parts = name.split('/');
  if (parts.includes('..')) return { ok: false, reason: 'escape', detail: `"${name}" contains ".."` };
  let candidate: string;
  let absoluteOutside = false;
  if (isAbsolute(name) && inside(root, join('/', name))) {
    candidate = join('/', name);
  } else {
    absoluteOutside = isAbsolute(name);
    const rel = name.replace(/^\/+/, '');
    if (rel.length === 0) return { ok: false, reason: 'bad-name', detail: 'the name is only slashes' };
    candidate = join(root, rel);
  }
  let real: string;
  let exists = true;
  try {
    real = await realpath(candidate);
  } catch {
    exists = false;
    if (absoluteOutside) {
      return { ok: false, reason: 'escape', detail: `"${name}" is an absolute path outside the root` };
    }
    try {
      real = join(await realpath(dirname(candidate)), candidate.slice(dirname(candidate).length + 1));
    } catch {
      // The directory does not exist either: nothing to escape through.
      return { ok: true, path: candidate, exists: false };
    }
  }
  if (!inside(root, real)) return { ok: false, reason: 'escape', detail: `"${name}" leads to ${real}, outside the root` };
  return { ok: true, path: real, exists };
}

/** The real path of a root directory, as `resolveUnderRoot` expects it. */
export function realRoot(root: string): Promise<string> {
  return realpath(root);
}
