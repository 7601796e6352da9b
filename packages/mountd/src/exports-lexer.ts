import { ExportsError } from './exports-error.js';

/** A whitespace-separated word of an exports file, with the column of each of its characters. */
export interface Token {
  text: string;
  line: number;
  /** columns[i] is the 1-based column of text[i] in its line (escapes and quotes shift them). */
  columns: number[];
  /** The column where the token starts (its opening quote, if any). */
  column: number;
}

/** One logical line: the export path then its client specs, continuation lines joined. */
export interface Entry {
  tokens: Token[];
}

const OCTAL = /^[0-7]{3}$/;

/**
 * Splits an exports file into entries the way nfs-utils reads it: `#` starts
 * a comment anywhere outside quotes, a backslash before the newline continues
 * the line (and ends the current word), double quotes keep spaces inside a
 * word and are dropped, and `\ooo` is the byte with that octal code (`\040`
 * is a space). A backslash before anything else is kept as is.
 */
export function tokenize(text: string, file: string): Entry[] {
  const entries: Entry[] = [];
  let tokens: Token[] = [];
  let current: Token | undefined;
  let quoteAt: { line: number; column: number } | undefined;
  let line = 1;
  let column = 1;
  let i = 0;

  // Escaped bytes are collected and decoded together, so `\303\251` is one UTF-8 character.
  let bytes: number[] = [];
  let bytesColumn = 0;
  const flushBytes = () => {
    if (bytes.length === 0) return;
    for (const c of Buffer.from(bytes).toString('utf8')) {
      current!.text += c;
      current!.columns.push(bytesColumn);
    }
    bytes = [];
  };
  const endToken = () => {
    flushBytes();
    if (current) tokens.push(current);
    current = undefined;
  };
  const endEntry = () => {
    endToken();
    if (tokens.length > 0) entries.push({ tokens });
    tokens = [];
  };
  const add = (ch: string, col: number) => {
    current ??= { text: '', line, columns: [], column: col };
    flushBytes();
    current.text += ch;
    current.columns.push(col);
  };

  const escaped = () => {
    const code = parseInt(text.slice(i + 1, i + 4), 8);
    if (code > 0xff) {
      throw new ExportsError({ file, line, column }, `\\${text.slice(i + 1, i + 4)} is not a byte`, 'octal escapes go from \\000 to \\377');
    }
    current ??= { text: '', line, columns: [], column };
    if (bytes.length === 0) bytesColumn = column;
    bytes.push(code);
    i += 4;
    column += 4;
  };

  while (i < text.length) {
    const ch = text[i];
    if (ch === '\n') {
      if (quoteAt) {
        throw new ExportsError({ file, ...quoteAt }, 'this double quote is never closed', 'add the closing " before the end of the line');
      }
      endEntry();
      line++;
      column = 1;
      i++;
      continue;
    }
    if (quoteAt) {
      if (ch === '"') {
        quoteAt = undefined;
      } else if (ch === '\\' && OCTAL.test(text.slice(i + 1, i + 4))) {
        escaped();
        continue;
      } else {
        add(ch, column);
      }
      i++;
      column++;
      continue;
    }
    if (ch === '#') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    if (ch === '\\' && (text[i + 1] === '\n' || (text[i + 1] === '\r' && text[i + 2] === '\n'))) {
      endToken();
      i += text[i + 1] === '\n' ? 2 : 3;
      line++;
      column = 1;
      continue;
    }
    if (ch === '\\' && OCTAL.test(text.slice(i + 1, i + 4))) {
      escaped();
      continue;
    }
    if (ch === '"') {
      quoteAt = { line, column };
      current ??= { text: '', line, columns: [], column };
      i++;
      column++;
      continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\f' || ch === '\v') {
      endToken();
      i++;
      column++;
      continue;
    }
    add(ch, column);
    i++;
    column++;
  }
  if (quoteAt) {
    throw new ExportsError({ file, ...quoteAt }, 'this double quote is never closed', 'add the closing " before the end of the line');
  }
  endEntry();
  return entries;
}
