import { parseFlags, stringFlag } from '../command.js';
import type { NodeView } from '../observe/node-row.js';
import { DEFAULT_STATUS_URL, getJson } from '../observe/status-client.js';

export const doctorLiveUsage = `usage: netboot doctor --live [--url URL] [--token T]

Explains stuck boots from the traffic the running server sees (netboot serve
--status-port): DISCOVERs whose OFFER is never REQUESTed (a second DHCP server,
the wrong subnet), TFTP timeouts at one block size (lower --blksize-max), a
boot file for the wrong architecture, a refused MOUNT and the exports line
that decided it, an NFSv2 client, a node silent after MOUNT (stuck in its
initramfs), a reboot loop. Exit status 1 when a node has a finding.

flags:
  --url URL   the status port (default ${DEFAULT_STATUS_URL})
  --token T   its --status-token (default: $NETBOOT_STATUS_TOKEN)`;

/** `netboot doctor --live`: the live doctor's findings, node by node. */
export async function doctorLive(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, { live: { type: 'boolean' }, url: { type: 'string' }, token: { type: 'string' } });
  const o = { url: stringFlag(flags, 'url') ?? DEFAULT_STATUS_URL, token: stringFlag(flags, 'token') ?? process.env.NETBOOT_STATUS_TOKEN };
  const { nodes } = await getJson<{ nodes: NodeView[] }>(o, '/api/nodes');
  const sick = nodes.filter((n) => n.diagnosis.length > 0).sort((a, b) => a.key.localeCompare(b.key));
  for (const n of sick) {
    console.log(`${n.mac ?? '-'} ${n.ip ?? '-'}${n.name ? ` (${n.name})` : ''}: ${n.stage}${n.lostFrom ? ` from ${n.lostFrom}` : ''}, boot ${n.bootCount}`);
    for (const d of n.diagnosis) console.log(`  ${d.code}: ${d.text}`);
  }
  console.log(`${nodes.length} nodes seen, ${sick.length} with a finding`);
  return sick.length > 0 ? 1 : 0;
}
