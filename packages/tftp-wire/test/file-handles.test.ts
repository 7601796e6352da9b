import t from 'tap';
import { readdirSync, readlinkSync } from 'node:fs';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { tftpGet, TftpServer } from '@netboot/tftp-wire';

// A storm of nodes asks for the same files at the same moment: every open file
// must be closed by the server, none left to the garbage collector, which
// closes it with a DEP0137 warning ("Closing file descriptor N on garbage
// collection") and, until it runs, holds the descriptor.

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** The files under `dir` this process (every thread) holds open. */
function openUnder(dir: string): string[] {
  const paths = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      paths.push(readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // closed since the listing
    }
  }
  return paths.filter((p) => p.startsWith(`${dir}/`));
}
/** Lets queued immediates and ticks run: a collected FileHandle warns from an immediate. */
const turn = () => new Promise((r) => setImmediate(r));

const warnings: Error[] = [];
process.on('warning', (w) => warnings.push(w));

for (const threads of [0, 2]) {
  t.test(`${threads ? `${threads} transfer threads` : 'main thread'}: concurrent first reads of the same files close every descriptor`, async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'tftp-fds-'));
    t.teardown(() => rm(root, { recursive: true, force: true }));
    const names = ['pxelinux.0', 'vmlinuz', 'initrd.img'];
    for (const [i, name] of names.entries()) await writeFile(join(root, name), Buffer.alloc(3000 + i * 1000, i + 1));
    const server = new TftpServer({ root, address: '127.0.0.1', port: 0, threads, log: () => {} });
    const { port } = await server.listen();
    // Cold cache, 20 requests per file at once: the opens overlap.
    const gets = names.flatMap((name) => Array.from({ length: 20 }, () => tftpGet(name, { host: '127.0.0.1', port, blksize: 1024 })));
    const results = await Promise.all(gets);
    t.equal(results.filter((r) => r.bytes >= 3000).length, gets.length, 'every transfer got its file');
    await server.close();
    t.same(openUnder(root), [], 'after close, no served file is still open');
    gc();
    await turn();
    await turn();
    t.same(
      warnings.filter((w) => (w as NodeJS.ErrnoException).code === 'DEP0137').map((w) => w.message),
      [],
      'no FileHandle was closed by the garbage collector',
    );
  });
}
