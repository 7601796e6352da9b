import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { type ClientSpec, isIdentityProblem, parseClientIdentity } from './client-spec.js';
import { ExportsError, type ExportsWarning } from './exports-error.js';
import { type Token, tokenize } from './exports-lexer.js';
import { applyOption, DEFAULT_EXPORT_OPTIONS, type ExportOptions } from './export-options.js';

/** One exported directory and the clients allowed to mount it. */
export interface Export {
  /** Absolute, normalized (no `//`, `.`, `..` or trailing `/`). */
  path: string;
  /** In file order; matchClient applies exports(5)'s precedence. */
  clients: ClientSpec[];
  /** Where the path is first written. Lines that repeat a path add their clients to it. */
  source: { file: string; line: number };
}

export interface ParseExportsOptions {
  /** Called for what nfs-utils accepts with a warning (the export still takes effect). */
  warn?: (w: ExportsWarning) => void;
}

/** Longest dirpath the MOUNT protocol carries (MNTPATHLEN). */
const MAX_PATH = 1024;

interface Ctx {
  file: string;
  warn: (w: ExportsWarning) => void;
}

function at(ctx: Ctx, tok: Token, index = 0) {
  const column = index < tok.columns.length ? tok.columns[index] : (tok.columns.at(-1) ?? tok.column - 1) + 1;
  return { file: ctx.file, line: tok.line, column };
}

function parsePath(ctx: Ctx, tok: Token): string {
  if (!tok.text.startsWith('/')) {
    const looksLikeClient = /[()]/.test(tok.text) || tok.text === '*';
    throw new ExportsError(
      at(ctx, tok),
      looksLikeClient ? `a line must start with the directory to export, not ${JSON.stringify(tok.text)}` : `export path ${JSON.stringify(tok.text)} is not absolute`,
      looksLikeClient ? 'put the client on the same line as its path, or end the previous line with \\' : 'write the full path, starting with /',
    );
  }
  if (tok.text.includes('\0')) throw new ExportsError(at(ctx, tok, tok.text.indexOf('\0')), 'export path contains a NUL byte', 'remove \\000 from the path');
  const path = posix.normalize(tok.text).replace(/(.)\/$/, '$1');
  if (Buffer.byteLength(path) > MAX_PATH) {
    throw new ExportsError(at(ctx, tok), `export path is ${Buffer.byteLength(path)} bytes long; MOUNT carries at most ${MAX_PATH}`, 'export a shorter path');
  }
  return path;
}

/** Applies a comma-separated option list that starts at `start` inside `tok`. */
function parseOptionList(ctx: Ctx, tok: Token, start: number, list: string, into: ExportOptions): void {
  let offset = start;
  const words = list.split(',');
  words.forEach((word, i) => {
    if (!(word === '' && i === words.length - 1 && (i > 0 || list === ''))) {
      const problem = applyOption(into, word);
      if (problem) throw new ExportsError(at(ctx, tok, offset), problem.problem, problem.fix);
    }
    offset += word.length + 1;
  });
}

function parseClient(ctx: Ctx, tok: Token, defaults: ExportOptions, hasDefaults: boolean): { spec: ClientSpec; hasOptions: boolean } {
  const text = tok.text;
  const open = text.indexOf('(');
  let ident = text;
  let options: ExportOptions = { ...defaults };
  if (open >= 0) {
    const close = text.indexOf(')', open);
    if (close < 0) throw new ExportsError(at(ctx, tok, text.length), 'option list has no closing )', `write ${text.slice(0, open)}(${text.slice(open + 1)})`);
    if (close !== text.length - 1) {
      throw new ExportsError(at(ctx, tok, close + 1), `unexpected ${JSON.stringify(text.slice(close + 1))} after the option list`, 'separate clients with spaces, one option list per client: host1(rw) host2(ro)');
    }
    ident = text.slice(0, open);
    options = { ...defaults };
    parseOptionList(ctx, tok, open + 1, text.slice(open + 1, close), options);
  } else if (text.includes(')')) {
    throw new ExportsError(at(ctx, tok, text.indexOf(')')), 'unexpected )', 'an option list is written host(opt,opt)');
  } else if (!hasDefaults) {
    ctx.warn({ ...at(ctx, tok), message: `no options for ${text}; it gets the defaults (ro,sync,root_squash,secure): write ${text}(ro) to say so` });
  }
  const identity = parseClientIdentity(ident);
  if (isIdentityProblem(identity)) throw new ExportsError(at(ctx, tok, identity.offset), identity.problem, identity.fix);
  const { line, column } = at(ctx, tok);
  return { spec: { ...identity, options, line, column }, hasOptions: open >= 0 };
}

