import { formatIpv4, type DhcpConfig } from '@netboot/dhcp-wire';

/**
 * What two masters sharing one lease database must agree on: the subnets,
 * their ranges (a range only one of them has is handed out by one only, and
 * its leases look out of range to the other) and the fixed hosts (a host the
 * other does not know gets a pool address from it, or nothing). Each
 * difference says which file has what.
 */
export function peerDifferences(mine: DhcpConfig, peer: DhcpConfig): string[] {
  const out: string[] = [];
  const subnets = (c: DhcpConfig) => new Map(c.subnets.map((s) => [`${formatIpv4(s.network)}/${formatIpv4(s.mask)}`, s]));
  const a = subnets(mine);
  const b = subnets(peer);
  const ranges = (s: DhcpConfig['subnets'][number]) =>
    s.ranges.map((r) => `${r.dynamicBootp ? 'dynamic-bootp ' : ''}${formatIpv4(r.start)}-${formatIpv4(r.end)}`).sort().join(', ') || 'none';
  for (const [key, s] of a) {
    const other = b.get(key);
    if (!other) out.push(`subnet ${key} is in ${mine.file} only`);
    else if (ranges(s) !== ranges(other)) out.push(`subnet ${key}: ranges ${ranges(s)} in ${mine.file}, ${ranges(other)} in ${peer.file}`);
  }
  for (const key of b.keys()) if (!a.has(key)) out.push(`subnet ${key} is in ${peer.file} only`);
  const hosts = (c: DhcpConfig) => {
    const m = new Map<string, string>();
    for (const h of c.hosts) if (h.mac) m.set(h.mac, h.fixedAddresses.map(formatIpv4).sort().join(', ') || 'no fixed address');
    return m;
  };
  const ha = hosts(mine);
  const hb = hosts(peer);
  for (const [mac, fixed] of ha) {
    const other = hb.get(mac);
    if (other === undefined) out.push(`host ${mac} (${fixed}) is in ${mine.file} only`);
    else if (other !== fixed) out.push(`host ${mac}: ${fixed} in ${mine.file}, ${other} in ${peer.file}`);
  }
  for (const [mac, fixed] of hb) if (!ha.has(mac)) out.push(`host ${mac} (${fixed}) is in ${peer.file} only`);
  return out;
}
