// The transport seam: node:dgram and the platform module's batched socket
// behave alike under a transfer (batches in, windows out as one batch, other
// TIDs answered ERROR 5, close after what was sent), and a server gives the
// same bytes over either, lock-step and windowed, on the main thread and on
// transfer threads.
import t, { type Test } from 'tap';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '@netboot/platform';
import { decode, ErrorCode, Opcode, tftpGet, TftpServer, type TftpServerOptions } from '@netboot/tftp-wire';
import { until } from '../../../test/support/until.js';
// Internal to the package (not exported): reached through its build output.
import { openTransfer, type ReceivedBatch, type TransportKind } from '../dist/transport.js';

const kinds: TransportKind[] = native ? ['dgram', 'native'] : ['dgram'];
if (!native) t.comment('portable mode: only the dgram transport is tested');

async function peerSocket(t: Test, type: 'udp4' | 'udp6', address: string): Promise<Socket> {
  const s = createSocket(type);
  s.bind(0, address);
  await once(s, 'listening');
  t.teardown(() => s.close());
  return s;
}

function collect(s: Socket, n: number): Promise<Buffer[]> {
  const got: Buffer[] = [];
  return new Promise((resolve) =>
    s.on('message', (m) => {
      got.push(m);
      if (got.length === n) resolve(got);
    }),
  );
}

for (const kind of kinds) {
  for (const [family, local] of [['udp4', '127.0.0.1'], ['udp6', '::1']] as const) {
    t.test(`${kind} ${family}: batches in, a window out, strays answered, closed after`, async (t) => {
      const peer = await peerSocket(t, family, local);
      const transport = await openTransfer(kind, family, local, 1 << 20, { address: local, port: peer.address().port });
      t.teardown(() => transport.close());
      t.ok(transport.connected, 'connected to its peer');
      const received: string[] = [];
      const strays: number[] = [];
      const errors: Error[] = [];
      transport.receive({
        batch: (b: ReceivedBatch) => {
          for (let i = 0; i < b.count; i++) received.push(b.data(i)!.toString());
        },
        error: (err) => errors.push(err),
        stray: (_address, port) => strays.push(port),
      });

      const window = collect(peer, 3);
      const packets = Buffer.from('onetwothree');
      transport.sendBatch(packets, Int32Array.of(3, 3, 5), 3);
      t.same((await window).map(String), ['one', 'two', 'three'], 'one batch, three datagrams in order');
      // One datagram; the transfer's port as the peer sees it.
      const single = once(peer, 'message');
      transport.send(Buffer.from('ack'));
      const [ack, rinfo] = (await single) as [Buffer, { port: number }];
      t.equal(String(ack), 'ack');
      for (let i = 0; i < 5; i++) peer.send(`from peer ${i}`, rinfo.port, local);
      await until(() => received.length === 5, 'the peer is heard');
      t.same(received, [0, 1, 2, 3, 4].map((i) => `from peer ${i}`));

      const other = await peerSocket(t, family, local);
      const answer = once(other, 'message');
      other.send('stray', rinfo.port, local);
      const p = decode((await answer)[0] as Buffer);
      t.match(p, { op: Opcode.ERROR, code: ErrorCode.UNKNOWN_TID }, 'another TID gets ERROR 5');
      await until(() => strays.length === 1, 'the stray is reported');
      t.same(strays, [other.address().port]);
      t.same(received.length, 5, 'and does not reach the transfer');
      t.same(errors, []);

      transport.send(Buffer.from('last'));
      transport.close();
      await transport.closed;
      t.pass('closed');
    });
  }

  t.test(`${kind}: a peer whose port closed ends in an error`, async (t) => {
    const peer = createSocket('udp4');
    peer.bind(0, '127.0.0.1');
    await once(peer, 'listening');
    const port = peer.address().port;
    const transport = await openTransfer(kind, 'udp4', '127.0.0.1', 65536, { address: '127.0.0.1', port });
    t.teardown(() => transport.close());
    const failed = new Promise<Error>((resolve) => transport.receive({ batch: () => {}, error: resolve, stray: () => {} }));
    await new Promise<void>((resolve) => peer.close(() => resolve()));
    // The ICMP answer comes back as a socket error, reported on the next receive.
    transport.send(Buffer.from('anyone?'));
    t.match(await failed, { code: 'ECONNREFUSED' });
  });
}

t.test('a server gives the same bytes over either transport, lock-step and windowed, on threads or not', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'tftp-transport-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const sizes = [0, 1467, 1468, 1468 * 16, 1468 * 16 + 3, 1 << 20];
  for (const size of sizes) await writeFile(join(root, `f${size}`), Buffer.alloc(size, size % 251));
  for (const transport of kinds) {
    for (const threads of [0, 1]) {
      const opts: TftpServerOptions = { root, address: '127.0.0.1', port: 0, threads, transport };
      const server = new TftpServer(opts);
      const { port } = await server.listen();
      try {
        for (const size of sizes) {
          for (const windowsize of [1, 16]) {
            const got = await tftpGet(`f${size}`, { host: '127.0.0.1', port, blksize: 1468, windowsize });
            t.ok(got.data!.equals(Buffer.alloc(size, size % 251)), `${transport}, threads ${threads}, windowsize ${windowsize}: ${size} bytes`);
          }
        }
      } finally {
        await server.close();
      }
    }
  }
});
