import { evalBoolean, evalData, evalValue, type DataExpr, type EvalContext, type VariableValue } from './config-expression.js';
import type { ClassDecl, DhcpConfig, HookEvent, Host, Params, Pool, Scope, SetOption, Statement, Subnet } from './config-model.js';
import { inSubnet } from './ipv4.js';
import type { DhcpMessage } from './message.js';
import { encodeSubOptions, type DhcpOption } from './option-value.js';

/** What a client gets once the statements of every scope that applies to it have run (host > class > subnet > shared-network > global). */
export interface Effective {
  /** DHCP-space options to send, option 43 included when a vendor-option-space applies, in the order the file first set them. */
  options: DhcpOption[];
  nextServer?: number;
  filename?: string;
  serverName?: string;
  defaultLeaseTime: number;
  maxLeaseTime: number;
  authoritative: boolean;
  allowUnknownClients: boolean;
  allowBootp: boolean;
  minLeaseTime: number;
  pingCheck: boolean;
  /** How long an address is pinged before it is offered (ms). */
  pingTimeoutMs: number;
  ignoreClientUids: boolean;
  /** The `on commit|release|expiry` bodies in force for this client: the last one run for each event. */
  hooks: Map<HookEvent, Statement[]>;
  /** Variables `set` for this client, for the hooks. */
  variables: Map<string, VariableValue>;
  /** Lines `log(...)` statements wrote. */
  logs: string[];
}

