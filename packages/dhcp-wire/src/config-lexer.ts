/** Where a token starts, for file:line:column errors. */
export interface Position {
  file: string;
  line: number;
  column: number;
}

export type TokenKind = 'word' | 'string' | 'punct' | 'eof';

export interface Token {
  kind: TokenKind;
  text: string;
  pos: Position;
}

/** A dhcpd.conf mistake: printed as `file:line:column: message`, the way compilers do. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly pos: Position,
    readonly reason: string,
  ) {
    super(`${pos.file}:${pos.line}:${pos.column}: ${reason}`);
  }
}

const PUNCT = new Set(['{', '}', ';', ',', '=', '(', ')']);
const WORD = /[A-Za-z0-9_.:\-\/*+!&|]/;

/** Splits dhcpd.conf text into tokens: words, quoted strings, and the punctuation the grammar uses. */
export function tokenize(text: string, file: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  let col = 1;
  const advance = (n: number) => {
    for (let k = 0; k < n; k++) {
      if (text[i] === '\n') {
        line++;
        col = 1;
      } else col++;
      i++;
    }
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '#') {
      while (i < text.length && text[i] !== '\n') advance(1);
      continue;
    }
    if (/\s/.test(c)) {
      advance(1);
      continue;
    }
    const pos = { file, line, column: col };
    if (c === '"') {
      let s = '';
      advance(1);
      for (;;) {
        if (i >= text.length || text[i] === '\n') throw new ConfigError(pos, 'string is not closed: add the missing " on this line');
        const ch = text[i];
        if (ch === '"') {
          advance(1);
          break;
        }
        if (ch === '\\' && i + 1 < text.length) {
          const e = text[i + 1];
          s += e === 'n' ? '\n' : e === 't' ? '\t' : e;
          advance(2);
          continue;
        }
        s += ch;
        advance(1);
      }
      out.push({ kind: 'string', text: s, pos });
      continue;
    }
    const two = text.slice(i, i + 2);
    if (two === '!=' || two === '~=' || two === '~~') {
      out.push({ kind: 'punct', text: two, pos });
      advance(2);
      continue;
    }
    if (PUNCT.has(c)) {
      out.push({ kind: 'punct', text: c, pos });
      advance(1);
      continue;
    }
    if (WORD.test(c)) {
      let j = i;
      while (j < text.length && WORD.test(text[j])) j++;
      out.push({ kind: 'word', text: text.slice(i, j), pos });
      advance(j - i);
      continue;
    }
    throw new ConfigError(pos, `unexpected character ${JSON.stringify(c)}`);
  }
  out.push({ kind: 'eof', text: '', pos: { file, line, column: col } });
  return out;
}
