/**
 * The status lines and header fields of responses, built once where they do
 * not change: a file's fields are kept while its fstat says it is the same
 * file, the Date field for the second it names. No byte of them comes from
 * the client, so a head's length is bounded by this server's own strings.
 */

export const REASONS: Record<number, string> = {
  200: 'OK',
  206: 'Partial Content',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  414: 'URI Too Long',
  416: 'Range Not Satisfiable',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

/** How a head's last lines end the connection's part in it. */
export type HeadEnd = 'plain' | 'keep-alive' | 'close';

let dateSecond = -1;
const ends: Record<HeadEnd, string> = { plain: '', 'keep-alive': '', close: '' };

/**
 * The Date field, the Connection field `end` asks for and the empty line
 * that end every head, for now: formatted once a second, and the same
 * string until the next, so a head written from it can be recognised (and
 * kept) by identity. `plain` says nothing of the connection (HTTP/1.1
 * keeps it), `keep-alive` tells an HTTP/1.0 client that asked for it that
 * it was kept, `close` that it ends after this response.
 */
export function headEnd(nowMs: number, end: HeadEnd): string {
  const second = Math.floor(nowMs / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    const date = `Date: ${new Date(second * 1000).toUTCString()}\r\n`;
    ends.plain = `${date}\r\n`;
    ends['keep-alive'] = `${date}Connection: keep-alive\r\n\r\n`;
    ends.close = `${date}Connection: close\r\n\r\n`;
  }
  return ends[end];
}

/** What a response head says of a file: node:fs's Stats, or the fields of a statx. */
export interface FileStat {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

const TEXT_TYPES = /\.(cfg|conf|ipxe|txt|menu)$|(^|\/)(pxelinux\.cfg|grub)\//;

/** The fields of one file's responses, valid while its fstat matches. */
interface FileFields {
  /** The stat they were made from: the same object again (a held descriptor's, unchanged) matches at once. */
  from: FileStat;
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  /** Content-Type, Accept-Ranges and Last-Modified lines. */
  fields: string;
  /** The status line and fields of a 200 for the whole file, Content-Length included. */
  whole: string;
}

/** Files whose fields are kept; past this the oldest entry goes (boot roots serve a few dozen names). */
const MAX_FILES = 512;

/** The response fields of the files served, keyed by the name looked up (the content type follows the name). */
export class FileHeads {
  private readonly files = new Map<string, FileFields>();

  private entry(name: string, st: FileStat): FileFields {
    const known = this.files.get(name);
    if (known && (known.from === st || (known.ino === st.ino && known.dev === st.dev && known.size === st.size && known.mtimeMs === st.mtimeMs && known.ctimeMs === st.ctimeMs))) return known;
    const type = TEXT_TYPES.test(name) ? 'text/plain; charset=utf-8' : 'application/octet-stream';
    const fields = `Content-Type: ${type}\r\nAccept-Ranges: bytes\r\nLast-Modified: ${new Date(st.mtimeMs).toUTCString()}\r\n`;
    const made: FileFields = { from: st, dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, fields, whole: `HTTP/1.1 200 OK\r\n${fields}Content-Length: ${st.size}\r\n` };
    if (known) this.files.delete(name);
    else if (this.files.size >= MAX_FILES) this.files.delete(this.files.keys().next().value!);
    this.files.set(name, made);
    return made;
  }

  /** The status line and fields (without Date, Connection and the empty line) of a 200 for the whole file. */
  whole(name: string, st: FileStat): string {
    return this.entry(name, st).whole;
  }

  /** The same for a 206 of bytes `start` to `end` (inclusive). */
  partial(name: string, st: FileStat, start: number, end: number): string {
    return `HTTP/1.1 206 Partial Content\r\n${this.entry(name, st).fields}Content-Range: bytes ${start}-${end}/${st.size}\r\nContent-Length: ${end - start + 1}\r\n`;
  }
}

/** A refusal's status line and fields (without Date, Connection and the empty line) for its short text body; `extra` holds more field lines. */
export function refusalHead(status: number, text: string, extra: string): string {
  return `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\n${extra}`;
}
