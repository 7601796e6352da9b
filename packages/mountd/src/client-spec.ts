import type { ExportOptions } from './export-options.js';
import { formatIp, maskToPrefix, networkOf, parseIp } from './ip-address.js';

/**
 * One client of an export and what it is granted. The kinds are those of
 * exports(5): a single host (an IP literal or a name), a network (CIDR or
 * address/netmask), a wildcard over host names, and the anonymous `*`.
 */
export interface ClientSpec {
  kind: 'host' | 'cidr' | 'wildcard' | 'anonymous';
  /** As written in the file (`*` for the anonymous client, also when written as `(opts)` alone). */
  text: string;
  /** host: the canonical IP literal; cidr: the network address (host bits cleared). */
  address?: string;
  /** cidr: the prefix length (an address/netmask is converted). */
  prefix?: number;
  /** host/cidr with an address: 4 or 6. */
  family?: 4 | 6;
  /** host given by name: the name, lowercase. */
  name?: string;
  /** wildcard: the pattern, lowercase (`*`, `?`, `[...]` as in exports(5)). */
  pattern?: string;
  options: ExportOptions;
  /** Where the spec is written (1-based). */
  line: number;
  column: number;
}

/** The identity half of a ClientSpec, before options and position are attached. */
export type ClientIdentity = Pick<ClientSpec, 'kind' | 'text' | 'address' | 'prefix' | 'family' | 'name' | 'pattern'>;

/** A problem with a client's identity: what is wrong, how to fix it, and the offset inside the text. */
export interface IdentityProblem {
  problem: string;
  fix: string;
  offset: number;
}

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?$/i;
const WILDCARD_CHARS = /^[a-z0-9_.\-*?[\]!^:]+$/i;

function parseNetwork(text: string): ClientIdentity | IdentityProblem {
  const slash = text.indexOf('/');
  const addrText = text.slice(0, slash);
  const maskText = text.slice(slash + 1);
  const addr = parseIp(addrText);
  if (!addr) {
    return { problem: `${JSON.stringify(addrText)} is not an IP address`, fix: 'write a network as 198.18.1.0/24 or 198.18.1.0/255.255.255.0', offset: 0 };
  }
  const bits = addr.family === 4 ? 32 : 128;
  let prefix: number | undefined;
  if (/^[0-9]{1,3}$/.test(maskText)) {
    prefix = Number(maskText);
    if (prefix > bits) {
      return { problem: `prefix length /${maskText} is longer than ${bits} bits`, fix: `write a prefix from 0 to ${bits}`, offset: slash + 1 };
    }
  } else {
    const mask = parseIp(maskText);
    if (!mask || mask.family !== addr.family) {
      return { problem: `${JSON.stringify(maskText)} is neither a prefix length nor a netmask`, fix: 'write /24 or /255.255.255.0', offset: slash + 1 };
    }
    prefix = maskToPrefix(mask);
    if (prefix === undefined) {
      return { problem: `netmask ${maskText} is not contiguous`, fix: 'a netmask is ones then zeros, e.g. 255.255.255.0', offset: slash + 1 };
    }
  }
  return { kind: 'cidr', text, address: formatIp(networkOf(addr, prefix)), prefix, family: addr.family };
}

/** Checks a wildcard pattern's characters and that every `[...]` class is closed and valid. */
function wildcardProblem(text: string): IdentityProblem | undefined {
  if (!WILDCARD_CHARS.test(text)) {
    const at = [...text].findIndex((c) => !WILDCARD_CHARS.test(c));
    return { problem: `${JSON.stringify(text[at])} cannot appear in a host name pattern`, fix: 'use letters, digits, . - and the wildcards * ? [...]', offset: at };
  }
  for (let open = text.indexOf('['); open >= 0; open = text.indexOf('[', open + 1)) {
    const close = text.indexOf(']', open + 1);
    if (close < 0) return { problem: 'a [ in this wildcard is never closed', fix: 'close the character class with ]', offset: open };
    // Matching is case-insensitive (the pattern is lowercased), so ranges are checked in lowercase.
    const body = text.slice(open + 1, close).toLowerCase().replace(/^[!^]/, '');
    // Checked here, where the admin gets file:line:column, rather than failing on every client's call.
    for (let i = 0; i + 2 < body.length; i++) {
      if (body[i + 1] === '-' && body[i] > body[i + 2]) {
        return { problem: `the range ${body.slice(i, i + 3)} in ${text.slice(open, close + 1)} is backwards`, fix: `write ${body[i + 2]}-${body[i]}`, offset: open + 1 + i };
      }
    }
    if (body.length === 0) return { problem: `${text.slice(open, close + 1)} matches no character`, fix: 'list the characters the class allows, e.g. [0-9]', offset: open };
    open = close;
  }
  return undefined;
}

/**
 * Classifies a client as exports(5) does: empty or `*` is anonymous, `@` a
 * netgroup (refused: netboot has no NIS), a `/` a network, any of `* ? [` a
 * wildcard, anything else a single host.
 */
export function parseClientIdentity(text: string): ClientIdentity | IdentityProblem {
  if (text === '' || text === '*') return { kind: 'anonymous', text: '*' };
  if (text.startsWith('@')) {
    return {
      problem: `netgroup ${text} is not supported (netboot reads no NIS netgroups)`,
      fix: 'list the hosts, or write a network such as 198.18.1.0/24 or a wildcard such as *.example.org',
      offset: 0,
    };
  }
  if (text.startsWith('gss/')) {
    return { problem: `${text}: Kerberos clients are not supported (netboot serves AUTH_SYS only)`, fix: 'name the hosts or networks instead', offset: 0 };
  }
  if (text.includes('/')) return parseNetwork(text);
  const ip = parseIp(text);
  if (ip) return { kind: 'host', text, address: formatIp(ip), family: ip.family };
  if (/[*?[]/.test(text)) {
    return wildcardProblem(text) ?? { kind: 'wildcard', text, pattern: text.toLowerCase() };
  }
  if (!HOSTNAME.test(text)) {
    const bad = [...text].findIndex((c) => !/[a-z0-9_.-]/i.test(c));
    return {
      problem: `${JSON.stringify(text)} is not a host name, address, network or wildcard`,
      fix: 'write a host as node1 or 198.18.1.21, a network as 198.18.1.0/24, a wildcard as *.example.org, or * for everyone',
      offset: Math.max(0, bad),
    };
  }
  return { kind: 'host', text, name: text.toLowerCase().replace(/\.$/, '') };
}

export function isIdentityProblem(x: ClientIdentity | IdentityProblem): x is IdentityProblem {
  return 'problem' in x;
}
