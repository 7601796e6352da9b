import { formatIpv4, parseIpv4 } from './ipv4.js';
import type { Lease } from './lease.js';

/*
 * The lease file is a log of text lines, one per committed change, later
 * lines overriding earlier ones for the same address:
 *
 *   lease <ip> <client-key hex> <mac> <start ms> <end ms | inf> <active|released|abandoned>
 *
 * A crash can only tear the last line (it has no newline yet); readers drop it.
 */

export function formatLease(l: Lease): string {
  return `lease ${formatIpv4(l.ip)} ${l.client} ${l.mac} ${l.start} ${l.end === Infinity ? 'inf' : l.end} ${l.state}\n`;
}

const STATES = new Set(['active', 'released', 'abandoned']);

/** One line → a lease, or undefined when the line is not a lease record. */
export function parseLease(line: string): Lease | undefined {
  const f = line.split(' ');
  if (f.length !== 7 || f[0] !== 'lease') return undefined;
  const ip = parseIpv4(f[1]);
  const start = Number(f[4]);
  const end = f[5] === 'inf' ? Infinity : Number(f[5]);
  if (ip === undefined || !/^[0-9a-z-]+$/.test(f[2]) || !Number.isFinite(start) || Number.isNaN(end) || !STATES.has(f[6])) return undefined;
  return { ip, client: f[2], mac: f[3], start, end, state: f[6] as Lease['state'] };
}

/** Every complete record in a lease file's text, in order, and how many lines were unreadable. */
export function parseLeaseFile(text: string): { leases: Lease[]; bad: number } {
  const lines = text.split('\n');
  lines.pop(); // the text after the last newline: empty, or a record torn by a crash
  const leases: Lease[] = [];
  let bad = 0;
  for (const line of lines) {
    if (line === '' || line.startsWith('#')) continue;
    const l = parseLease(line);
    if (l) leases.push(l);
    else bad++;
  }
  return { leases, bad };
}
