import { promises as dns } from 'node:dns';
import type { Export } from './exports-parser.js';

function within<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  return Promise.race([p.catch(() => fallback), limit]).finally(() => clearTimeout(timer));
}

async function addressesOf(name: string, ms: number): Promise<string[]> {
  const found = await within(dns.lookup(name, { all: true }), ms, []);
  return found.map((a) => a.address);
}

/**
 * The names `address` is known by, as nfs-utils establishes them: its
 * reverse name (getnameinfo, so /etc/hosts counts) if a forward lookup of it
 * gives the address back, plus every host named in `exports` whose forward
 * lookup gives the address. Each lookup is bounded by `timeoutMs`; a lookup
 * that fails or times out just contributes nothing.
 */
export async function resolveClientNames(address: string, exports: readonly Export[], timeoutMs = 2000): Promise<string[]> {
  const names = new Set<string>();
  const bare = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
  const reverse = await within(dns.lookupService(bare, 0).then((r) => r.hostname), timeoutMs, undefined);
  if (reverse && reverse !== bare && (await addressesOf(reverse, timeoutMs)).includes(bare)) names.add(reverse.toLowerCase());
  const named = new Set(exports.flatMap((e) => e.clients.flatMap((c) => (c.kind === 'host' && c.name ? [c.name] : []))));
  const resolved = await Promise.all([...named].map(async (name) => ({ name, addresses: await addressesOf(name, timeoutMs) })));
  for (const { name, addresses } of resolved) if (addresses.includes(bare)) names.add(name);
  return [...names];
}
