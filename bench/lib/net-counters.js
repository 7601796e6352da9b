// The kernel's drop counters of one network namespace, for the boot storm:
// a node that retries DHCP or TFTP was either answered late or had a
// datagram dropped, and these say which socket dropped it (a server's
// receive buffer, the clients' own, a listen queue) so a retry is charged
// to the side that caused it.
import { sh } from './processes.js';

/** The counters we report: name in the output, file section, field. */
const FIELDS = [
  ['udpRcvbufErrors', 'Udp', 'RcvbufErrors'],
  ['udpSndbufErrors', 'Udp', 'SndbufErrors'],
  ['udpInErrors', 'Udp', 'InErrors'],
  ['tcpListenOverflows', 'TcpExt', 'ListenOverflows'],
  ['tcpListenDrops', 'TcpExt', 'ListenDrops'],
  ['tcpRetransSegs', 'Tcp', 'RetransSegs'],
  // What the retransmits were: probes sent when a tail segment went unacknowledged for about two round
  // trips (TLP), retransmission timeouts, and how many the peer reported as duplicates (D-SACK: the
  // first copy had arrived, so the retransmit was spurious, a late ACK rather than a loss).
  ['tcpLossProbes', 'TcpExt', 'TCPLossProbes'],
  ['tcpTimeouts', 'TcpExt', 'TCPTimeouts'],
  ['tcpDsackRecv', 'TcpExt', 'TCPDSACKRecv'],
  ['tcpSpuriousRtos', 'TcpExt', 'TCPSpuriousRTOs'],
  // Segments a receiving socket dropped: its receive queue or backlog full, out-of-order queue pruned.
  ['tcpRcvQDrop', 'TcpExt', 'TCPRcvQDrop'],
  ['tcpBacklogDrop', 'TcpExt', 'TCPBacklogDrop'],
  ['tcpOfoDrop', 'TcpExt', 'TCPOFODrop'],
  ['tcpZeroWindowDrop', 'TcpExt', 'TCPZeroWindowDrop'],
];

/** /proc/net/snmp and /proc/net/netstat: pairs of lines "Section: names" and "Section: values". */
function parse(text) {
  const out = {};
  const lines = text.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    const [head, ...names] = lines[i].split(/\s+/);
    const [head2, ...nums] = lines[i + 1].split(/\s+/);
    if (!head.endsWith(':') || head !== head2 || !/^\d/.test(nums[0] ?? '')) continue;
    const sect = (out[head.slice(0, -1)] ??= {});
    names.forEach((n, k) => (sect[n] = Number(nums[k])));
    i++;
  }
  return out;
}

/** The counters of `ns` now (zeros when they cannot be read: a missing counter is not a drop). */
export function netCounters(ns) {
  const r = sh('ip', ['netns', 'exec', ns, 'cat', '/proc/net/snmp', '/proc/net/netstat']);
  const p = r.status === 0 ? parse(r.stdout) : {};
  return Object.fromEntries(FIELDS.map(([name, sect, field]) => [name, p[sect]?.[field] ?? 0]));
}

/** What happened between two readings. */
export function countersSince(before, after) {
  return Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - (before[k] ?? 0)]));
}
