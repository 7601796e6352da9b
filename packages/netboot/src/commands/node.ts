import { NodeRoots, type RebaseResolution } from '@netboot/image-store';
import { type Command, UsageError, boolFlag, parseFlags, stringFlag } from '../command.js';

const usage = `usage: netboot node <pin|diff|reset|rebase> IP ... [--state-dir DIR]

The life cycle of an image-backed node (netboot add-node --image). A node
runs the generation it booted until it boots again; its next boot (its next
MOUNT of its root) gets its pin or the image's promoted generation, and
applies a reset or rebase waiting for it. A running node is never changed.

  node pin IP GEN       boot the node on generation GEN of its image (a canary);
                        "node pin IP promoted" follows the promoted one again
  node diff IP          what the node's layer changes against the generation it
                        runs, one line a path: A added, M changed (copied up),
                        D deleted, R a directory replacing the image's
  node reset IP         drop the node's layer at its next boot (keeping the
                        hostname and fstab add-node gave it)
  node rebase IP [GEN]  keep the node's changes over generation GEN (default:
                        the promoted one; a GEN given pins the node to it) from
                        its next boot. Lists conflicts, "C path" a line: files
                        the node changed that also changed between the two
                        generations. With conflicts nothing changes and the exit
                        code is 1, unless --keep-node (the node's versions stay)
                        or --take-image (GEN's versions replace the node's)

flags:
  --state-dir DIR    where images and image-backed nodes live (default /var/lib/netboot)
  --keep-node        rebase: settle conflicts for the node's versions
  --take-image       rebase: settle conflicts for the new generation's versions`;

export const node: Command = {
  name: 'node',
  summary: "pin an image-backed node to a generation, show, reset or rebase its changes",
  usage,
  async run(argv) {
    const flags = parseFlags(argv, { 'state-dir': { type: 'string' }, 'keep-node': { type: 'boolean' }, 'take-image': { type: 'boolean' } }, true);
    const roots = new NodeRoots(stringFlag(flags, 'state-dir') ?? '/var/lib/netboot');
    const [sub, ip, ...rest] = flags.positionals;
    if (!ip) throw new UsageError(sub === undefined ? 'which node command?' : `usage: netboot node ${sub} IP`);
    switch (sub) {
      case 'pin': {
        const gen = rest[0];
        const n = Number(gen);
        if (rest.length !== 1 || (gen !== 'promoted' && (!Number.isInteger(n) || n < 1))) throw new UsageError('usage: netboot node pin IP GEN (a generation number, or "promoted")');
        await roots.pin(ip, gen === 'promoted' ? undefined : n);
        return 0;
      }
      case 'diff':
        if (rest.length > 0) throw new UsageError('usage: netboot node diff IP');
        for (const c of await roots.diff(ip)) console.log(`${c.kind} /${c.path}`);
        return 0;
      case 'reset':
        if (rest.length > 0) throw new UsageError('usage: netboot node reset IP');
        await roots.reset(ip);
        console.error(`netboot node: ${ip}'s layer is dropped at its next boot`);
        return 0;
      case 'rebase': {
        const n = Number(rest[0]);
        if (rest.length > 1 || (rest.length === 1 && (!Number.isInteger(n) || n < 1))) throw new UsageError('usage: netboot node rebase IP [GEN] [--keep-node | --take-image]');
        if (boolFlag(flags, 'keep-node') && boolFlag(flags, 'take-image')) throw new UsageError('give --keep-node or --take-image, not both');
        const resolution: RebaseResolution | undefined = boolFlag(flags, 'keep-node') ? 'keep-node' : boolFlag(flags, 'take-image') ? 'take-image' : undefined;
        const plan = await roots.rebase(ip, rest.length === 1 ? n : undefined, resolution);
        for (const c of plan.conflicts) console.log(`C /${c}`);
        const between = `between generations ${plan.from} and ${plan.to}`;
        if (!plan.applied) {
          console.error(
            `netboot node rebase: ${plan.conflicts.length} file(s) ${ip} changed also changed ${between} (listed above); nothing was changed.\n` +
              `Run again with --keep-node to keep the node's versions over generation ${plan.to}, or --take-image to take generation ${plan.to}'s.`,
          );
          return 1;
        }
        const settled = plan.conflicts.length === 0 ? 'no conflicts' : `${plan.conflicts.length} conflict(s) settled for ${resolution === 'keep-node' ? "the node's versions" : `generation ${plan.to}'s versions`}`;
        console.error(`netboot node rebase: ${ip} boots generation ${plan.to} with its changes at its next boot (${settled} ${between})`);
        return 0;
      }
      default:
        throw new UsageError(`unknown node command "${sub}"`);
    }
  },
};
