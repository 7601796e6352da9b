import { pxelinuxConfigNames, findPxelinuxConfig } from '@netboot/tftp-wire';
import { type Command, UsageError, parseFlags, stringFlag } from '../command.js';

const usage = `usage: netboot pxelinux MAC IP [--root DIR]

Prints the config file names pxelinux asks for, in order, for a node with
this Ethernet address and IPv4 address; with --root, marks the one it gets
from that TFTP root (the first that exists).

flags:
  --root DIR   the TFTP root to look in (as netboot tftp --root / in.tftpd -s)`;

export const pxelinux: Command = {
  name: 'pxelinux',
  summary: 'the config names pxelinux will try for a node, and which one it gets',
  usage,
  async run(argv) {
    const flags = parseFlags(argv, { root: { type: 'string' } }, true);
    const [mac, ip, ...extra] = flags.positionals;
    if (!mac || !ip || extra.length > 0) throw new UsageError('give the node\'s MAC and IP address');
    let names: string[];
    try {
      names = pxelinuxConfigNames(mac, ip);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const root = stringFlag(flags, 'root');
    const found = root ? await findPxelinuxConfig(root, mac, ip) : undefined;
    for (const name of names) console.log(name === found ? `${name}  <- found: pxelinux uses this one` : name);
    if (root && !found) {
      console.log(`none of these exists under ${root}: pxelinux will fail to find a config; create ${root}/pxelinux.cfg/default`);
      return 1;
    }
    return 0;
  },
};
