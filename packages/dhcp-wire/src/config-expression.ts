import type { DhcpMessage } from './message.js';
import { getOption } from './message.js';
import { decodeSubOptions } from './option-value.js';

/**
 * dhcp-eval(5) expressions: what `if`, `elsif` and `match if` test. Three kinds,
 * as in ISC dhcpd: boolean, data (bytes) and numeric. Any of them may be
 * null (ISC's "status 0"): an option the packet does not carry is null, and
 * nulls spread through the operators exactly as dhcpd spreads them.
 */
export type Expr = BoolExpr | DataExpr | NumExpr;

/** Where an option lives: a DHCP option, or a relay agent sub-option inside option 82. */
export interface OptionRef {
  space: string;
  /** For a sub-option: the DHCP option that carries its space in the packet (82 for agent.*, 175 for iPXE's, ...). */
  container?: number;
  code: number;
  name: string;
}

export type BoolExpr =
  | { op: 'exists'; option: OptionRef }
  | { op: 'static' }
  | { op: 'defined'; variable: string }
  /** `~=` and `~~` (case-insensitive): a POSIX extended regular expression, read as a JavaScript one. */
  | { op: 'regex'; of: DataExpr; re: RegExp }
  | { op: 'equal' | 'not-equal'; left: Expr; right: Expr }
  | { op: 'and' | 'or'; left: BoolExpr; right: BoolExpr }
  | { op: 'not'; of: BoolExpr }
  | { op: 'known' };

export type DataExpr =
  | { op: 'const'; data: Buffer }
  | { op: 'option'; option: OptionRef }
  | { op: 'hardware' }
  | { op: 'substring'; of: DataExpr; offset: NumExpr; length: NumExpr }
  | { op: 'suffix'; of: DataExpr; length: NumExpr }
  | { op: 'concat'; left: DataExpr; right: DataExpr }
  | { op: 'lcase' | 'ucase'; of: DataExpr }
  | { op: 'pick-first-value'; of: DataExpr[] }
  | { op: 'encode-int'; value: NumExpr; width: 8 | 16 | 32 }
  | { op: 'binary-to-ascii'; base: NumExpr; width: NumExpr; separator: DataExpr; of: DataExpr }
  | { op: 'reverse'; width: NumExpr; of: DataExpr }
  | { op: 'packet'; offset: NumExpr; length: NumExpr }
  | { op: 'leased-address' }
  | { op: 'host-decl-name' }
  | { op: 'config-option'; option: OptionRef }
  | { op: 'variable'; name: string }
  /** `filename`, `server-name` in an expression: what the configuration set so far. */
  | { op: 'config-param'; name: 'filename' | 'serverName' }
  | { op: 'null' };

export type NumExpr =
  | { op: 'int'; value: number }
  | { op: 'extract-int'; of: DataExpr; width: 8 | 16 | 32 }
  | { op: 'lease-time' };

export type ExprKind = 'boolean' | 'data' | 'numeric';

const BOOL_OPS = new Set(['exists', 'equal', 'not-equal', 'and', 'or', 'not', 'known', 'static', 'defined', 'regex']);
const NUM_OPS = new Set(['int', 'extract-int', 'lease-time']);

export function kindOf(e: Expr): ExprKind {
  return BOOL_OPS.has(e.op) ? 'boolean' : NUM_OPS.has(e.op) ? 'numeric' : 'data';
}

/** What `set` stores in a variable. */
export type VariableValue = boolean | number | Buffer;

/** What an expression is evaluated against: the client's packet and whether a host declaration matched it. */
export interface EvalContext {
  msg: DhcpMessage;
  known: boolean;
  /** The address being offered or leased, once chosen. */
  leased?: number;
  /** The lease's length in seconds, once decided. */
  leaseTime?: number;
  /** The host declaration's name, when one matched. */
  hostName?: string;
  /** Whether the address is a host's fixed address. */
  fixed?: boolean;
  /** Variables `set` so far for this client. */
  variables?: Map<string, VariableValue>;
  /** The filename or server-name the configuration set so far for this client. */
  configParam?: (name: 'filename' | 'serverName') => string | undefined;
  /** An option's value as the configuration set it so far for this client (config-option). */
  configOption?: (space: string, code: number) => Buffer | undefined;
}

