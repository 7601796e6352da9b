import type { Command } from '../command.js';
import { addNode } from './add-node.js';

/** Every subcommand, in the order `netboot --help` lists them. */
export const commands: Command[] = [
  addNode,
];
