/** An archive entry refused because applying it could reach outside the new generation. */
export class UnsafeEntryError extends Error {
  override name = 'UnsafeEntryError';
  constructor(
    readonly entry: string,
    readonly reason: string,
  ) {
    super(`${JSON.stringify(entry)}: ${reason}`);
  }
}

/**
 * The components of an entry name inside the image: "./" and empty
 * components dropped; absolute names and ".." refused (tar writers never
 * need them for a root file system, and each is a classic escape).
 * [] is the image root itself.
 */
export function entryComponents(name: string, entry: string, what = 'name'): string[] {
  if (name.startsWith('/')) throw new UnsafeEntryError(entry, `absolute ${what} "${name}" is refused: image entries are relative to the image root`);
  const out: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') throw new UnsafeEntryError(entry, `${what} "${name}" has a ".." component`);
    out.push(c);
  }
  return out;
}

/**
 * Whether a symlink in directory `parent` (components) pointing at `target`
 * climbs above the image root when resolved as text. An absolute target is
 * resolved by the node against its own root, which is the image, so it stays
 * inside; the server never follows either kind.
 */
export function symlinkEscapes(parent: readonly string[], target: string): boolean {
  let depth = target.startsWith('/') ? 0 : parent.length;
  for (const c of target.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (target.startsWith('/')) depth = Math.max(0, depth - 1);
      else if (--depth < 0) return true;
    } else depth++;
  }
  return false;
}