/** A boolean that may be null, as dhcpd's evaluate_boolean_expression returns it. */
export type Truth = boolean | null;

/**
 * Evaluates a boolean expression. `and` evaluates its right side only when the
 * left is true and is null otherwise unless both sides are known (so
 * `false and x` is null, and `not` of it is null too); `or` is true if either
 * side is; an `if` or `match if` treats null as false. This is dhcpd's logic
 * (tree.c), kept so a config behaves here as it did there.
 */
export function evalBoolean(e: BoolExpr, ctx: EvalContext): Truth {
  switch (e.op) {
    case 'exists':
      return optionData(e.option, ctx) !== null;
    case 'known':
      return ctx.known;
    case 'static':
      return ctx.fixed ?? false;
    case 'defined':
      return ctx.variables?.has(e.variable) ?? false;
    case 'regex': {
      const d = evalData(e.of, ctx);
      return d === null ? null : e.re.test(d.toString('latin1'));
    }
    case 'not': {
      const v = evalBoolean(e.of, ctx);
      return v === null ? null : !v;
    }
    case 'and': {
      const l = evalBoolean(e.left, ctx);
      if (l !== true) return null;
      return evalBoolean(e.right, ctx);
    }
    case 'or': {
      const l = evalBoolean(e.left, ctx);
      const r = l === true ? null : evalBoolean(e.right, ctx);
      if (l === null && r === null) return null;
      return l === true || r === true;
    }
    case 'equal':
    case 'not-equal': {
      const same = equalValues(evalAny(e.left, ctx), evalAny(e.right, ctx));
      return e.op === 'equal' ? same : !same;
    }
  }
}

type Value = { kind: ExprKind; v: boolean | number | Buffer } | null;

function evalAny(e: Expr, ctx: EvalContext): Value {
  const kind = kindOf(e);
  const v = kind === 'boolean' ? evalBoolean(e as BoolExpr, ctx) : kind === 'numeric' ? evalNumeric(e as NumExpr, ctx) : evalData(e as DataExpr, ctx);
  return v === null ? null : { kind, v };
}

/** dhcpd: two nulls are equal, a null and a value are not, values of different kinds are not. */
function equalValues(a: Value, b: Value): boolean {
  if (a === null || b === null) return a === b;
  if (a.kind !== b.kind) return false;
  if (a.kind === 'data') return Buffer.compare(a.v as Buffer, b.v as Buffer) === 0;
  return a.v === b.v;
}