/** What the reply is being made for, beyond the packet: the address chosen and its pool. */
export interface ResolveExtra {
  leased?: number;
  pool?: Pool;
  fixed?: boolean;
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
function scopes(config: DhcpConfig, subnet: Subnet | undefined, host: Host | undefined, classes: readonly ClassDecl[], pool?: Pool): Scope[] {
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
  if (pool) add(chainOf(pool.scope));
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

/** The milliseconds dhcpd waits for an echo reply when ping-timeout is not set. */
export const DEFAULT_PING_TIMEOUT_MS = 1000;

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

/** An option set in scope: its bytes, or an expression evaluated once every scope has run (as dhcpd does when it builds the reply). */
type Configured = SetOption | { space: string; code: number; name: string; expr: DataExpr };

/** Runs the statements of the scopes that apply to a client, for its packet, into what it is sent. */
export function resolve(
  config: DhcpConfig,
  subnet: Subnet | undefined,
  host: Host | undefined,
  classes: readonly ClassDecl[],
  msg: DhcpMessage = NO_PACKET,
  extra: ResolveExtra = {},
): Effective {
  const merged: Omit<Params, 'options'> = {};
  const configured = new Map<string, Configured>();
  const variables = new Map<string, VariableValue>();
  const hooks = new Map<HookEvent, Statement[]>();
  const logs: string[] = [];
  const options = new Map<string, SetOption>();
  const ctx: EvalContext = {
    msg,
    known: host !== undefined,
    leased: extra.leased,
    fixed: extra.fixed,
    hostName: host?.name,
    variables,
    configParam: (name) => merged[name],
    configOption: (space, code) => {
      const o = configured.get(`${space}.${code}`);
      if (!o) return undefined;
      return 'data' in o ? o.data : (evalData(o.expr, ctx) ?? undefined);
    },
  };
  const apply = (s: Setting) => {
    switch (s.kind) {
      case 'option':
        configured.set(`${s.option.space}.${s.option.code}`, s.option);
        return;
      case 'option-expr':
        configured.set(`${s.space}.${s.code}`, { space: s.space, code: s.code, name: s.name, expr: s.expr });
        return;
      case 'param':
        (merged as Record<string, unknown>)[s.name] = s.value;
        return;
      case 'param-expr': {
        const d = evalData(s.expr, ctx);
        if (d === null) delete merged[s.name];
        else if (s.name === 'nextServer') {
          if (d.length === 4) merged.nextServer = d.readUInt32BE(0);
        } else merged[s.name] = d.toString('latin1');
        return;
      }
      case 'set': {
        const v = evalValue(s.expr, ctx);
        if (v === null) variables.delete(s.variable);
        else variables.set(s.variable, v);
        return;
      }
      case 'unset':
        variables.delete(s.variable);
        return;
      case 'on':
        for (const e of s.events) hooks.set(e, s.body);
        return;
      case 'log': {
        const d = evalData(s.expr, ctx);
        if (d !== null) logs.push(d.toString('latin1'));
        return;
      }
      case 'execute':
        // Only inside an `on` body, which runs on its lease event (see runHook).
        return;
    }
  };
  for (const s of scopes(config, subnet, host, classes, extra.pool)) execute(s.statements, ctx, apply, []);
  for (const [key, o] of configured) {
    if ('data' in o) options.set(key, o);
    else {
      const data = evalData(o.expr, ctx);
      if (data !== null) options.set(key, { space: o.space, code: o.code, name: o.name, data });
    }
  }
  const dhcp: DhcpOption[] = [];
  for (const o of options.values()) if (o.space === 'dhcp') dhcp.push({ code: o.code, data: o.data });
  const site = merged.siteOptionSpace;
  if (site) {
    // Site-local codes come from the site option space instead of the DHCP space (dhcpd.conf(5), site-option-space).
    for (const o of options.values()) {
      if (o.space !== site || o.code < SITE_CODE_MIN) continue;
      const at = dhcp.findIndex((x) => x.code === o.code);
      if (at >= 0) dhcp[at] = { code: o.code, data: o.data };
      else dhcp.push({ code: o.code, data: o.data });
    }
  }
  if (host && merged.useHostDeclNames && !options.has('dhcp.12')) dhcp.push({ code: 12, data: Buffer.from(host.name, 'latin1') });
  // An option declared "encapsulate SPACE" (iPXE's 175, ...) is built from what that space sets, as dhcpd builds it.
  const dhcpSpace = config.spaces.get('dhcp');
  for (const def of dhcpSpace?.defs() ?? []) {
    if (def.type.kind !== 'encapsulate' || def.code === 82 || options.has(`dhcp.${def.code}`)) continue;
    const space = def.type.space;
    const sub = [...options.values()].filter((o) => o.space === space);
    if (sub.length > 0) dhcp.push({ code: def.code, data: encodeSubOptions(sub.map((o) => ({ code: o.code, data: o.data })), false) });
  }
  const vendor = merged.vendorOptionSpace;
  if (vendor) {
    const sub = [...options.values()].filter((o) => o.space === vendor).sort((a, b) => a.code - b.code);
    if (sub.length > 0) {
      const at = dhcp.findIndex((o) => o.code === 43);
      // As dhcpd: the sub-options without an END of their own.
      const data = encodeSubOptions(sub.map((o) => ({ code: o.code, data: o.data })), false);
      if (at >= 0) dhcp[at] = { code: 43, data };
      else dhcp.push({ code: 43, data });
    }
  }
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
    minLeaseTime: merged.minLeaseTime ?? 0,
    pingCheck: merged.pingCheck ?? false,
    pingTimeoutMs: merged.pingTimeoutMs || merged.pingTimeout || DEFAULT_PING_TIMEOUT_MS,
    ignoreClientUids: merged.ignoreClientUids ?? false,
    hooks,
    variables,
    logs,
  };
}

/** The lowest code a site option space supplies: dhcpd takes codes from 128 up there (the old site-specific range RFC 3942 opened). */
const SITE_CODE_MIN = 128;

/** An action a lease event's hook asks for. */
export type HookAction = { kind: 'execute'; program: string; args: string[]; where: string } | { kind: 'log'; line: string };

/**
 * Runs a hook body for a lease event: `set`/`unset` and `if` as elsewhere,
 * `execute` and `log` become actions for the adapter (which runs programs
 * off the event loop, bounded in time and number).
 */
export function runHook(body: readonly Statement[], ctx: EvalContext): HookAction[] {
  const out: HookAction[] = [];
  const variables = ctx.variables ?? new Map<string, VariableValue>();
  const inner: EvalContext = { ...ctx, variables };
  const walk = (list: readonly Statement[]) => {
    for (const s of list) {
      switch (s.kind) {
        case 'execute':
          out.push({
            kind: 'execute',
            program: s.program,
            args: s.args.map((a) => evalData(a, inner)?.toString('latin1') ?? ''),
            where: `${s.pos.file}:${s.pos.line}:${s.pos.column}`,
          });
          break;
        case 'log': {
          const d = evalData(s.expr, inner);
          if (d !== null) out.push({ kind: 'log', line: d.toString('latin1') });
          break;
        }
        case 'set': {
          const v = evalValue(s.expr, inner);
          if (v === null) variables.delete(s.variable);
          else variables.set(s.variable, v);
          break;
        }
        case 'unset':
          variables.delete(s.variable);
          break;
        case 'if': {
          const taken = s.branches.find((b) => evalBoolean(b.test, inner) === true);
          walk(taken ? taken.body : s.otherwise);
          break;
        }
        default:
          break;
      }
    }
  };
  walk(body);
  return out;
}
