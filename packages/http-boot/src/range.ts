/**
 * What a `Range` header asks of a representation of `size` bytes (RFC 9110
 * section 14): the whole of it, one byte range (`end` inclusive), or nothing
 * it holds (416).
 */
export type RangeRequest =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

const FULL: RangeRequest = { kind: 'full' };

/** bytes=first-last, bytes=first-, bytes=-suffix; optional whitespace around the range (OWS). */
const SINGLE = /^bytes=[ \t]*(?:(\d+)-(\d*)|-(\d+))[ \t]*$/i;

/**
 * Reads a `Range` header for one range of bytes. A header this server does
 * not act on -- another unit, bad syntax, a last position before the first,
 * or several ranges -- is ignored and the whole file is sent, as RFC 9110
 * lets a server do; a well-formed range that starts past the end (or a
 * zero-length suffix, or any range of an empty file) is unsatisfiable.
 */
export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return FULL;
  const m = SINGLE.exec(header);
  if (!m) return FULL;
  if (m[3] !== undefined) {
    const suffix = Number(m[3]);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const first = Number(m[1]);
  const last = m[2] === '' ? Infinity : Number(m[2]);
  if (last < first) return FULL;
  if (first >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start: first, end: Math.min(last, size - 1) };
}
