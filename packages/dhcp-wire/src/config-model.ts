import type { OptionSpace } from './option-space.js';
import type { Position } from './config-lexer.js';
import type { BoolExpr } from './config-expression.js';

/** An option value set in some scope, already encoded to its wire bytes. */
export interface SetOption {
  space: string;
  code: number;
  name: string;
  data: Buffer;
}

/** What the statements of the scopes that apply to a client add up to; undefined means "not set". */
export interface Params {
  /** Keyed by `space.code`. */
  options: Map<string, SetOption>;
  nextServer?: number;
  filename?: string;
  serverName?: string;
  defaultLeaseTime?: number;
  maxLeaseTime?: number;
  authoritative?: boolean;
  vendorOptionSpace?: string;
  allowUnknownClients?: boolean;
  allowBootp?: boolean;
  useHostDeclNames?: boolean;
}

/** A parameter other than an option: `filename`, `next-server`, ... */
export type ParamName = Exclude<keyof Params, 'options'>;

/**
 * One statement of a scope, kept in file order: dhcpd executes a scope's
 * statements in order, so a later one overrides an earlier one and an `if`
 * overrides what came before it only when its branch runs.
 */
export type Statement =
  | { kind: 'param'; name: ParamName; value: Params[ParamName] }
  | { kind: 'option'; option: SetOption }
  | { kind: 'if'; pos: Position; branches: { test: BoolExpr; body: Statement[] }[]; otherwise: Statement[] };

export type ScopeKind = 'global' | 'shared-network' | 'subnet' | 'group' | 'class' | 'host';

/** One block of dhcpd.conf: its parameters and the block it sits in. */
export interface Scope {
  kind: ScopeKind;
  name: string;
  parent?: Scope;
  statements: Statement[];
  pos: Position;
}

export interface ClassDecl {
  index: number;
  name: string;
  scope: Scope;
  /** `match if EXPR;`: the client is in the class when it is true. */
  match?: BoolExpr;
}

export interface Range {
  start: number;
  end: number;
  dynamicBootp: boolean;
}

export interface Subnet {
  index: number;
  network: number;
  mask: number;
  /** The subnet or its shared-network's name, as dhcpd names it in "no free leases on subnet X". */
  label: string;
  ranges: Range[];
  scope: Scope;
}

export interface Host {
  index: number;
  name: string;
  /** Lower-case `aa:bb:..` of `hardware ethernet`. */
  mac?: string;
  fixedAddresses: number[];
  scope: Scope;
}

/** A parsed dhcpd.conf. */
export interface DhcpConfig {
  file: string;
  spaces: Map<string, OptionSpace>;
  global: Scope;
  subnets: Subnet[];
  hosts: Host[];
  classes: ClassDecl[];
  hostsByMac: Map<string, Host[]>;
  /** Whether any scope holds an `if`, so what a client gets depends on its packet beyond the classes it is in. */
  conditional: boolean;
}
