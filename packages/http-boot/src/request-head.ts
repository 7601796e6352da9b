/**
 * The head of an HTTP/1.x request (RFC 9112 sections 2 to 5), decoded from
 * bytes without copying them: the request line and the few header fields a
 * read-only file server acts on. Boot clients (iPXE, UEFI HTTP Boot, GRUB,
 * curl) send short, plain heads; anything outside the grammar is refused
 * rather than guessed at, at the first byte that breaks it, so garbage is
 * answered at once instead of being waited on.
 */

/** The request line (method, target, version) may be at most this long, else 414. */
export const MAX_REQUEST_LINE = 8 * 1024;
/** The whole head, request line and fields, may be at most this long, else 431. */
export const MAX_HEAD = 16 * 1024;
/** A method longer than any this server knows is not one it implements (501). */
const MAX_METHOD = 16;

/** Why a head is refused: the status to answer, the part of the head at fault and the offset of the byte that broke it. */
export class RequestHeadError extends Error {
  constructor(
    readonly status: 400 | 414 | 431 | 501,
    /** `method`, `target`, `version`, `line`, a field name (`host`, `content-length`, ...) or `head`. */
    readonly field: string,
    /** Offset of the offending byte from the start of the head. */
    readonly offset: number,
    message: string,
  ) {
    super(`${message} (${field}, offset ${offset})`);
    this.name = 'RequestHeadError';
  }
}

/** What the server needs of a request head; field values are Latin-1 strings of the bytes sent. */
export interface RequestHead {
  method: string;
  target: string;
  /** 0 for HTTP/1.0; 1 for HTTP/1.1 (and any later 1.x, which a 1.1 server reads as 1.1). */
  minor: 0 | 1;
  host: string | undefined;
  /** Range fields, joined with ", " when there are several (which then fails to parse as one range, and the whole file is sent). */
  range: string | undefined;
  userAgent: string | undefined;
  referer: string | undefined;
  /** The client asked to close after this response (`Connection: close`, or HTTP/1.0 without `keep-alive`). */
  close: boolean;
  /** The request announces a body (a non-zero Content-Length): this server reads none, so the connection ends after the answer. */
  hasBody: boolean;
  /** Bytes the head took, from the offset it was decoded at, the empty line included. */
  length: number;
}

// Byte classes (RFC 9110 section 5.6.2 tchar, 5.5 field-vchar).
const TCHAR = 1;
const TARGET = 2;
const VALUE = 4;
const CLASS = new Uint8Array(256);
for (let b = 0x21; b <= 0x7e; b++) CLASS[b] |= TARGET | VALUE;
for (let b = 0x80; b <= 0xff; b++) CLASS[b] |= VALUE;
CLASS[0x20] |= VALUE;
CLASS[0x09] |= VALUE;
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") CLASS[c.charCodeAt(0)] |= TCHAR;

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;
const VERSION = 'HTTP/1.';

