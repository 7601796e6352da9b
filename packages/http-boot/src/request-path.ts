/** The file name a request target asks for, or why it names none. */
export type RequestedName = { ok: true; name: string } | { ok: false; status: 400 | 403; reason: string };

/** A path of visible ASCII without `%`, `?` or `#`: percent-decoding and cutting the query leave it as it is. */
const PLAIN_PATH = /^\/[\x21-\x22\x24\x26-\x3e\x40-\x7e]*$/;
const DOT_DOT = /(^|\/)\.\.(\/|$)/;

/**
 * The name under the root that a request target (origin form `/a/b?q`, or
 * absolute form `http://host/a/b`) asks for: percent-decoded, the query
 * dropped, the leading `/` removed so remap rules see the names TFTP clients
 * send (`pxelinux.0`, not `/pxelinux.0`). Dot segments are not resolved away
 * as a browser would: a `..` segment, escaped or not, is refused here, before
 * the secure-root check refuses it again.
 */
export function requestedName(target: string): RequestedName {
  // The usual target, a plain path: nothing to decode, cut or refuse but a `..` segment.
  if (PLAIN_PATH.test(target) && !DOT_DOT.test(target)) return { ok: true, name: target.slice(1) };
  let path = target;
  const absolute = /^https?:\/\/[^/?#]*/i.exec(path);
  if (absolute) path = path.slice(absolute[0].length) || '/';
  if (!path.startsWith('/')) return { ok: false, status: 400, reason: `request target "${target}" is not a path` };
  const end = path.search(/[?#]/);
  if (end >= 0) path = path.slice(0, end);
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return { ok: false, status: 400, reason: `request target "${target}" has a bad percent escape or is not UTF-8` };
  }
  if (decoded.includes('\0')) return { ok: false, status: 400, reason: 'NUL in the path' };
  if (decoded.split('/').includes('..')) return { ok: false, status: 403, reason: `"${decoded}" contains ".."` };
  return { ok: true, name: decoded.slice(1) };
}
