import { formatOptions } from './export-options.js';
import type { Export } from './exports-parser.js';

/** A path as an exports file word: whitespace, quotes, backslashes, `#` and control bytes as `\ooo`. */
export function escapeExportPath(path: string): string {
  let out = '';
  for (const ch of path) {
    if (/[\s"\\#\p{Cc}]/u.test(ch)) {
      for (const b of Buffer.from(ch, 'utf8')) out += `\\${b.toString(8).padStart(3, '0')}`;
    } else out += ch;
  }
  return out;
}

/**
 * Writes exports back as an exports(5) file with every option explicit, one
 * line per export. parseExports of the result gives the same exports (up to
 * source positions).
 */
export function formatExports(exports: readonly Export[]): string {
  return exports
    .map((e) => [escapeExportPath(e.path), ...e.clients.map((c) => `${c.text}(${formatOptions(c.options)})`)].join(' ') + '\n')
    .join('');
}
