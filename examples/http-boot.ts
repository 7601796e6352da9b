import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpBootServer } from '@netboot/http-boot';

const root = await mkdtemp(join(tmpdir(), 'http-boot-example-'));
await writeFile(join(root, 'vmlinuz'), Buffer.alloc(100_000, 1));

// Serves `root` read-only; `..` and symlinks leading out of it are refused (403).
const server = new HttpBootServer({ root, address: '127.0.0.1', port: 0, accessLog: (line) => console.log(line) });
const { port } = await server.listen();

const res = await fetch(`http://127.0.0.1:${port}/vmlinuz`, { headers: { Range: 'bytes=0-1023' } });
console.log(res.status, res.headers.get('content-range'), (await res.arrayBuffer()).byteLength);

await server.close();
await rm(root, { recursive: true });
