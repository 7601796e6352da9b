import { realpath } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, relative, sep } from 'node:path';

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
  const n = nameUnderRoot(root, name);
  if (!n.ok) return n;
  const candidate = n.rel === '' ? root : join(root, n.rel);
  const absoluteOutside = n.absoluteOutside;
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

/** A requested name as a path relative to the root ('' for the root itself), or why it is refused; no file system access. */
export type NameUnderRoot = { ok: true; rel: string; absoluteOutside: boolean } | { ok: false; reason: 'escape' | 'bad-name'; detail: string };

/**
 * The name-only part of `resolveUnderRoot`'s rules: `..` and NUL refused, an
 * absolute name inside the root taken as it is, leading slashes stripped
 * otherwise (`absoluteOutside` tells the caller to answer a missing file as
 * an escape, not "not found").
 */
export function nameUnderRoot(root: string, name: string): NameUnderRoot {
  if (name.length === 0) return { ok: false, reason: 'bad-name', detail: 'empty file name' };
  if (name.includes('\0')) return { ok: false, reason: 'bad-name', detail: 'NUL in file name' };
  if (name.split('/').includes('..')) return { ok: false, reason: 'escape', detail: `"${name}" contains ".."` };
  if (isAbsolute(name) && inside(root, join('/', name))) return { ok: true, rel: relative(root, join('/', name)), absoluteOutside: false };
  const rel = name.replace(/^\/+/, '');
  if (rel.length === 0) return { ok: false, reason: 'bad-name', detail: 'the name is only slashes' };
  return { ok: true, rel: normalize(rel), absoluteOutside: isAbsolute(name) };
}

/** The real path of a root directory, as `resolveUnderRoot` expects it. */
export function realRoot(root: string): Promise<string> {
  return realpath(root);
}
