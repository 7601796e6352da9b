const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

let timeSecond = NaN;
let timeText = '';

/** `10/Oct/2000:13:55:36 +0000` for `at` (a Date or ms since the epoch): Apache's %t, in UTC so every log line reads alike; formatted once a second. */
export function logTime(atTime: Date | number): string {
  const ms = typeof atTime === 'number' ? atTime : atTime.getTime();
  const second = Math.floor(ms / 1000);
  if (second !== timeSecond) {
    timeSecond = second;
    const at = new Date(second * 1000);
    timeText = `${pad(at.getUTCDate())}/${MONTHS[at.getUTCMonth()]}/${at.getUTCFullYear()}:${pad(at.getUTCHours())}:${pad(at.getUTCMinutes())}:${pad(at.getUTCSeconds())} +0000`;
  }
  return timeText;
}

/** Printable ASCII other than `"` and `\`: a field of these is written as it is. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]+$/;

/**
 * A quoted field as Apache writes it: `"`, `\` and bytes outside printable
 * ASCII escaped, so a request line cannot forge a second log line or field.
 */
function quoted(s: string | undefined): string {
  if (s === undefined || s === '') return '"-"';
  if (PLAIN.test(s)) return `"${s}"`;
  // eslint-disable-next-line no-control-regex
  const escaped = s.replace(/["\\]|[^\x20-\x7e]/g, (c) => {
    if (c === '"' || c === '\\') return `\\${c}`;
    // Node hands request bytes over as latin1 characters; anything wider is written as its UTF-8 bytes.
    const bytes = c.charCodeAt(0) <= 0xff ? [c.charCodeAt(0)] : [...Buffer.from(c, 'utf8')];
    return bytes.map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
  });
  return `"${escaped}"`;
}

export interface AccessEntry {
  client: string;
  /** When the request came: a Date or ms since the epoch. */
  at: Date | number;
  method: string;
  target: string;
  httpVersion: string;
  status: number;
  /** Body bytes sent. */
  bytes: number;
  referer?: string;
  userAgent?: string;
}

/**
 * One line in the combined log format (Apache's "combined", nginx's default):
 * `host - - [time] "request line" status bytes "referer" "user agent"`, so
 * the usual log tools read it.
 */
export function combinedLogLine(e: AccessEntry): string {
  return `${e.client} - - [${logTime(e.at)}] ${quotedRequest(e.method, e.target, e.httpVersion)} ${e.status} ${e.bytes === 0 ? '-' : e.bytes} ${quotedAgain(lastReferer, e.referer)} ${quotedAgain(lastAgent, e.userAgent)}`;
}

/** The last value of a field and its quoted form: a client sends the same User-Agent (and Referer) with each request. */
interface LastQuoted {
  value: string | undefined;
  text: string;
}
const lastReferer: LastQuoted = { value: undefined, text: '"-"' };
const lastAgent: LastQuoted = { value: undefined, text: '"-"' };

let lastMethod = '';
let lastTarget = '';
let lastVersion = '';
let lastRequest = '';

/** The quoted request line; the last one is kept, as a client asks for the same file again and again. */
function quotedRequest(method: string, target: string, httpVersion: string): string {
  if (target !== lastTarget || method !== lastMethod || httpVersion !== lastVersion) {
    lastMethod = method;
    lastTarget = target;
    lastVersion = httpVersion;
    lastRequest = quoted(`${method} ${target} HTTP/${httpVersion}`);
  }
  return lastRequest;
}

function quotedAgain(last: LastQuoted, value: string | undefined): string {
  if (value !== last.value) {
    last.value = value;
    last.text = quoted(value);
  }
  return last.text;
}
