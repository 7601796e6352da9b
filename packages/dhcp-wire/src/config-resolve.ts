import type { ClassDecl, DhcpConfig, Host, Params, Scope, SetOption, Subnet } from './config-model.js';
import { inSubnet } from './ipv4.js';
import type { DhcpMessage } from './message.js';
import { getOption } from './message.js';
import { encodeSubOptions, type DhcpOption } from './option-value.js';

/** What a client gets once every scope that applies to it is merged (host > class > group > subnet > shared-network > global). */
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

/** The scopes that apply, lowest priority first. */
function scopes(config: DhcpConfig, subnet: Subnet | undefined, host: Host | undefined, classes: readonly ClassDecl[]): Scope[] {
  const base = subnet ? chainOf(subnet.scope) : [config.global];
  const seen = new Set(base);
  const out = [...base];
  if (host) {
    for (const s of chainOf(host.scope.parent)) {
      if (!seen.has(s)) {
        seen.add(s);
        out.push(s);
      }
    }
  }
  for (const c of classes) out.push(c.scope);
  if (host) out.push(host.scope);
  return out;
}

/** Classes whose match holds for `msg` and that are declared where this client is (global, its network, its groups). */
export function matchingClasses(config: DhcpConfig, subnet: Subnet | undefined, host: Host | undefined, msg: DhcpMessage): ClassDecl[] {
  if (config.classes.length === 0) return [];
  const visible = new Set<Scope>([...chainOf(subnet?.scope ?? config.global), ...chainOf(host?.scope)]);
  const out: ClassDecl[] = [];
  for (const c of config.classes) {
    if (!c.scope.parent || !visible.has(c.scope.parent) || !c.match) continue;
    const data = getOption(msg, c.match.code);
    if (!data) continue;
    if (c.match.kind === 'substring') {
      const part = data.subarray(c.match.start, c.match.start + c.match.length);
      if (Buffer.compare(part, c.match.equals) === 0) out.push(c);
    } else if (Buffer.compare(data, c.match.equals) === 0) out.push(c);
  }
  return out;
}

/** Merges the scopes that apply to a client into what it is sent. */
export function resolve(config: DhcpConfig, subnet: Subnet | undefined, host: Host | undefined, classes: readonly ClassDecl[]): Effective {
  const merged: Omit<Params, 'options'> = {};
  const options = new Map<string, SetOption>();
  for (const s of scopes(config, subnet, host, classes)) {
    const p = s.params;
    for (const [k, v] of p.options) options.set(k, v);
    for (const key of Object.keys(p) as (keyof Params)[]) {
      if (key !== 'options' && p[key] !== undefined) (merged as Record<string, unknown>)[key] = p[key];
    }
  }
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
