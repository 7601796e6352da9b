const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

let timeSecond = NaN;
let timeText = '';

/** `10/Oct/2000:13:55:36 +0000`: Apache's %t, in UTC so every log line reads alike; formatted once a second. */
export function logTime(at: Date): string {
  const second = Math.floor(at.getTime() / 1000);
  if (second !== timeSecond) {
    timeSecond = second;
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
  at: Date;
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
  const request = `${e.method} ${e.target} HTTP/${e.httpVersion}`;
  return `${e.client} - - [${logTime(e.at)}] ${quoted(request)} ${e.status} ${e.bytes === 0 ? '-' : e.bytes} ${quoted(e.referer)} ${quoted(e.userAgent)}`;
}
