// NFSv3 throughput over TCP on loopback: our client against our server.
// usage: node bench/nfs3.js [MiB=256] [depth=8]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RpcServer } from '@netboot/oncrpc-xdr';
import { NfsClient, NfsServer, StableHow } from '@netboot/nfs3';

const mib = Number(process.argv[2] ?? 256);
const depth = Number(process.argv[3] ?? 8);
const dir = await mkdtemp(join(tmpdir(), 'nfs3-bench-'));
const options = { rw: true, rootSquash: false, allSquash: false, anonuid: 65534, anongid: 65534, secure: false };
const server = await NfsServer.create({ exports: [{ id: 1, path: dir, optionsFor: () => options }], handleKey: Buffer.alloc(32, 1) });
const rpc = new RpcServer({ log: () => {} });
server.register(rpc);
const port = await rpc.listen({ host: '127.0.0.1', port: 0 });
const cred = { flavor: 1, stamp: 0, machine: 'bench', uid: 0, gid: 0, gids: [] };
const c = await NfsClient.connect({ host: '127.0.0.1', port, transport: 'tcp', cred, timeoutMs: 60_000 });
const root = server.rootHandle(dir);
const made = await c.create(root, 'file');
const fh = made.object;
const chunk = Buffer.alloc(1024 * 1024, 0xa5);

async function pipelined(n, op) {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const r = await op(i);
      if (r.status !== 0) throw new Error(`status ${r.status}`);
    }
  };
  await Promise.all(Array.from({ length: depth }, worker));
}

let t0 = performance.now();
await pipelined(mib, (i) => c.write(fh, BigInt(i) * 1048576n, chunk, StableHow.UNSTABLE));
await c.commit(fh);
const writeS = (performance.now() - t0) / 1000;
t0 = performance.now();
await pipelined(mib, (i) => c.read(fh, BigInt(i) * 1048576n, 1048576));
const readS = (performance.now() - t0) / 1000;
t0 = performance.now();
const ops = 20000;
await pipelined(ops, () => c.getattr(fh));
const getattrS = (performance.now() - t0) / 1000;
console.log(`WRITE 1 MiB UNSTABLE x${mib} + COMMIT, depth ${depth}: ${(mib / writeS).toFixed(0)} MiB/s`);
console.log(`READ 1 MiB x${mib}, depth ${depth}: ${(mib / readS).toFixed(0)} MiB/s`);
console.log(`GETATTR x${ops}, depth ${depth}: ${(ops / getattrS).toFixed(0)} calls/s`);
c.close();
server.close();
await rpc.close();
await rm(dir, { recursive: true, force: true });
