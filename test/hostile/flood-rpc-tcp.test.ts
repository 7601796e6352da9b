import t from 'tap';
import net from 'node:net';
import { encodeRpcMessage, recordMark } from '@netboot/oncrpc-xdr';
import { PortmapClient } from '@netboot/portmap';
import { start } from '../support/processes.js';
import { netbootCli } from '../support/paths.js';
import { rssMiB } from './proc-rss.js';

// Hostile TCP clients of an RPC port (`netboot portmap` on loopback, the
// same RpcServer every RPC service here runs on): thousands of idle
// connections, a record-marking header claiming 2 GiB, a slowloris sending a
// byte at a time, a client that never reads its replies. Each costs only its
// own connection: memory stays bounded and a legitimate client is served
// throughout. The server's RSS under each load is printed.

const IDLE = Number(process.env.HOSTILE_IDLE_CONNECTIONS ?? 5000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const server = start(t, process.execPath, [netbootCli, 'portmap', '--listen', '127.0.0.1', '--port', '0']);
let port = 0;
const figures: string[] = [];
t.teardown(() => {
  for (const f of figures) console.log(`# ${f}`);
});

t.before(async () => {
  port = Number((await server.waitFor(/listening on 127\.0\.0\.1 port (\d+)/))[1]);
});

/** A legitimate client: a fresh TCP connection, GETPORT of the portmapper itself. */
async function legit(): Promise<number> {
  const pm = await PortmapClient.connect({ host: '127.0.0.1', port, transport: 'tcp', timeoutMs: 5000 });
  try {
    return await pm.getport(100000, 2, 'tcp');
  } finally {
    pm.close();
  }
}

const nullCall = (xid: number) => {
  const msg = encodeRpcMessage({ type: 0, xid, rpcvers: 2, prog: 100000, vers: 2, proc: 0, cred: { flavor: 0, body: Buffer.alloc(0) }, verf: { flavor: 0, body: Buffer.alloc(0) } });
  return Buffer.concat([recordMark(msg.length), msg]);
};

function connect(): Promise<net.Socket | undefined> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => resolve(s));
    s.once('error', () => resolve(undefined));
    s.setTimeout(10_000, () => s.destroy());
  });
}

t.test(`${IDLE} idle TCP connections`, async (t) => {
  const before = rssMiB(server.pid);
  const sockets: net.Socket[] = [];
  t.teardown(() => sockets.forEach((s) => s.destroy()));
  let closedByServer = 0;
  for (let i = 0; i < IDLE; i += 250) {
    const batch = await Promise.all(Array.from({ length: Math.min(250, IDLE - i) }, connect));
    for (const s of batch) {
      if (!s) continue;
      s.on('close', () => closedByServer++);
      s.on('error', () => {});
      s.setTimeout(0);
      sockets.push(s);
    }
  }
  // Answered after the server has accepted (or closed) every connection before it.
  const first = await legit();
  const held = sockets.length - closedByServer;
  const under = rssMiB(server.pid);
  t.equal(first, port, `a new legitimate client is served while ${held} idle connections are open`);
  t.equal(await legit(), port, 'and another');
  t.ok(under - before < 200, `RSS ${before.toFixed(1)} -> ${under.toFixed(1)} MiB`);
  figures.push(`flood: ${IDLE} idle TCP connections opened, ${held} held by the server, ${closedByServer} closed by it; RSS ${before.toFixed(1)} -> ${under.toFixed(1)} MiB; legitimate GETPORT served`);
});

t.test('a record-marking header claiming 2 GiB', async (t) => {
  const before = rssMiB(server.pid);
  const s = (await connect())!;
  const closed = new Promise<void>((r) => s.once('close', () => r()));
  s.on('error', () => {});
  const header = Buffer.alloc(4);
  header.writeUInt32BE(0xffffffff);
  s.write(Buffer.concat([header, Buffer.alloc(64 * 1024, 0x41)]));
  const legitWhile = await legit();
  await Promise.race([closed, sleep(5000)]);
  t.ok(s.destroyed || s.readyState === 'closed', 'the server closed that connection');
  t.equal(legitWhile, port, 'a legitimate client is served meanwhile');
  await server.waitFor(/rpc: closing TCP connection from 127\.0\.0\.1:\d+: [^\n]*exceed/);
  const after = rssMiB(server.pid);
  t.ok(after - before < 64, `no allocation for the claimed 2 GiB: RSS ${before.toFixed(1)} -> ${after.toFixed(1)} MiB`);
  figures.push(`flood: 2 GiB record header: connection closed, RSS ${before.toFixed(1)} -> ${after.toFixed(1)} MiB`);
});

t.test('a slowloris client, one byte at a time', async (t) => {
  const s = (await connect())!;
  s.on('error', () => {});
  const call = nullCall(0x510);
  let sent = 0;
  let served = 0;
  // One byte of the slowloris's call, then a legitimate call, twenty times: each is served with the call half sent.
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => s.write(call.subarray(sent, ++sent), r));
    if ((await legit()) === port) served++;
  }
  t.equal(served, 20, `20 legitimate calls served while the slowloris sent ${sent} bytes`);
  s.destroy();
  figures.push(`flood: slowloris (${sent} bytes, one between legitimate calls): 20/20 legitimate calls served, RSS ${rssMiB(server.pid).toFixed(1)} MiB`);
});

t.test('a client that never reads its replies', async (t) => {
  const before = rssMiB(server.pid);
  const s = (await connect())!;
  s.on('error', () => {});
  s.pause();
  const calls = Buffer.concat(Array.from({ length: 1000 }, (_, i) => nullCall(0x9000 + i)));
  let written = 0;
  // Write until our own send buffer is full too, for at most 3 s: the server must stop reading, not buffer replies without end.
  const until = Date.now() + 3000;
  while (Date.now() < until) {
    if (!s.write(calls)) {
      await Promise.race([new Promise((r) => s.once('drain', r)), sleep(200)]);
    }
    written += calls.length;
  }
  const under = rssMiB(server.pid);
  t.equal(await legit(), port, 'a legitimate client is served meanwhile');
  t.ok(under - before < 128, `RSS ${before.toFixed(1)} -> ${under.toFixed(1)} MiB after ${(written / 1048576).toFixed(1)} MiB of calls offered`);
  figures.push(`flood: a client that never reads: ${(written / 1048576).toFixed(1)} MiB of NULL calls offered in 3 s, server RSS ${before.toFixed(1)} -> ${under.toFixed(1)} MiB; legitimate GETPORT served`);
  s.destroy();
});
