import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadExports, matchClient } from '@netboot/mountd';

const dir = await mkdtemp(join(tmpdir(), 'exports-example-'));
const file = join(dir, 'exports');
await writeFile(file, '/diskless/198.18.1.21  198.18.1.21(rw,no_root_squash,sync)\n/usr  198.18.1.0/24(ro)\n');

// Errors name file:line:column; what nfs-utils only warns about goes to `warn`.
const exports = await loadExports(file, { warn: (w) => console.warn(w.message) });
for (const exp of exports) {
  const options = matchClient(exp, '198.18.1.21'); // the options this client gets, or undefined
  console.log(exp.path, options ? (options.rw ? 'rw' : 'ro') : 'not exported to it');
}

await rm(dir, { recursive: true });
