import { fileURLToPath } from 'node:url';

/** The repository root. */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** The built `netboot` command, run with this Node. */
export const netbootCli = fileURLToPath(new URL('../../packages/netboot/dist/cli.js', import.meta.url));
