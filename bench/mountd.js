// mountd: exports parsing and MNT round trips over loopback.
// Run after a build: node bench/mountd.js
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RpcServer } from '@netboot/oncrpc-xdr';
import { MountClient, Mountd, matchClient, parseExports } from '@netboot/mountd';

const NODES = 2000;
const lines = [];
for (let i = 0; i < NODES; i++) {
  const ip = `198.18.${(i >> 8) & 0xff}.${i & 0xff}`;
  lines.push(`/diskless/${ip} ${ip}(rw,sync,no_root_squash,no_subtree_check)`);
}
lines.push('/usr 198.18.0.0/15(ro,sync) *.cluster(ro)', '/home 198.18.0.0/15(rw,sync,root_squash)');
const text = lines.join('\n');

let t0 = process.hrtime.bigint();
const ROUNDS = 20;
let exports;
for (let r = 0; r < ROUNDS; r++) exports = parseExports(text, 'bench');
let ms = Number(process.hrtime.bigint() - t0) / 1e6 / ROUNDS;
console.log(`parseExports: ${NODES + 2} lines in ${ms.toFixed(2)} ms`);

const usr = exports.find((e) => e.path === '/usr');
const N = 200_000;
t0 = process.hrtime.bigint();
for (let i = 0; i < N; i++) matchClient(usr, `198.18.${i & 0xff}.${(i >> 8) & 0xff}`);
ms = Number(process.hrtime.bigint() - t0) / 1e6;
console.log(`matchClient: ${Math.round(N / (ms / 1000))} matches/s`);

const root = mkdtempSync(join(tmpdir(), 'mountd-bench-'));
mkdirSync(join(root, 'usr'));
const benchExports = parseExports(`${root}/usr 127.0.0.0/8(ro,insecure)`, 'bench');
const server = new RpcServer({ log: () => {} });
const handle = Buffer.alloc(28, 7);
new Mountd({ exports: benchExports, rootHandle: async () => handle, log: () => {} }).register(server);
const port = await server.listen({ host: '127.0.0.1', port: 0 });
for (const transport of ['udp', 'tcp']) {
  const client = await MountClient.connect({ host: '127.0.0.1', port, transport });
  const CALLS = 5000;
  const IN_FLIGHT = 16;
  t0 = process.hrtime.bigint();
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next++ < CALLS) await client.mnt(`${root}/usr`);
    }),
  );
  ms = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(`MNT over ${transport}, ${IN_FLIGHT} in flight: ${Math.round(CALLS / (ms / 1000))} calls/s`);
  client.close();
}
await server.close();
rmSync(root, { recursive: true, force: true });
