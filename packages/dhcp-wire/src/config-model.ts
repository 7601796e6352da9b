import type { OptionSpace } from './option-space.js';
import type { Position } from './config-lexer.js';

/** An option value set in some scope, already encoded to its wire bytes. */
export interface SetOption {
  space: string;
  code: number;
  name: string;
  data: Buffer;
}

/** The parameters one scope may set; undefined means "inherit". */
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

export type ScopeKind = 'global' | 'shared-network' | 'subnet' | 'group' | 'class' | 'host';

/** One block of dhcpd.conf: its parameters and the block it sits in. */
export interface Scope {
  kind: ScopeKind;
  name: string;
  parent?: Scope;
  params: Params;
  pos: Position;
}

/** How a class recognises its clients. */
export type ClassMatch =
  | { kind: 'substring'; code: number; start: number; length: number; equals: Buffer }
  | { kind: 'equals'; code: number; equals: Buffer };

export interface ClassDecl {
  index: number;
  name: string;
  scope: Scope;
  match?: ClassMatch;
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
}

export function emptyParams(): Params {
  return { options: new Map() };
}
