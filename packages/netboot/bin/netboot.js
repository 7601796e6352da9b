#!/usr/bin/env node
// The installed command. It is committed rather than built so that npm links
// it into node_modules/.bin at install time, which happens before `prepare`
// has built dist/ (a bin pointing into dist/ would be skipped).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  console.error('netboot: the command is not built yet (no dist/cli.js); run "npm run build" in the netboot checkout');
  process.exit(1);
}
await import(cli.href);
