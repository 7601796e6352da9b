/**
 * File names and paths as bytes. POSIX names are any bytes but `/` and NUL,
 * and a name that is not UTF-8 (Latin-1, Shift-JIS, EUC-KR archives) must
 * reach the same file it names. Paths given to `fs` are Buffers, which Node
 * passes to the system calls unchanged; names kept in maps (the inode index,
 * directory snapshots) are Latin-1 strings of the same bytes, one character a
 * byte: a one-byte string costs a fraction of a Buffer's memory, and it is a
 * Map key as it is.
 */

const SLASH = 0x2f;

/** A name's bytes as the string kept in maps (one character a byte). */
export const nameKey = (name: Uint8Array): string => Buffer.from(name.buffer, name.byteOffset, name.byteLength).toString('latin1');

/** The bytes of a name kept as a string by nameKey. */
export const keyBytes = (key: string): Buffer => Buffer.from(key, 'latin1');

/** An export root (a path from the exports file, UTF-8) as bytes. */
export const rootPath = (root: string): Buffer => Buffer.from(root, 'utf8');

/** `dir/name`: `name` is one component (checked by the caller), `dir` an absolute path without a trailing slash but `/`. */
export function childPath(dir: Buffer, name: Uint8Array | string): Buffer {
  const n = typeof name === 'string' ? keyBytes(name) : name;
  const slash = dir[dir.length - 1] === SLASH ? 0 : 1;
  const out = Buffer.allocUnsafe(dir.length + slash + n.length);
  dir.copy(out, 0);
  if (slash) out[dir.length] = SLASH;
  out.set(n, dir.length + slash);
  return out;
}

/** The directory holding `path` (`/` for a name at the top). */
export function parentPath(path: Buffer): Buffer {
  const i = path.lastIndexOf(SLASH);
  return i <= 0 ? path.subarray(0, 1) : path.subarray(0, i);
}

/** The map key of a path (its bytes as a Latin-1 string). */
export const pathKey = (path: Buffer): string => path.toString('latin1');
