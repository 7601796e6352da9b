import { NodeRoots } from '@netboot/image-store';
import { type Command, UsageError, parseFlags, stringFlag } from '../command.js';

const usage = `usage: netboot node <pin|diff|reset> IP ... [--state-dir DIR]

The life cycle of an image-backed node (netboot add-node --image). Pins and
resets take effect when netboot nfs/serve next opens the node's root (its
next start).

  node pin IP GEN     keep the node on generation GEN of its image (a canary);
                      "node pin IP promoted" follows the promoted one again
  node diff IP        what the node's layer changes against its image, one line
                      a path: A added, M changed (copied up), D deleted, R a
                      directory replacing the image's
  node reset IP       drop the node's layer (keeping the hostname and fstab
                      add-node gave it)

flags:
  --state-dir DIR    where images and image-backed nodes live (default /var/lib/netboot)`;

export const node: Command = {
  name: 'node',
  summary: 'pin an image-backed node to a generation, show or reset its changes',
  usage,
  async run(argv) {
    const flags = parseFlags(argv, { 'state-dir': { type: 'string' } }, true);
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
        console.error(`netboot node: ${ip}'s layer is dropped when netboot nfs/serve next opens its root`);
        return 0;
      default:
        throw new UsageError(`unknown node command "${sub}"`);
    }
  },
};
