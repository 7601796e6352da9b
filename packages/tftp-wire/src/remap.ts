import { isIPv4, isIPv6 } from 'node:net';

/** A mistake in a remap file, located as file:line:column. */
export class RemapSyntaxError extends Error {
  override name = 'RemapSyntaxError';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    detail: string,
  ) {
    super(`${file}:${line}:${column}: ${detail}`);
  }
}

interface RemapRule {
  line: number;
  regex: RegExp;
  replacement: string | undefined;
  rewrite: boolean; // r
  global: boolean; // g
  end: boolean; // e
  restart: boolean; // s
  abort: boolean; // a
  getOnly: boolean; // G
  putOnly: boolean; // P
  v4Only: boolean; // 4
  v6Only: boolean; // 6
  invert: boolean; // ~
}

/** Who is asking, for the rules' G/P/4/6 filters and the \i and \x escapes. */
export interface RemapRequest {
  op: 'get' | 'put';
  address: string;
}

export type RemapResult = { refused: false; name: string; rule?: number } | { refused: true; rule: number; reason: string };

/** tftp-hpa stops a rule set that keeps rewriting (a loop) after this many steps. */
const MAX_STEPS = 1024;

const POSIX_CLASSES: Record<string, string> = {
  alpha: 'a-zA-Z',
  digit: '0-9',
  alnum: 'a-zA-Z0-9',
  upper: 'A-Z',
  lower: 'a-z',
  space: ' \\t\\n\\r\\f\\v',
  blank: ' \\t',
  punct: '!-\\/:-@\\[-`{-~',
  xdigit: '0-9A-Fa-f',
  cntrl: '\\x00-\\x1f\\x7f',
  print: '\\x20-\\x7e',
  graph: '\\x21-\\x7e',
};

/** POSIX ERE (egrep style, as tftp-hpa compiles it) to a JavaScript pattern: bracket classes are the difference that matters. */
function ereToJs(ere: string): string {
  return ere.replace(/\[:([a-z]+):\]/g, (m, name: string) => POSIX_CLASSES[name] ?? m);
}

/** Splits a line into fields on unescaped whitespace, dropping an unescaped `#` comment; returns [text, column] pairs. */
function fields(line: string): [string, number][] {
  const out: [string, number][] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i])) i++;
    if (i >= line.length || line[i] === '#') break;
    const startCol = i + 1;
    let text = '';
    while (i < line.length && !/\s/.test(line[i]) && line[i] !== '#') {
      if (line[i] === '\\' && i + 1 < line.length) {
        text += line[i] + line[i + 1]; // escapes are interpreted by the regex or the replacement
        i += 2;
      } else {
        text += line[i++];
      }
    }
    out.push([text, startCol]);
  }
  return out;
}

/**
 * Parses a remap file in tftp-hpa's `-m` syntax: one rule a line,
 * `operation regex [replacement]`, with `#` comments. Operations combine
 * the letters r g i e s a G P 4 6 ~ as `man tftpd` describes.
 */
export function parseRemap(text: string, file = 'remap'): Remap {
  const rules: RemapRule[] = [];
  text.split('\n').forEach((raw, n) => {
    const line = n + 1;
    const f = fields(raw.replace(/\r$/, ''));
    if (f.length === 0) return;
    const [[ops, opsCol], regexField, replField, extra] = f;
    const rule: RemapRule = {
      line,
      regex: /$^/,
      replacement: undefined,
      rewrite: false,
      global: false,
      end: false,
      restart: false,
      abort: false,
      getOnly: false,
      putOnly: false,
      v4Only: false,
      v6Only: false,
      invert: false,
    };
    let insensitive = false;
    for (let k = 0; k < ops.length; k++) {
      const c = ops[k];
      const col = opsCol + k;
      switch (c) {
        case 'r': rule.rewrite = true; break;
        case 'g': rule.global = true; break;
        case 'i': insensitive = true; break;
        case 'e': rule.end = true; break;
        case 's': rule.restart = true; break;
        case 'a': rule.abort = true; break;
        case 'G': rule.getOnly = true; break;
        case 'P': rule.putOnly = true; break;
        case '4': rule.v4Only = true; break;
        case '6': rule.v6Only = true; break;
        case '~': rule.invert = true; break;
        default:
          throw new RemapSyntaxError(file, line, col, `unknown operation "${c}" (use r g i e s a G P 4 6 ~)`);
      }
    }
    if (!regexField) throw new RemapSyntaxError(file, line, opsCol + ops.length, 'a rule needs a regular expression after the operation');
    if (rule.invert && rule.rewrite) throw new RemapSyntaxError(file, line, opsCol, '"~" cannot be combined with "r"');
    if (extra) throw new RemapSyntaxError(file, line, extra[1], 'unexpected text after the replacement (escape spaces as "\\ ")');
    try {
      rule.regex = new RegExp(ereToJs(regexField[0]), insensitive ? 'i' : '');
    } catch (err) {
      throw new RemapSyntaxError(file, line, regexField[1], `bad regular expression: ${(err as Error).message}`);
    }
    // tftp-hpa reads a missing replacement as the empty one: "ri ^[a-z]:" in its sample.rules deletes a drive letter.
    rule.replacement = replField?.[0] ?? (rule.rewrite ? '' : undefined);
    rules.push(rule);
  });
  return new Remap(rules);
}

