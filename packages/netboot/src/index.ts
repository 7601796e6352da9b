export { commands } from './commands/index.js';
export type { Command } from './command.js';
