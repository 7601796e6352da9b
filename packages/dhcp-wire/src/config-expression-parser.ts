import type { Token } from './config-lexer.js';
import type { TokenCursor } from './config-token-cursor.js';
import { kindOf, type BoolExpr, type DataExpr, type Expr, type ExprKind, type NumExpr, type OptionRef } from './config-expression.js';
import { fixedSize, type OptionType } from './option-value.js';
import type { OptionDef } from './option-space.js';

/** Finds an option by its dhcpd.conf name (`NAME` or `SPACE.NAME`), or fails at the token. */
export type OptionLookup = (name: Token) => { def: OptionDef; space: string; container?: number };

const FUNCTIONS =
  'exists, known, static, defined(), not, and, or, =, !=, ~=, ~~, option NAME, config-option NAME, substring(), suffix(), ' +
  'concat(), lcase(), ucase(), reverse(), binary-to-ascii(), pick-first-value(), extract-int(), encode-int(), packet(), ' +
  'hardware, leased-address, lease-time, host-decl-name, null, variables, "text", hex bytes (00:07), numbers, parentheses';

const HEX_LIST = /^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2})*$/;

/**
 * Parses a dhcp-eval(5) boolean expression: `or` binds loosest, then `and`,
 * then `not`, then `=` and `!=`. The right side of `=` is read in the kind of
 * the left (ISC's rule): after a data expression `7` and `00:07` are hex bytes,
 * after a numeric one `7` is the number seven.
 */
export function parseBooleanExpression(cur: TokenCursor, lookup: OptionLookup): BoolExpr {
  return new ExpressionParser(cur, lookup).boolean();
}

/** Parses a dhcp-eval(5) data expression: the value of `option X = ...;`, `filename = ...;`, execute's arguments. */
export function parseDataExpression(cur: TokenCursor, lookup: OptionLookup): DataExpr {
  return new ExpressionParser(cur, lookup).dataValue();
}

/** Parses an expression of any kind (what `set NAME = ...;` stores). */
export function parseAnyExpression(cur: TokenCursor, lookup: OptionLookup): Expr {
  return new ExpressionParser(cur, lookup).any();
}

class ExpressionParser {
  constructor(
    private readonly cur: TokenCursor,
    private readonly lookup: OptionLookup,
  ) {}

  dataValue(): DataExpr {
    return this.data();
  }

  any(): Expr {
    return this.or();
  }

  boolean(): BoolExpr {
    const start = this.cur.peek();
    const e = this.or();
    return this.asBoolean(e, start);
  }

  private asBoolean(e: Expr, at: Token): BoolExpr {
    if (kindOf(e) !== 'boolean') {
      this.cur.fail(at, `this is a ${kindOf(e)} expression where a condition is needed: compare it, as in "option user-class = \\"iPXE\\"", or test it with "exists option-name"`);
    }
    return e as BoolExpr;
  }

  private or(): Expr {
    let left = this.and();
    while (this.cur.isWord('or')) {
      const t = this.cur.next();
      const right = this.and();
      left = { op: 'or', left: this.asBoolean(left, t), right: this.asBoolean(right, t) };
    }
    return left;
  }

  private and(): Expr {
    let left = this.not();
    while (this.cur.isWord('and')) {
      const t = this.cur.next();
      const right = this.not();
      left = { op: 'and', left: this.asBoolean(left, t), right: this.asBoolean(right, t) };
    }
    return left;
  }

  private not(): Expr {
    if (this.cur.isWord('not')) {
      const t = this.cur.next();
      const of = this.not();
      return { op: 'not', of: this.asBoolean(of, t) };
    }
    return this.comparison();
  }

  private comparison(): Expr {
    const leftTok = this.cur.peek();
    const left = this.operand('any');
    const t = this.cur.peek();
    if (t.kind === 'punct' && (t.text === '~=' || t.text === '~~')) {
      this.cur.next();
      if (kindOf(left) !== 'data') this.cur.fail(t, `"${t.text}" matches text against a regular expression; its left side must be a data expression`);
      const re = this.cur.next();
      if (re.kind !== 'string') this.cur.fail(re, `expected a regular expression in double quotes after "${t.text}" but found ${this.cur.describe(re)}`);
      let compiled: RegExp;
      try {
        compiled = new RegExp(re.text, t.text === '~~' ? 'i' : '');
      } catch (e) {
        this.cur.fail(re, `not a regular expression: ${(e as Error).message}`);
      }
      return { op: 'regex', of: left as DataExpr, re: compiled };
    }
    if (t.kind !== 'punct' || (t.text !== '=' && t.text !== '!=')) return left;
    this.cur.next();
    const kind = kindOf(left);
    const rightTok = this.cur.peek();
    const right = this.operand(kind);
    if (kindOf(right) !== kind) {
      this.cur.fail(rightTok, `a ${kind} expression is compared with a ${kindOf(right)} one: the two sides of "${t.text}" must be of one kind`);
    }
    this.checkComparable(left, right, rightTok);
    this.checkComparable(right, left, leftTok);
    return { op: t.text === '=' ? 'equal' : 'not-equal', left, right };
  }

