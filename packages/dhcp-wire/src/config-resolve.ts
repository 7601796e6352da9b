import { evalBoolean, type EvalContext } from './config-expression.js';
import type { ClassDecl, DhcpConfig, Host, Params, Scope, SetOption, Statement, Subnet } from './config-model.js';
import { inSubnet } from './ipv4.js';
import type { DhcpMessage } from './message.js';
import { encodeSubOptions, type DhcpOption } from './option-value.js';

/** What a client gets once the statements of every scope that applies to it have run (host > class > subnet > shared-network > global). */
export interface Effective {
  /** DHCP-space options to send, option 43 included when a vendor-option-space applies. Ordered by code. */
  options: DhcpOption[];
  nextServer?: number;
  filename?: string;
  serverName?: string;
  defaultLeaseTime: number;
  maxLeaseTime: number;
  authoritative: boolean;
  allowUnknownClients: boolean;
  allowBootp: boolean;
}

/** dhcpd's defaults when the configuration says nothing. */
export const DEFAULT_LEASE_TIME = 43200;
export const DEFAULT_MAX_LEASE_TIME = 86400;

/** The subnet declaration containing `addr`, if any. */
export function subnetFor(config: DhcpConfig, addr: number): Subnet | undefined {
  for (const s of config.subnets) if (inSubnet(addr, s.network, s.mask)) return s;
  return undefined;
}

/** Every subnet on the same link as `subnet`: those of its shared-network, or itself. */
export function linkSubnets(config: DhcpConfig, subnet: Subnet): Subnet[] {
  const parent = subnet.scope.parent;
  if (parent?.kind !== 'shared-network') return [subnet];
  return config.subnets.filter((s) => s.scope.parent === parent);
}

function chainOf(scope: Scope | undefined): Scope[] {
  const out: Scope[] = [];
  for (let s = scope; s; s = s.parent) out.push(s);
  return out.reverse();
}

/**
 * The scopes whose statements run for a client, in the order dhcpd runs them
 * (ack_lease): the subnet's (global, shared-network, subnet), then the
 * classes', the last matched first so that the first declared class has the
 * last word, then the host's (its groups, then itself). Later statements
 * override earlier ones; a scope already run is not run again.
 */
function scopes(config: DhcpConfig, subnet: Subnet | undefined, host: Host | undefined, classes: readonly ClassDecl[]): Scope[] {
  const out = subnet ? chainOf(subnet.scope) : [config.global];
  const seen = new Set(out);
  const add = (chain: Scope[]) => {
    for (const s of chain) {
      if (!seen.has(s)) {
        seen.add(s);
        out.push(s);
      }
    }
  };
  for (let i = classes.length - 1; i >= 0; i--) add(chainOf(classes[i].scope));
  if (host) add(chainOf(host.scope));
  return out;
}

/** A packet with no options, for evaluating a configuration when there is no client (tests of static settings). */
const NO_PACKET: DhcpMessage = {
  op: 1, htype: 1, hlen: 6, hops: 0, xid: 0, secs: 0, flags: 0, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0,
  chaddr: new Uint8Array(16), sname: new Uint8Array(0), file: new Uint8Array(0), cookie: true, options: [],
};

type Setting = Exclude<Statement, { kind: 'if' }>;

/** Runs statements in order; each `if` runs its first branch whose test is true (null counts as false), else its else. */
function execute(statements: readonly Statement[], ctx: EvalContext, apply: (s: Setting) => void, trace: number[]): void {
  for (const s of statements) {
    if (s.kind !== 'if') {
      apply(s);
      continue;
    }
    const taken = s.branches.findIndex((b) => evalBoolean(b.test, ctx) === true);
    trace.push(taken);
    execute(taken >= 0 ? s.branches[taken].body : s.otherwise, ctx, apply, trace);
  }
}

/** Classes whose match holds for `msg` and that are declared where this client is (global, its network, its groups), in declaration order. */
export function matchingClasses(config: DhcpConfig, subnet: Subnet | undefined, host: Host | undefined, msg: DhcpMessage): ClassDecl[] {
  if (config.classes.length === 0) return [];
  const visible = new Set<Scope>([...chainOf(subnet?.scope ?? config.global), ...chainOf(host?.scope)]);
  const ctx: EvalContext = { msg, known: host !== undefined };
  const out: ClassDecl[] = [];
  for (const c of config.classes) {
    if (!c.scope.parent || !visible.has(c.scope.parent) || !c.match) continue;
    if (evalBoolean(c.match, ctx) === true) out.push(c);
  }
  return out;
}

/**
 * Which branch each `if` that runs for this client takes, as a string: two
 * clients with the same subnet, host, classes and branches get the same answer,
 * so it can be cached under this key. Empty when the configuration has no `if`.
 */
export function branchKey(config: DhcpConfig, subnet: Subnet | undefined, host: Host | undefined, classes: readonly ClassDecl[], msg: DhcpMessage): string {
  if (!config.conditional) return '';
  const trace: number[] = [];
  const ctx: EvalContext = { msg, known: host !== undefined };
  for (const s of scopes(config, subnet, host, classes)) execute(s.statements, ctx, () => {}, trace);
  return trace.join(',');
}

/** Runs the statements of the scopes that apply to a client, for its packet, into what it is sent. */
export function resolve(config: DhcpConfig, subnet: Subnet | undefined, host: Host | undefined, classes: readonly ClassDecl[], msg: DhcpMessage = NO_PACKET): Effective {
  const merged: Omit<Params, 'options'> = {};
  const options = new Map<string, SetOption>();
  const ctx: EvalContext = { msg, known: host !== undefined };
  const apply = (s: Setting) => {
    if (s.kind === 'option') options.set(`${s.option.space}.${s.option.code}`, s.option);
    else (merged as Record<string, unknown>)[s.name] = s.value;
  };
  for (const s of scopes(config, subnet, host, classes)) execute(s.statements, ctx, apply, []);
  const dhcp: DhcpOption[] = [];
  for (const o of options.values()) if (o.space === 'dhcp') dhcp.push({ code: o.code, data: o.data });
  if (host && merged.useHostDeclNames && !options.has('dhcp.12')) dhcp.push({ code: 12, data: Buffer.from(host.name, 'latin1') });
  const vendor = merged.vendorOptionSpace;
  if (vendor) {
    const sub = [...options.values()].filter((o) => o.space === vendor).sort((a, b) => a.code - b.code);
    if (sub.length > 0) {
      const at = dhcp.findIndex((o) => o.code === 43);
      const data = encodeSubOptions(sub.map((o) => ({ code: o.code, data: o.data })), true);
      if (at >= 0) dhcp[at] = { code: 43, data };
      else dhcp.push({ code: 43, data });
    }
  }
  dhcp.sort((a, b) => a.code - b.code);
  return {
    options: dhcp,
    nextServer: merged.nextServer,
    filename: merged.filename,
    serverName: merged.serverName,
    defaultLeaseTime: merged.defaultLeaseTime ?? DEFAULT_LEASE_TIME,
    maxLeaseTime: merged.maxLeaseTime ?? DEFAULT_MAX_LEASE_TIME,
    authoritative: merged.authoritative ?? false,
    allowUnknownClients: merged.allowUnknownClients ?? true,
    allowBootp: merged.allowBootp ?? true,
  };
}