/** True when buf[start, end) spells `lower` in any case (`lower` holds letters and '-' only, and the bytes are tchars). */
function named(buf: Buffer, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) if ((buf[start + i] | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}

/** The method as a string: GET and HEAD, nearly every request's, without a new string each time. */
function methodName(buf: Buffer, start: number, end: number): string {
  if (end - start === 3 && buf[start] === 0x47 && buf[start + 1] === 0x45 && buf[start + 2] === 0x54) return 'GET';
  if (end - start === 4 && buf[start] === 0x48 && buf[start + 1] === 0x45 && buf[start + 2] === 0x41 && buf[start + 3] === 0x44) return 'HEAD';
  return buf.toString('latin1', start, end);
}

/** The bytes of a string last cut from a head, and the string. */
interface Cut {
  bytes: Buffer;
  length: number;
  text: string;
}

const cut = (): Cut => ({ bytes: Buffer.alloc(256), length: -1, text: '' });
const lastTarget = cut();
const lastAgent = cut();
const lastHost = cut();

/**
 * buf[start, end) as a Latin-1 string: the string cut last time when the
 * bytes are the same. A client asks for the same names with the same
 * Host and User-Agent again and again; comparing a few dozen bytes costs less than a
 * new string from them. Values longer than the kept bytes are cut anew.
 */
function cutAgain(last: Cut, buf: Buffer, start: number, end: number): string {
  const length = end - start;
  if (length === last.length) {
    let i = 0;
    while (i < length && buf[start + i] === last.bytes[i]) i++;
    if (i === length) return last.text;
  }
  const text = buf.toString('latin1', start, end);
  if (length <= last.bytes.length) {
    buf.copy(last.bytes, 0, start, end);
    last.length = length;
    last.text = text;
  }
  return text;
}

/** Each comma-separated token of a Connection value, lower-cased. */
function connectionTokens(value: string): string[] {
  return value.toLowerCase().split(',').map((s) => s.trim());
}

/**
 * Decodes the request head at `buf[start, end)`. Returns undefined when the
 * bytes there are a valid beginning of a head that has not ended yet; throws
 * RequestHeadError as soon as they cannot be one. Empty lines before the
 * request line are skipped (RFC 9112 section 2.2). A line may end in CRLF
 * or a bare LF (which section 2.2 lets a recipient accept); a bare CR, a
 * control byte, whitespace before a field's colon, and an obsolete line
 * folding are refused. HTTP/1.1 requires one Host field. Nothing is
 * allocated from a length the client sent: strings are cut from `buf`.
 */
export function decodeRequestHead(buf: Buffer, start: number, end: number): RequestHead | undefined {
  const limit = Math.min(end, start + MAX_HEAD);
  let p = start;
  // Empty lines before the request line.
  while (p < limit) {
    if (buf[p] === LF) p++;
    else if (buf[p] === CR) {
      if (p + 1 < limit && buf[p + 1] !== LF) throw new RequestHeadError(400, 'line', p - start, 'a CR not followed by LF');
      p++;
    } else break;
  }
  const lineStart = p;
  const lineLimit = Math.min(limit, lineStart + MAX_REQUEST_LINE);
  // Method: tchars up to one SP.
  while (p < lineLimit && CLASS[buf[p]] & TCHAR) p++;
  if (p - lineStart > MAX_METHOD) throw new RequestHeadError(501, 'method', lineStart - start, 'a method longer than any this server implements');
  if (p === lineLimit) return partial(lineLimit, lineStart, limit, start);
  if (buf[p] !== SP || p === lineStart) throw new RequestHeadError(400, 'method', p - start, 'the request line does not start with a method and a space');
  const methodEnd = p++;
  // Target: visible ASCII up to one SP.
  const targetStart = p;
  while (p < lineLimit && CLASS[buf[p]] & TARGET) p++;
  if (p === lineLimit) return partial(lineLimit, lineStart, limit, start);
  if (buf[p] !== SP || p === targetStart) throw new RequestHeadError(400, 'target', p - start, 'the request target is empty or holds a byte outside visible ASCII');
  const targetEnd = p++;
  // Version: HTTP/1.d exactly.
  for (let i = 0; i < VERSION.length; i++, p++) {
    if (p === lineLimit) return partial(lineLimit, lineStart, limit, start);
    if (buf[p] !== VERSION.charCodeAt(i)) throw new RequestHeadError(400, 'version', p - start, 'the version is not HTTP/1.x');
  }
  if (p === lineLimit) return partial(lineLimit, lineStart, limit, start);
  const digit = buf[p] - 0x30;
  if (digit < 0 || digit > 9) throw new RequestHeadError(400, 'version', p - start, 'the version is not HTTP/1.x');
  p++;
  const after = lineEnd(buf, p, lineLimit);
  if (after === INCOMPLETE) return partial(lineLimit, lineStart, limit, start);
  if (after === BROKEN) throw brokenLine(buf, p, start, 'version');
  p = after;

  const head: RequestHead = {
    method: methodName(buf, lineStart, methodEnd),
    target: cutAgain(lastTarget, buf, targetStart, targetEnd),
    minor: digit === 0 ? 0 : 1,
    host: undefined,
    range: undefined,
    userAgent: undefined,
    referer: undefined,
    close: digit === 0,
    hasBody: false,
    length: 0,
  };
  let contentLength: string | undefined;
  let transferEncoding = -1;
  for (;;) {
    if (p === limit) return partialFields(limit, start);
    // The empty line that ends the head.
    if (buf[p] === LF || buf[p] === CR) {
      const done = lineEnd(buf, p, limit);
      if (done === INCOMPLETE) return partialFields(limit, start);
      if (done === BROKEN) throw brokenLine(buf, p, start, 'line');
      head.length = done - start;
      break;
    }
    if (buf[p] === SP || buf[p] === HT) throw new RequestHeadError(400, 'line', p - start, 'a field line folded onto the one before (obsolete line folding)');
    const nameStart = p;
    while (p < limit && CLASS[buf[p]] & TCHAR) p++;
    if (p === limit) return partialFields(limit, start);
    const nameEnd = p;
    if (buf[p] !== COLON || nameEnd === nameStart) throw new RequestHeadError(400, 'line', p - start, 'a field line without a name and a colon');
    p++;
    while (p < limit && (buf[p] === SP || buf[p] === HT)) p++;
    const valueStart = p;
    let valueEnd = p;
    while (p < limit && CLASS[buf[p]] & VALUE) {
      if (buf[p] !== SP && buf[p] !== HT) valueEnd = p + 1;
      p++;
    }
    if (p === limit) return partialFields(limit, start);
    const next = lineEnd(buf, p, limit);
    if (next === INCOMPLETE) return partialFields(limit, start);
    if (next === BROKEN) throw brokenLine(buf, p, start, buf.toString('latin1', nameStart, nameEnd).toLowerCase());
    p = next;
    const len = nameEnd - nameStart;
    // Only the fields acted on are cut out as strings; the rest are checked and skipped.
    if (len === 4 && named(buf, nameStart, nameEnd, 'host')) {
      if (head.host !== undefined) throw new RequestHeadError(400, 'host', nameStart - start, 'more than one Host field');
      head.host = cutAgain(lastHost, buf, valueStart, valueEnd);
    } else if (len === 5 && named(buf, nameStart, nameEnd, 'range')) {
      const v = buf.toString('latin1', valueStart, valueEnd);
      head.range = head.range === undefined ? v : `${head.range}, ${v}`;
    } else if (len === 10 && named(buf, nameStart, nameEnd, 'connection')) {
      for (const token of connectionTokens(buf.toString('latin1', valueStart, valueEnd))) {
        if (token === 'close') head.close = true;
        else if (token === 'keep-alive' && head.minor === 0) head.close = false;
      }
    } else if (len === 10 && named(buf, nameStart, nameEnd, 'user-agent')) {
      head.userAgent ??= cutAgain(lastAgent, buf, valueStart, valueEnd);
    } else if (len === 7 && named(buf, nameStart, nameEnd, 'referer')) {
      head.referer ??= buf.toString('latin1', valueStart, valueEnd);
    } else if (len === 14 && named(buf, nameStart, nameEnd, 'content-length')) {
      const v = buf.toString('latin1', valueStart, valueEnd);
      if (!/^\d{1,15}$/.test(v)) throw new RequestHeadError(400, 'content-length', valueStart - start, 'Content-Length is not a number of bytes');
      if (contentLength !== undefined && Number(contentLength) !== Number(v)) throw new RequestHeadError(400, 'content-length', nameStart - start, 'two Content-Length fields that differ');
      contentLength = v;
    } else if (len === 17 && named(buf, nameStart, nameEnd, 'transfer-encoding')) {
      if (transferEncoding < 0) transferEncoding = nameStart - start;
    }
  }
  if (transferEncoding >= 0) {
    // Both framings at once is how requests are smuggled (RFC 9112 section 6.3); a coded body alone is one this server cannot read.
    if (contentLength !== undefined) throw new RequestHeadError(400, 'transfer-encoding', transferEncoding, 'Transfer-Encoding and Content-Length together');
    throw new RequestHeadError(501, 'transfer-encoding', transferEncoding, 'a request body with a Transfer-Encoding');
  }
  if (head.minor === 1 && head.host === undefined) throw new RequestHeadError(400, 'host', head.length, 'an HTTP/1.1 request without a Host field');
  head.hasBody = contentLength !== undefined && Number(contentLength) > 0;
  return head;
}

const INCOMPLETE = -1;
const BROKEN = -2;

/**
 * The offset after the line end at `p` (CRLF or LF); INCOMPLETE when the
 * input stops before it is known, BROKEN when the bytes there end no line.
 */
function lineEnd(buf: Buffer, p: number, limit: number): number {
  if (p === limit) return INCOMPLETE;
  if (buf[p] === LF) return p + 1;
  if (buf[p] !== CR) return BROKEN;
  if (p + 1 === limit) return INCOMPLETE;
  return buf[p + 1] === LF ? p + 2 : BROKEN;
}

/** The error for a line that lineEnd found BROKEN at `p`. */
function brokenLine(buf: Buffer, p: number, start: number, field: string): RequestHeadError {
  if (buf[p] === CR) return new RequestHeadError(400, field, p + 1 - start, 'a CR not followed by LF');
  return new RequestHeadError(400, field, p - start, `a byte 0x${buf[p].toString(16).padStart(2, '0')} where the line should continue or end`);
}

/** The request line ran to `lineLimit` without ending: wait for more input, or refuse it as too long. */
function partial(lineLimit: number, lineStart: number, limit: number, start: number): undefined {
  if (lineLimit - lineStart >= MAX_REQUEST_LINE) throw new RequestHeadError(414, 'target', lineLimit - start, `a request line longer than ${MAX_REQUEST_LINE} bytes`);
  return partialFields(limit, start);
}

/** The head ran to the end of the input: wait for more, or refuse it as too long. */
function partialFields(limit: number, start: number): undefined {
  if (limit - start >= MAX_HEAD) throw new RequestHeadError(431, 'head', MAX_HEAD, `a request head longer than ${MAX_HEAD} bytes`);
  return undefined;
}