  /**
   * ISC accepts `option arch = 7` and it is never true (7 is one byte, option 93
   * two); that costs admins a day, so a constant whose length the option's type
   * can never have is refused here.
   */
  private checkComparable(opt: Expr, other: Expr, at: Token): void {
    if (opt.op !== 'option' || other.op !== 'const') return;
    const type = this.typeOf(opt.option);
    if (!type) return;
    const n = other.data.length;
    const fixed = fixedSize(type);
    const element = type.kind === 'array' ? fixedSize(type.of) : undefined;
    const fits = fixed !== undefined ? n === fixed : element !== undefined ? n > 0 && n % element === 0 : true;
    if (!fits) {
      const want = fixed !== undefined ? `${fixed} byte${fixed > 1 ? 's' : ''}` : `a multiple of ${element} bytes`;
      const example = (fixed ?? element) === 2 ? ' (write 00:07 for 7)' : '';
      this.cur.fail(at, `option ${opt.option.name} is always ${want}, so comparing it with ${n} byte${n === 1 ? '' : 's'} is never true${example}`);
    }
  }

  private typeOf(ref: OptionRef): OptionType | undefined {
    return this.refTypes.get(`${ref.space}.${ref.code}`);
  }

  private readonly refTypes = new Map<string, OptionType>();

  /** One operand; `want` says how a bare number or hex list reads (ISC's parse context). */
  private operand(want: ExprKind | 'any'): Expr {
    const t = this.cur.next();
    if (t.kind === 'punct' && t.text === '(') {
      const e = this.or();
      this.cur.expect(')');
      return e;
    }
    if (t.kind === 'string') return { op: 'const', data: Buffer.from(t.text, 'latin1') };
    if (t.kind !== 'word') this.cur.fail(t, `expected an expression but found ${this.cur.describe(t)} (netboot reads: ${FUNCTIONS})`);
    const w = t.text.toLowerCase();
    if (/^\d+$/.test(w) && want === 'numeric') {
      const value = Number(w);
      if (value > 0xffffffff) this.cur.fail(t, `${t.text} does not fit in 32 bits`);
      return { op: 'int', value };
    }
    if (HEX_LIST.test(w)) return { op: 'const', data: Buffer.from(w.split(':').map((h) => parseInt(h, 16))) };
    switch (w) {
      case 'exists':
        return { op: 'exists', option: this.optionRef() };
      case 'known':
        return { op: 'known' };
      case 'static':
        return { op: 'static' };
      case 'defined': {
        this.cur.expect('(');
        const v = this.cur.word('a variable name');
        this.cur.expect(')');
        return { op: 'defined', variable: v.text };
      }
      case 'config-option':
        return { op: 'config-option', option: this.optionRef(true) };
      case 'leased-address':
        return { op: 'leased-address' };
      case 'host-decl-name':
        return { op: 'host-decl-name' };
      case 'lease-time':
        return { op: 'lease-time' };
      case 'null':
        return { op: 'null' };
      case 'filename':
        return { op: 'config-param', name: 'filename' };
      case 'server-name':
        return { op: 'config-param', name: 'serverName' };
      case 'binary-to-ascii': {
        this.cur.expect('(');
        const base = this.numeric();
        this.cur.expect(',');
        const width = this.numeric();
        this.cur.expect(',');
        const separator = this.data();
        this.cur.expect(',');
        const of = this.data();
        this.cur.expect(')');
        return { op: 'binary-to-ascii', base, width, separator, of };
      }
      case 'reverse': {
        this.cur.expect('(');
        const width = this.numeric();
        this.cur.expect(',');
        const of = this.data();
        this.cur.expect(')');
        return { op: 'reverse', width, of };
      }
      case 'packet': {
        this.cur.expect('(');
        const offset = this.numeric();
        this.cur.expect(',');
        const length = this.numeric();
        this.cur.expect(')');
        return { op: 'packet', offset, length };
      }
      case 'not': {
        const of = this.operand('boolean');
        return { op: 'not', of: this.asBoolean(of, t) };
      }
      case 'option':
        return { op: 'option', option: this.optionRef() };
      case 'hardware':
        return { op: 'hardware' };
      case 'substring': {
        this.cur.expect('(');
        const of = this.data();
        this.cur.expect(',');
        const offset = this.numeric();
        this.cur.expect(',');
        const length = this.numeric();
        this.cur.expect(')');
        return { op: 'substring', of, offset, length };
      }
      case 'suffix': {
        this.cur.expect('(');
        const of = this.data();
        this.cur.expect(',');
        const length = this.numeric();
        this.cur.expect(')');
        return { op: 'suffix', of, length };
      }
      case 'concat': {
        const parts = this.dataList();
        if (parts.length < 2) this.cur.fail(t, 'concat needs at least two expressions');
        return parts.reduce((left, right) => ({ op: 'concat', left, right }));
      }
      case 'pick-first-value':
        return { op: 'pick-first-value', of: this.dataList() };
      case 'lcase':
      case 'ucase': {
        this.cur.expect('(');
        const of = this.data();
        this.cur.expect(')');
        return { op: w, of };
      }
      case 'extract-int': {
        this.cur.expect('(');
        const of = this.data();
        this.cur.expect(',');
        const width = this.width();
        this.cur.expect(')');
        return { op: 'extract-int', of, width };
      }
      case 'encode-int': {
        this.cur.expect('(');
        const value = this.numeric();
        this.cur.expect(',');
        const width = this.width();
        this.cur.expect(')');
        return { op: 'encode-int', value, width };
      }
    }
    if (/^\d+$/.test(w)) this.cur.fail(t, `${t.text} is read as hex bytes here and is too long for that: write bytes as 00:07, or compare with a number through extract-int(DATA, 8|16|32)`);
    const call = this.cur.peek();
    if (call.kind === 'punct' && call.text === '(') {
      this.cur.fail(t, `the function "${t.text}" is not one netboot reads (user-defined functions are not supported; it reads: ${FUNCTIONS})`);
    }
    if (!/^[a-z_][a-z0-9_-]*$/i.test(t.text)) this.cur.fail(t, `"${t.text}" is not an expression netboot reads (it reads: ${FUNCTIONS})`);
    // dhcpd reads any other name as a variable that `set` may have given a value (null when it has none).
    return { op: 'variable', name: t.text };
  }

