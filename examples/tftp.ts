import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TftpServer, tftpGet } from '@netboot/tftp-wire';

const root = await mkdtemp(join(tmpdir(), 'tftp-example-'));
await writeFile(join(root, 'pxelinux.0'), Buffer.alloc(40_000, 1));

// Serves `root` read-only; nothing outside it (symlinks included) is reachable.
const server = new TftpServer({ root, address: '127.0.0.1', port: 0, threads: 0, log: () => {} });
const { port } = await server.listen();

const got = await tftpGet('pxelinux.0', { host: '127.0.0.1', port, blksize: 1468, tsize: true });
console.log(`fetched ${got.bytes} bytes with blksize ${got.settings.blksize} in ${got.ms.toFixed(1)} ms`);

await server.close();
await rm(root, { recursive: true });
