#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { commands } from './commands/index.js';
import { UsageError } from './command.js';
import { platformLines } from './platform-line.js';

function overview(): string {
  const width = Math.max(0, ...commands.map((c) => c.name.length));
  return [
    'usage: netboot <command> [flags]',
    '',
    'Serves the diskless boot path (DHCP/BOOTP, TFTP, portmap, mountd, NFSv3) from one process.',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run "netboot <command> --help" for the flags of each command, "netboot --version" for the version',
    'and whether the native platform module is in use.',
  ].join('\n');
}

/** The version of the installed package, read from its package.json (which npm always ships). */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(overview());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    console.log(version());
    console.log(platformLines()[0]);
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    console.error(`netboot: unknown command "${name}"\n\n${overview()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.usage);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`netboot ${name}: ${err.message}\n\n${command.usage}`);
      return 2;
    }
    console.error(`netboot ${name}: ${(err as Error).message}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