/** The client address in tftp-hpa's \x form: 8 hex digits for IPv4, 32 for IPv6, uppercase. */
function hexAddress(address: string): string {
  if (isIPv4(address)) {
    return address
      .split('.')
      .map((o) => Number(o).toString(16).padStart(2, '0'))
      .join('')
      .toUpperCase();
  }
  let s = address.replace(/%.*$/, '');
  if (!isIPv6(s)) return '';
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const h = hexAddress(v4[1]);
    s = `${s.slice(0, v4.index)}${h.slice(0, 4)}:${h.slice(4)}`;
  }
  const [head, tail] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = s.includes('::') ? Array<string>(8 - h.length - t.length).fill('0') : [];
  return [...h, ...fill, ...t]
    .map((g) => g.padStart(4, '0'))
    .join('')
    .toUpperCase();
}

function substitute(template: string, match: RegExpExecArray, req: RemapRequest): string {
  let out = '';
  let caseMode: 'U' | 'L' | undefined;
  const put = (s: string) => {
    out += caseMode === 'U' ? s.toUpperCase() : caseMode === 'L' ? s.toLowerCase() : s;
  };
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c !== '\\' || i + 1 >= template.length) {
      put(c);
      continue;
    }
    const e = template[++i];
    if (e >= '0' && e <= '9') put(match[Number(e)] ?? '');
    else if (e === 'i') put(req.address);
    else if (e === 'x') put(hexAddress(req.address));
    else if (e === 'U' || e === 'L') caseMode = e;
    else if (e === 'E') caseMode = undefined;
    else put(e); // \\, \#, \<space> and any other escaped character stand for themselves
  }
  return out;
}

/** A parsed rule set; `apply` rewrites one requested name. */
export class Remap {
  constructor(private readonly rules: readonly RemapRule[]) {}

  get size(): number {
    return this.rules.length;
  }

  apply(name: string, req: RemapRequest): RemapResult {
    const v6 = isIPv6(req.address) && !/^::ffff:\d/.test(req.address);
    let current = name;
    let lastRule: number | undefined;
    let steps = 0;
    for (let k = 0; k < this.rules.length; k++) {
      const r = this.rules[k];
      if ((r.getOnly && req.op !== 'get') || (r.putOnly && req.op !== 'put')) continue;
      if ((r.v4Only && v6) || (r.v6Only && !v6)) continue;
      if (++steps > MAX_STEPS) return { refused: true, rule: r.line, reason: 'remap rules keep rewriting the name (loop)' };
      let m = r.regex.exec(current);
      const matched = r.invert ? m === null : m !== null;
      if (!matched) continue;
      lastRule = r.line;
      if (r.abort) return { refused: true, rule: r.line, reason: `refused by remap rule on line ${r.line}` };
      if (r.rewrite) {
        while (m) {
          current = current.slice(0, m.index) + substitute(r.replacement!, m, req) + current.slice(m.index + m[0].length);
          if (!r.global) break;
          if (++steps > MAX_STEPS) return { refused: true, rule: r.line, reason: 'remap rules keep rewriting the name (loop)' };
          m = r.regex.exec(current);
        }
      }
      if (r.end) break;
      if (r.restart) k = -1;
    }
    return lastRule === undefined || current === name ? { refused: false, name: current } : { refused: false, name: current, rule: lastRule };
  }
}
