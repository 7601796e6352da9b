import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';
import { run, start, type Running } from './processes.js';

/*
 * Asking ISC dhcpd and netboot dhcp the same questions and comparing their
 * answers option by option: the clients (dhcp-probe.mjs) play BIOS PXE, UEFI
 * PXE, iPXE, UEFI HTTP Boot and plain DHCP clients through a relay address,
 * so each server answers a unicast exchange on a link the test owns.
 */

export type ClientKind = 'bios' | 'uefi' | 'ipxe' | 'http' | 'plain' | 'minimal' | 'nolist';
export const CLIENT_KINDS: ClientKind[] = ['bios', 'uefi', 'ipxe', 'http', 'plain'];

export interface ProbeClient {
  mac: string;
  kind: ClientKind;
  /** An address to ask for in the DISCOVER (option 50): netboot is asked for the one ISC chose. */
  request?: string;
}

export interface ProbeReply {
  type: number;
  yiaddr: string;
  siaddr: string;
  sname: string;
  file: string;
  options: [number, string][];
}

export interface ProbeResult {
  offer: ProbeReply | null;
  ack: ProbeReply | null;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

const probeScript = join(repoRoot, 'test/support/dhcp-probe.mjs');

/** Runs the clients one after the other from namespace `ns` (whose address is `relay`) against `server`. */
export async function probe(ns: string, server: string, relay: string, clients: ProbeClient[]): Promise<ProbeResult[]> {
  // Each exchange waits at most 3 x 3 s; a dhcpd ping-check adds a second per new address.
  const r = await run(process.execPath, [probeScript, server, relay, JSON.stringify(clients)], { ns, timeoutMs: 20_000 + clients.length * 20_000 });
  if (r.code !== 0) throw new Error(`dhcp-probe failed (${r.code ?? r.signal}${r.timedOut ? ', timed out' : ''}): ${r.stderr}`);
  return JSON.parse(r.stdout) as ProbeResult[];
}

/**
 * Starts ISC dhcpd in the foreground (-d: log to stderr) on `iface` with
 * `conf`, in `cwd` (dhcpd opens relative include paths from its working
 * directory), and waits until it serves.
 */
export async function startIscDhcpd(t: Teardown, dhcpd: string, ns: string, iface: string, conf: string, dir: string, cwd: string): Promise<Running> {
  const leases = join(dir, 'isc.leases');
  writeFileSync(leases, '');
  const server = start(t, dhcpd, ['-4', '-d', '-cf', conf, '-lf', leases, '-pf', join(dir, 'isc.pid'), iface], { ns, cwd });
  await server.waitFor(/Server starting service\./, 30_000);
  return server;
}

const LEASE_TIME = 51;

/**
 * Lease times are counted from when each server answered: ISC tells a client that already holds a lease
 * the time left on it, which is a second short when a second boundary fell between its lease and its
 * reply. A lease without end is told as lasting until 2038: a few seconds apart.
 */
function sameLeaseTime(a: string, b: string): boolean {
  const x = parseInt(a, 16);
  const y = parseInt(b, 16);
  return Math.abs(x - y) <= 1 || (x > 0x10000000 && Math.abs(x - y) < 600);
}

/**
 * What differs between ISC's reply and netboot's, one line per field or
 * option (empty when they match): message type, addresses, file, sname, the
 * set of options and each option's bytes, and the order of the options.
 */
export function replyDifferences(what: string, isc: ProbeReply | null, nb: ProbeReply | null): string[] {
  if (!isc || !nb) return isc === nb ? [] : [`${what}: ISC ${isc ? `sent type ${isc.type}` : 'sent nothing'}, netboot ${nb ? `sent type ${nb.type}` : 'sent nothing'}`];
  const out: string[] = [];
  for (const f of ['type', 'yiaddr', 'siaddr', 'sname', 'file'] as const) {
    if (isc[f] !== nb[f]) out.push(`${what}: ${f} ISC ${JSON.stringify(isc[f])}, netboot ${JSON.stringify(nb[f])}`);
  }
  const a = new Map(isc.options);
  const b = new Map(nb.options);
  for (const [code, data] of a) {
    if (code === LEASE_TIME && b.has(code) && sameLeaseTime(data, b.get(code)!)) continue;
    if (!b.has(code)) out.push(`${what}: option ${code} ISC ${data}, netboot does not send it`);
    else if (b.get(code) !== data) out.push(`${what}: option ${code} ISC ${data}, netboot ${b.get(code)}`);
  }
  for (const [code, data] of b) if (!a.has(code)) out.push(`${what}: option ${code} netboot ${data}, ISC does not send it`);
  const order = (r: ProbeReply) => r.options.map(([c]) => c).filter((c) => a.has(c) && b.has(c));
  if (out.length === 0 && order(isc).join(',') !== order(nb).join(',')) {
    out.push(`${what}: option order ISC ${isc.options.map(([c]) => c).join(',')}, netboot ${nb.options.map(([c]) => c).join(',')}`);
  }
  return out;
}
