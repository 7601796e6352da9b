import { type Command, parseFlags, stringFlag, boolFlag } from '../command.js';
import type { NodeRow, NodeView } from '../observe/node-row.js';
import { DEFAULT_STATUS_URL, getJson, statusTable, watchEvents, type StatusClientOptions } from '../observe/status-client.js';
import { untilSignalled } from '../command.js';

const usage = `usage: netboot status [--json] [--watch] [--url URL] [--token T]

Every node the running server has seen boot, one row each: MAC, IP, name,
firmware (BIOS, UEFI, iPXE, HTTP Boot), image (for a node added with
--image: IMAGE:GEN, the generation it runs; "old (next boot N)" when it still
runs an old one; "pinned" for a canary), stage (off, dhcp, loader, kernel,
mounted, init, up, lost), seconds in each stage of its last boot, boot count,
and its last error or what the live doctor reads from its traffic. Asks the
status port of netboot serve --status-port N.

flags:
  --url URL     the status port (default ${DEFAULT_STATUS_URL})
  --token T     its --status-token (default: $NETBOOT_STATUS_TOKEN)
  --json        {"nodes":[{"mac","ip","stage","stages":[{"name","start","end"}],...}]}
                (times in ms since the epoch; end null for the stage under way);
                "image": {"name","generation","next","promoted","pinned","old"}
                or null
  --watch       keep the table up to date as nodes change (Ctrl-C ends it);
                with --json, one {"node":...} line per change`;

function toRow(n: NodeView): NodeRow {
  return { ...n, stages: n.stages };
}

export const status: Command = {
  name: 'status',
  summary: "every node's boot, stage by stage, from the running server (--json, --watch)",
  usage,
  async run(argv) {
    const flags = parseFlags(argv, { url: { type: 'string' }, token: { type: 'string' }, json: { type: 'boolean' }, watch: { type: 'boolean' } });
    const o: StatusClientOptions = { url: stringFlag(flags, 'url') ?? DEFAULT_STATUS_URL, token: stringFlag(flags, 'token') ?? process.env.NETBOOT_STATUS_TOKEN };
    const json = boolFlag(flags, 'json');
    const first = await getJson<{ now: number; nodes: NodeView[] }>(o, '/api/nodes');
    if (json) console.log(JSON.stringify({ nodes: first.nodes }));
    else console.log(statusTable(first.nodes.map(toRow), first.now));
    if (!boolFlag(flags, 'watch')) return 0;

    const rows = new Map(first.nodes.map((n) => [n.key, toRow(n)]));
    const stop = new AbortController();
    void untilSignalled().then(() => stop.abort());
    let pending: NodeJS.Timeout | undefined;
    const redraw = () => {
      pending = undefined;
      // Clear the screen and home the cursor, then the table as it stands.
      process.stdout.write(`\x1b[2J\x1b[H${statusTable([...rows.values()], Date.now())}\n`);
    };
    await watchEvents(o, stop.signal, (row) => {
      rows.set(row.key, row);
      if (json) console.log(JSON.stringify({ node: row }));
      else pending ??= setTimeout(redraw, 250);
    });
    clearTimeout(pending);
    return 0;
  },
};
