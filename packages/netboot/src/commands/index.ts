import type { Command } from '../command.js';
import { addNode } from './add-node.js';
import { pxelinux } from './pxelinux.js';

/** Every subcommand, in the order `netboot --help` lists them. */
export const commands: Command[] = [
  pxelinux,
  addNode,
];
