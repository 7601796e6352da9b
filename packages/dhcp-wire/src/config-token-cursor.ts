import { ConfigError, type Position, type Token } from './config-lexer.js';

/** Reading position in a dhcpd.conf token list, with the checks every part of the grammar uses. */
export class TokenCursor {
  protected i = 0;

  constructor(protected tokens: Token[]) {}

  peek(): Token {
    return this.tokens[this.i];
  }

  next(): Token {
    const t = this.tokens[this.i];
    if (t.kind !== 'eof') this.i++;
    return t;
  }

  fail(at: Token | Position, why: string): never {
    throw new ConfigError('pos' in at ? at.pos : at, why);
  }

  describe(t: Token): string {
    return t.kind === 'eof' ? 'end of file' : `"${t.text}"`;
  }

  expect(punct: string): Token {
    const t = this.next();
    if (t.kind !== 'punct' || t.text !== punct) this.fail(t, `expected "${punct}" but found ${this.describe(t)}`);
    return t;
  }

  accept(punct: string): boolean {
    const t = this.peek();
    if (t.kind === 'punct' && t.text === punct) {
      this.i++;
      return true;
    }
    return false;
  }

  /** Whether the next token is the word `w` (any case). */
  isWord(w: string): boolean {
    const t = this.peek();
    return t.kind === 'word' && t.text.toLowerCase() === w;
  }

  word(what: string): Token {
    const t = this.next();
    if (t.kind !== 'word') this.fail(t, `expected ${what} but found ${this.describe(t)}`);
    return t;
  }

  keyword(...allowed: string[]): Token {
    const t = this.next();
    if (t.kind !== 'word' || !allowed.includes(t.text.toLowerCase())) {
      this.fail(t, `expected ${allowed.map((a) => `"${a}"`).join(' or ')} but found ${this.describe(t)}`);
    }
    return t;
  }

  integer(what: string, min: number, max: number): number {
    const t = this.next();
    const n = t.kind === 'word' && /^\d+$/.test(t.text) ? Number(t.text) : NaN;
    if (!(n >= min && n <= max)) this.fail(t, `expected ${what}, a whole number from ${min} to ${max}, but found ${this.describe(t)}`);
    return n;
  }
}
