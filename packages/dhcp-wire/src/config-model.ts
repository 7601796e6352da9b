import type { OptionSpace } from './option-space.js';
import type { Position } from './config-lexer.js';
import type { BoolExpr, DataExpr, Expr } from './config-expression.js';
import type { OptionType } from './option-value.js';

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
  minLeaseTime?: number;
  siteOptionSpace?: string;
  pingCheck?: boolean;
  /** ping-timeout, in ms. */
  pingTimeout?: number;
  /** ping-timeout-ms: when above zero it wins over ping-timeout, wherever each is written. */
  pingTimeoutMs?: number;
  ignoreClientUids?: boolean;
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
  /** `option X = EXPR;`: evaluated per client, encoded as the option's type. */
  | { kind: 'option-expr'; space: string; code: number; name: string; type: OptionType; expr: DataExpr; pos: Position }
  /** `filename = EXPR;` and the other server parameters written as expressions. */
  | { kind: 'param-expr'; name: 'filename' | 'serverName' | 'nextServer'; expr: DataExpr; pos: Position }
  | { kind: 'set'; variable: string; expr: Expr }
  | { kind: 'unset'; variable: string }
  | { kind: 'on'; events: HookEvent[]; body: Statement[]; pos: Position }
  | { kind: 'execute'; program: string; args: DataExpr[]; pos: Position }
  | { kind: 'log'; expr: DataExpr }
  | { kind: 'if'; pos: Position; branches: { test: BoolExpr; body: Statement[] }[]; otherwise: Statement[] };

export type HookEvent = 'commit' | 'release' | 'expiry';

export type ScopeKind = 'global' | 'shared-network' | 'subnet' | 'pool' | 'group' | 'class' | 'host';

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
  /** The `pool { }` the range is declared in: who may have its addresses, and statements for them. */
  pool?: Pool;
}

/** Who a pool's `allow`/`deny` names (dhcpd.conf(5), "permit lists"). */
export type PoolMember =
  | { kind: 'known-clients' | 'unknown-clients' | 'dynamic-bootp' | 'all-clients' | 'authenticated' | 'unauthenticated' }
  | { kind: 'class'; name: string };

export interface Pool {
  index: number;
  /** When not empty, only clients matching one of these may have an address from the pool. */
  permit: PoolMember[];
  /** Clients matching one of these may not. */
  prohibit: PoolMember[];
  scope: Scope;
}

/** A statement read that changes nothing for netboot, listed once at start-up with why. */
export interface IgnoredStatement {
  statement: string;
  pos: Position;
  why: string;
}

/** A host name written where an address goes: dhcpd resolves it when it reads the file, and so does loadConfigFile. */
export interface PendingName {
  name: string;
  pos: Position;
  /** Puts the resolved address where the name was written. */
  assign(address: number): void;
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
  /** Whether some value is an expression or a variable, so each reply is computed for its own packet. */
  dynamic: boolean;
  pools: Pool[];
  /** Statements read that have no effect here, in file order. */
  ignored: IgnoredStatement[];
  /** Host names still to be resolved (see resolveConfigNames); empty once resolved. */
  names: PendingName[];
  /** Every file read: the main file and its includes. */
  files: string[];
}