export function evalData(e: DataExpr, ctx: EvalContext): Buffer | null {
  switch (e.op) {
    case 'const':
      return e.data;
    case 'option':
      return optionData(e.option, ctx);
    case 'hardware': {
      const m = ctx.msg;
      const hlen = Math.min(m.hlen, 16, m.chaddr.length);
      const out = Buffer.alloc(1 + hlen);
      out[0] = m.htype;
      out.set(m.chaddr.subarray(0, hlen), 1);
      return out;
    }
    case 'substring': {
      const d = evalData(e.of, ctx);
      const off = evalNumeric(e.offset, ctx);
      const len = evalNumeric(e.length, ctx);
      if (d === null || off === null || len === null) return null;
      if (off >= d.length) return Buffer.alloc(0);
      return d.subarray(off, off + len);
    }
    case 'suffix': {
      const d = evalData(e.of, ctx);
      const len = evalNumeric(e.length, ctx);
      if (d === null || len === null) return null;
      return len >= d.length ? d : d.subarray(d.length - len);
    }
    case 'concat': {
      const l = evalData(e.left, ctx);
      const r = evalData(e.right, ctx);
      if (l === null || r === null) return null;
      return Buffer.concat([l, r]);
    }
    case 'lcase':
    case 'ucase': {
      const d = evalData(e.of, ctx);
      if (d === null) return null;
      const out = Buffer.from(d);
      for (let i = 0; i < out.length; i++) {
        const c = out[i];
        if (e.op === 'lcase' && c >= 0x41 && c <= 0x5a) out[i] = c + 32;
        else if (e.op === 'ucase' && c >= 0x61 && c <= 0x7a) out[i] = c - 32;
      }
      return out;
    }
    case 'pick-first-value': {
      for (const x of e.of) {
        const d = evalData(x, ctx);
        if (d !== null) return d;
      }
      return null;
    }
    case 'encode-int': {
      const n = evalNumeric(e.value, ctx);
      if (n === null) return null;
      const out = Buffer.alloc(e.width / 8);
      out.writeUIntBE(n % 2 ** e.width, 0, e.width / 8);
      return out;
    }
    case 'binary-to-ascii': {
      const base = evalNumeric(e.base, ctx);
      const width = evalNumeric(e.width, ctx);
      const sep = evalData(e.separator, ctx);
      const d = evalData(e.of, ctx);
      if (base === null || width === null || sep === null || d === null) return null;
      if (base < 2 || base > 16 || (width !== 8 && width !== 16 && width !== 32)) return null;
      // As dhcpd: no zero padding (16, 8 gives "1:a:2b", not "01:0a:2b"), lower-case digits.
      const bytes = width / 8;
      const parts: string[] = [];
      for (let at = 0; at + bytes <= d.length; at += bytes) parts.push(d.readUIntBE(at, bytes).toString(base));
      return Buffer.from(parts.join(sep.toString('latin1')), 'latin1');
    }
    case 'reverse': {
      const width = evalNumeric(e.width, ctx);
      const d = evalData(e.of, ctx);
      if (width === null || d === null || width === 0 || d.length % width !== 0) return null;
      const out = Buffer.alloc(d.length);
      for (let k = 0; k < d.length; k += width) d.copy(out, d.length - k - width, k, k + width);
      return out;
    }
    case 'packet': {
      const off = evalNumeric(e.offset, ctx);
      const len = evalNumeric(e.length, ctx);
      const raw = ctx.msg.raw;
      if (off === null || len === null || !raw) return null;
      if (off >= raw.length) return Buffer.alloc(0);
      return Buffer.from(raw.buffer, raw.byteOffset + off, Math.min(len, raw.length - off));
    }
    case 'leased-address': {
      if (ctx.leased === undefined) return null;
      const out = Buffer.alloc(4);
      out.writeUInt32BE(ctx.leased >>> 0);
      return out;
    }
    case 'host-decl-name':
      return ctx.hostName === undefined ? null : Buffer.from(ctx.hostName, 'latin1');
    case 'config-option':
      return ctx.configOption?.(e.option.space, e.option.code) ?? null;
    case 'variable': {
      const v = ctx.variables?.get(e.name);
      return Buffer.isBuffer(v) ? v : null;
    }
    case 'config-param': {
      const v = ctx.configParam?.(e.name);
      return v === undefined ? null : Buffer.from(v, 'latin1');
    }
    case 'null':
      return null;
  }
}

export function evalNumeric(e: NumExpr, ctx: EvalContext): number | null {
  if (e.op === 'int') return e.value;
  if (e.op === 'lease-time') return ctx.leaseTime ?? null;
  const d = evalData(e.of, ctx);
  const bytes = e.width / 8;
  if (d === null || d.length < bytes) return null;
  return d.readUIntBE(0, bytes);
}

/** Evaluates any expression to what `set` stores, or null. */
export function evalValue(e: Expr, ctx: EvalContext): VariableValue | null {
  const kind = kindOf(e);
  return kind === 'boolean' ? evalBoolean(e as BoolExpr, ctx) : kind === 'numeric' ? evalNumeric(e as NumExpr, ctx) : evalData(e as DataExpr, ctx);
}

function optionData(ref: OptionRef, ctx: EvalContext): Buffer | null {
  if (ref.space === 'dhcp') {
    const d = getOption(ctx.msg, ref.code);
    return d ? Buffer.from(d.buffer, d.byteOffset, d.length) : null;
  }
  const container = ref.container ?? 82;
  const outer = getOption(ctx.msg, container);
  if (!outer) return null;
  let subs;
  try {
    subs = decodeSubOptions(outer, `option ${container}`, 0);
  } catch {
    // A malformed encapsulated option carries no sub-option the config could test.
    return null;
  }
  const s = subs.find((o) => o.code === ref.code);
  return s ? Buffer.from(s.data.buffer, s.data.byteOffset, s.data.length) : null;
}
