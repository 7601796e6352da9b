import type { Command } from '../command.js';

/** Every subcommand, in the order `netboot --help` lists them. */
export const commands: Command[] = [];
