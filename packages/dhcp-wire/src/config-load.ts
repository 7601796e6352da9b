import { lookup as dnsLookup } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import { ConfigError } from './config-lexer.js';
import type { DhcpConfig } from './config-model.js';
import { parseConfig } from './config-parser.js';
import { parseIpv4 } from './ipv4.js';

/** Resolves a host name to one IPv4 address (node:dns lookup by default: /etc/hosts, then DNS, as dhcpd's gethostbyname). */
export type NameLookup = (name: string) => Promise<string>;

const defaultLookup: NameLookup = async (name) => (await dnsLookup(name, { family: 4 })).address;

/**
 * Puts the address of every host name the file wrote where an address goes
 * (next-server, fixed-address, ip-address options), as dhcpd does when it
 * reads the file. A name that does not resolve is a ConfigError naming it at
 * its file:line:column. Each distinct name is looked up once.
 */
export async function resolveConfigNames(config: DhcpConfig, lookup: NameLookup = defaultLookup): Promise<void> {
  const answers = new Map<string, Promise<string>>();
  for (const n of config.names) {
    let answer = answers.get(n.name);
    if (!answer) {
      answer = lookup(n.name);
      answers.set(n.name, answer);
    }
    let address: number | undefined;
    try {
      address = parseIpv4(await answer);
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      throw new ConfigError(n.pos, `the host name "${n.name}" does not resolve (${why}): write its IPv4 address, or add it to /etc/hosts or DNS`);
    }
    if (address === undefined) throw new ConfigError(n.pos, `the host name "${n.name}" did not resolve to an IPv4 address: write the address instead`);
    n.assign(address);
  }
  config.names = [];
}

/** Reads a dhcpd.conf with its includes and resolves its host names: what a server loads at start and on reload. */
export async function loadConfigFile(path: string, opts: { lookup?: NameLookup } = {}): Promise<DhcpConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as Error).message}`);
  }
  const config = parseConfig(text, path);
  await resolveConfigNames(config, opts.lookup);
  return config;
}

/**
 * The start-up listing of what the file holds that has no effect here: one
 * line per kind of statement, where it first appears and how often.
 */
export function describeIgnored(config: DhcpConfig): string[] {
  const seen = new Map<string, { first: string; count: number; why: string }>();
  for (const s of config.ignored) {
    const e = seen.get(s.statement);
    if (e) e.count++;
    else seen.set(s.statement, { first: `${s.pos.file}:${s.pos.line}`, count: 1, why: s.why });
  }
  return [...seen].map(([statement, e]) => `${e.first}: ${statement}${e.count > 1 ? ` (and ${e.count - 1} more)` : ''}: read, has no effect here, because ${e.why}`);
}