function sameClient(a: ClientSpec, b: ClientSpec): boolean {
  return a.kind === b.kind && (a.address ?? a.name ?? a.pattern ?? a.text) === (b.address ?? b.name ?? b.pattern ?? b.text) && a.prefix === b.prefix;
}

/**
 * Parses the text of an exports(5) file. Throws ExportsError at the first
 * mistake (file:line:column, what is wrong, how to fix it). Lines naming the
 * same path are merged into one Export, clients in file order.
 *
 * `host (rw)` — a space between a host and its options — is refused: nfs-utils
 * reads it as `host` with the defaults plus `(rw)` for the whole world, which
 * is almost never what was meant and, for rw, exposes the export. A lone
 * `(opts)` with no host before it is accepted as the anonymous client, with a
 * warning, as nfs-utils does.
 */
export function parseExports(text: string, file: string, opts: ParseExportsOptions = {}): Export[] {
  const ctx: Ctx = { file, warn: opts.warn ?? (() => {}) };
  const byPath = new Map<string, Export>();
  for (const entry of tokenize(text, file)) {
    const [pathTok, ...rest] = entry.tokens;
    const path = parsePath(ctx, pathTok);
    let exp = byPath.get(path);
    if (!exp) {
      exp = { path, clients: [], source: { file, line: pathTok.line } };
      byPath.set(path, exp);
    }
    const defaults: ExportOptions = { ...DEFAULT_EXPORT_OPTIONS };
    let hasDefaults = false;
    let clientToks = rest;
    if (rest[0]?.text.startsWith('-')) {
      parseOptionList(ctx, rest[0], 1, rest[0].text.slice(1), defaults);
      hasDefaults = true;
      clientToks = rest.slice(1);
    }
    if (clientToks.length === 0) {
      ctx.warn({ ...at(ctx, pathTok), message: `no client given for ${path}: it is exported to everyone (*) with ${hasDefaults ? 'the default options of this line' : 'the defaults (ro,sync,root_squash,secure)'}; write ${path} *(ro) to say so` });
      exp.clients.push({ kind: 'anonymous', text: '*', options: { ...defaults }, line: pathTok.line, column: pathTok.column });
      continue;
    }
    let previous: { tok: Token; hasOptions: boolean } | undefined;
    for (const tok of clientToks) {
      if (tok.text.startsWith('-')) {
        throw new ExportsError(at(ctx, tok), `default options ${tok.text} must come right after the path`, `move ${tok.text} to follow ${path}`);
      }
      if (tok.text.startsWith('(')) {
        if (previous && !previous.hasOptions) {
          const host = previous.tok.text;
          throw new ExportsError(
            at(ctx, tok),
            `${tok.text} is separated from ${host} by a space, so it would give these options to every client and leave ${host} with the defaults`,
            `write ${host}${tok.text} (no space) for ${host}, or ${host} *${tok.text} if everyone should have them`,
          );
        }
        ctx.warn({ ...at(ctx, tok), message: `no client name before ${tok.text}: it applies to everyone; write *${tok.text} to say so` });
      }
      const { spec, hasOptions } = parseClient(ctx, tok, defaults, hasDefaults);
      previous = { tok, hasOptions };
      if (exp.clients.some((c) => sameClient(c, spec))) {
        ctx.warn({ ...at(ctx, tok), message: `${spec.text} is listed twice for ${path}; the first listing is used` });
        continue;
      }
      exp.clients.push(spec);
    }
  }
  return [...byPath.values()];
}

/** Reads and parses an exports file (ExportsError for mistakes in it, a plain Error if it can't be read). */
export async function loadExports(file: string, opts: ParseExportsOptions = {}): Promise<Export[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read exports file ${file}: ${(e as Error).message}`);
  }
  return parseExports(text, file, opts);
}
