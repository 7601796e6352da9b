// A server with pacing: over its transfer slots a request waits (no ERROR,
// no answer until a slot frees), a retransmitted RRQ keeps its place, and
// only a full queue is answered "Server busy".
import t, { type Test } from 'tap';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode, encode, ErrorCode, Opcode, TftpServer, type TftpPacket } from '@netboot/tftp-wire';
import { until } from '../../../test/support/until.js';

/** A client socket that keeps what it receives, for exact packets. */
async function client(t: Test) {
  const s = createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  t.teardown(() => s.close());
  const got: Array<{ p: TftpPacket; port: number }> = [];
  s.on('message', (m, r) => got.push({ p: decode(m), port: r.port }));
  return { s, got };
}

t.test('over the slots a request waits its turn; a full queue is busy', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'tftp-paced-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  const root = join(base, 'root');
  await mkdir(root);
  await writeFile(join(root, 'pxelinux.0'), Buffer.alloc(100, 7));
  const server = new TftpServer({ root, address: '127.0.0.1', port: 0, maxTransfers: 1, threads: 0, pacing: { queueMax: 1 } });
  const { port } = await server.listen();
  t.teardown(() => server.close());
  const rrq = encode({ op: Opcode.RRQ, filename: 'pxelinux.0', mode: 'octet', options: [] });

  const a = await client(t);
  a.s.send(rrq, port, '127.0.0.1');
  await until(() => a.got.length === 1, 'DATA 1 to the first node');
  t.match(a.got[0].p, { op: Opcode.DATA, block: 1 });

  const b = await client(t);
  b.s.send(rrq, port, '127.0.0.1');
  await until(() => server.transferLoad().waiting === 1, 'the second request waiting');
  b.s.send(rrq, port, '127.0.0.1');
  t.same(server.transferLoad(), { active: 1, waiting: 1, slots: 1 }, 'a retransmit keeps its place');

  const c = await client(t);
  c.s.send(rrq, port, '127.0.0.1');
  await until(() => c.got.length === 1, 'an answer to the third');
  t.match(c.got[0].p, { op: Opcode.ERROR, code: ErrorCode.NOT_DEFINED, message: /busy/ }, 'a full queue refuses');
  t.equal(b.got.length, 0, 'the waiting node hears nothing yet');

  // The first transfer ends with its ACK: the slot goes to the waiting node.
  a.s.send(encode({ op: Opcode.ACK, block: 1 }), a.got[0].port, '127.0.0.1');
  await until(() => b.got.length === 1, 'DATA 1 to the waiting node');
  t.match(b.got[0].p, { op: Opcode.DATA, block: 1 });
  b.s.send(encode({ op: Opcode.ACK, block: 1 }), b.got[0].port, '127.0.0.1');
  await until(() => server.transferLoad().active === 0, 'every slot free');
  t.same(server.transferLoad(), { active: 0, waiting: 0, slots: 1 });
});
