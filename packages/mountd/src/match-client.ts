import type { ClientSpec } from './client-spec.js';
import type { ExportOptions } from './export-options.js';
import type { Export } from './exports-parser.js';
import { inNetwork, parseIp, type IpAddress } from './ip-address.js';

/**
 * exports(5): when a client matches several specs, the kind decides — single
 * host, then network, then wildcard, then anonymous — whatever their order on
 * the line; among specs of one kind the first written wins.
 */
const PRECEDENCE: ClientSpec['kind'][] = ['host', 'cidr', 'wildcard', 'anonymous'];

const compiled = new WeakMap<ClientSpec, RegExp>();
const specAddresses = new WeakMap<ClientSpec, IpAddress | null>();

/** The spec's address as bytes, parsed once per spec (matching runs on every NFS call). */
function specIp(spec: ClientSpec): IpAddress | undefined {
  let ip = specAddresses.get(spec);
  if (ip === undefined) {
    ip = (spec.address === undefined ? undefined : parseIp(spec.address)) ?? null;
    specAddresses.set(spec, ip);
  }
  return ip ?? undefined;
}

function wildcardRegExp(spec: ClientSpec): RegExp {
  let re = compiled.get(spec);
  if (!re) {
    let src = '';
    const p = spec.pattern ?? '';
    for (let i = 0; i < p.length; i++) {
      const c = p[i];
      if (c === '*') src += '.*';
      else if (c === '?') src += '.';
      else if (c === '[') {
        const close = p.indexOf(']', i + 1);
        if (close < 0) {
          src += '\\['; // parsing refuses an unclosed class; a spec built elsewhere must not loop here
          continue;
        }
        let body = p.slice(i + 1, close);
        const negate = body.startsWith('!') || body.startsWith('^');
        if (negate) body = body.slice(1);
        src += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
        i = close;
      } else src += c.replace(/[.\\+^$(){}|]/g, '\\$&');
    }
    re = new RegExp(`^${src}$`, 'i');
    compiled.set(spec, re);
  }
  return re;
}

function matches(spec: ClientSpec, ip: IpAddress | undefined, address: string, names: string[]): boolean {
  switch (spec.kind) {
    case 'anonymous':
      return true;
    case 'host':
      if (spec.name !== undefined) return names.includes(spec.name);
      return ip !== undefined && sameIp(ip, specIp(spec));
    case 'cidr': {
      const net = specIp(spec);
      return ip !== undefined && net !== undefined && inNetwork(ip, net, spec.prefix ?? 0);
    }
    case 'wildcard': {
      // As nfs-utils: when a client has no name, its address text stands in for one.
      const re = wildcardRegExp(spec);
      return names.some((n) => re.test(n)) || re.test(address);
    }
  }
}

function sameIp(ip: IpAddress, other: IpAddress | undefined): boolean {
  return other !== undefined && other.family === ip.family && other.bytes.every((b, i) => b === ip.bytes[i]);
}

/**
 * The client spec of `exp` that grants `address`, by exports(5)'s precedence.
 * `hostnames` are the client's names as the caller has verified them (reverse
 * lookup confirmed by forward lookup); named host and wildcard specs match
 * against them. Undefined: the export does not list this client.
 */
export function matchClientSpec(exp: Export, address: string, hostnames: readonly string[] = []): ClientSpec | undefined {
  const ip = parseIp(address);
  const names = hostnames.map((n) => n.toLowerCase().replace(/\.$/, ''));
  for (const kind of PRECEDENCE) {
    for (const spec of exp.clients) {
      if (spec.kind === kind && matches(spec, ip, address, names)) return spec;
    }
  }
  return undefined;
}

/** The options `exp` grants `address` (see matchClientSpec), or undefined if it does not list the client. */
export function matchClient(exp: Export, address: string, hostnames?: readonly string[]): ExportOptions | undefined {
  return matchClientSpec(exp, address, hostnames)?.options;
}

/** Whether matching `exp` can depend on the client's host name (named hosts or wildcards). */
export function needsHostnames(exp: Export): boolean {
  return exp.clients.some((c) => c.kind === 'wildcard' || (c.kind === 'host' && c.name !== undefined));
}