  private data(): DataExpr {
    const t = this.cur.peek();
    const e = this.or();
    if (kindOf(e) !== 'data') this.cur.fail(t, `expected a data expression (an option, a string, hex bytes, substring(...)) but this is a ${kindOf(e)} expression`);
    return e as DataExpr;
  }

  private numeric(): NumExpr {
    const t = this.cur.peek();
    if (t.kind === 'word' && /^\d+$/.test(t.text)) {
      this.cur.next();
      const value = Number(t.text);
      if (value > 0xffffffff) this.cur.fail(t, `${t.text} does not fit in 32 bits`);
      return { op: 'int', value };
    }
    const e = this.operand('numeric');
    if (kindOf(e) !== 'numeric') this.cur.fail(t, `expected a number or extract-int(...) but found ${this.cur.describe(t)}`);
    return e as NumExpr;
  }

  private dataList(): DataExpr[] {
    this.cur.expect('(');
    const out = [this.data()];
    while (this.cur.accept(',')) out.push(this.data());
    this.cur.expect(')');
    return out;
  }

  private width(): 8 | 16 | 32 {
    const t = this.cur.word('8, 16 or 32');
    if (t.text !== '8' && t.text !== '16' && t.text !== '32') this.cur.fail(t, `the integer width must be 8, 16 or 32, not ${t.text}`);
    return Number(t.text) as 8 | 16 | 32;
  }

  private optionRef(configured = false): OptionRef {
    const n = this.cur.word('an option name');
    const { def, space, container } = this.lookup(n);
    if (!configured && space !== 'dhcp' && space !== 'agent' && container === undefined) {
      this.cur.fail(n, `${space}.${def.name} is not in the client's packet: "option" reads DHCP options and relay agent (agent.*) sub-options; "config-option ${n.text}" reads what the configuration sets`);
    }
    this.refTypes.set(`${space}.${def.code}`, def.type);
    return { space, code: def.code, name: n.text, container };
  }
}
