// Read transfers whose in-order ACKs the native transport answers from a
// script laid out ahead (WindowScript): a client that repeats an ACK, holds
// one back or acknowledges half a window must see exactly what the sender
// machine decides, as over node:dgram, on the main thread and on a transfer
// thread.
import t, { type Test } from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '@netboot/platform';
import { encode, Opcode, TftpServer, type TftpOption, type TftpPacket } from '@netboot/tftp-wire';
import { until } from '../../../test/support/until.js';
import { rawClient } from './raw-client.js';

const BLOCKS = 300;
const file = Buffer.alloc(BLOCKS * 512 + 100);
for (let i = 0; i < file.length; i++) file[i] = (i * 7 + (i >> 9)) & 0xff;

async function serve(t: Test, threads: number) {
  const root = await mkdtemp(join(tmpdir(), 'tftp-script-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  await writeFile(join(root, 'f'), file);
  const logs: string[] = [];
  // A short first timeout: the held-back ACK is answered by a retransmission soon. Retries enough to
  // outlast a test held off the CPU for half a minute: the bound is for a hang.
  const server = new TftpServer({
    root,
    address: '127.0.0.1',
    port: 0,
    threads,
    transport: 'native',
    retry: { initialMs: 300, maxMs: 1000, maxRetries: 30 },
    log: (l, m) => logs.push(`${l}: ${m}`),
  });
  const { port } = await server.listen();
  t.teardown(() => server.close());
  return { port, logs };
}

function data(p: TftpPacket): { block: number; data: Buffer } {
  if (p.op !== Opcode.DATA) throw new Error(`expected DATA, got opcode ${p.op}`);
  return { block: p.block, data: Buffer.from(p.data) };
}

const expected = (block: number, blksize: number) => file.subarray((block - 1) * blksize, block * blksize);

/**
 * DATA the client had received already can come again when the server's timeout (300 ms) ran out before
 * the client's ACK was read, as it does when a loaded machine holds the test off the CPU: allowed where the
 * server logged that timeout, a resend from a block at most `window - 1` before it. A repeat with no such
 * line is the server answering something it must not (a repeated ACK).
 */
function checkRepeats(t: Test, logs: string[], repeats: number[], window: number): void {
  const resentFrom = logs.flatMap((l) => /timeout, resending from block (\d+)$/.exec(l)?.[1] ?? []).map(Number);
  const unexplained = repeats.filter((b) => !resentFrom.some((from) => from <= b && b < from + window));
  t.same(unexplained, [], `no DATA repeated but after a logged timeout (${repeats.length} repeated after one)`);
}

if (!native) {
  t.comment('portable mode: no native transport, nothing scripted to test');
} else {
  for (const threads of [0, 1]) {
    t.test(`lock-step, threads ${threads}: a repeated ACK gets nothing, a held-back ACK a retransmission`, async (t) => {
      const { port, logs } = await serve(t, threads);
      const c = await rawClient(t);
      c.s.send(encode({ op: Opcode.RRQ, filename: 'f', mode: 'octet', options: [] }), port, '127.0.0.1');
      let tid = 0;
      let withheld = false;
      const repeats: number[] = [];
      for (let block = 1; block <= BLOCKS + 1; block++) {
        const got = await c.next();
        tid = got.port;
        const d = data(got.p);
        if (d.block < block) {
          repeats.push(d.block);
          block--;
          continue;
        }
        t.equal(d.block, block, `DATA ${block} in order`);
        if (d.block !== block) return;
        if (!d.data.equals(expected(block, 512))) t.fail(`DATA ${block} carries the file's bytes`);
        if (block === 100 && !withheld) {
          // Held back: the same block must come again after the timeout, and only it.
          withheld = true;
          block--;
          continue;
        }
        const ack = encode({ op: Opcode.ACK, block });
        c.s.send(ack, tid, '127.0.0.1');
        // A repeated ACK (the Sorcerer's Apprentice): answering it would double every later block.
        if (block === 50 || block === 150) c.s.send(ack, tid, '127.0.0.1');
      }
      await until(() => logs.some((l) => l.includes(': sent, ')), 'the server logs the transfer sent');
      while (c.queued() > 0) repeats.push(data((await c.next()).p).block);
      t.ok(repeats.every((b) => b <= BLOCKS + 1), 'no DATA beyond the last block');
      checkRepeats(t, logs, repeats, 1);
      t.ok(logs.some((l) => l.includes('timeout, resending from block 100')), 'the machine resent block 100 itself');
    });

    t.test(`windowsize 4, threads ${threads}: a partial ACK restarts the window after it`, async (t) => {
      const { port, logs } = await serve(t, threads);
      const c = await rawClient(t);
      const options: TftpOption[] = [
        { name: 'blksize', value: '512' },
        { name: 'windowsize', value: '4' },
      ];
      c.s.send(encode({ op: Opcode.RRQ, filename: 'f', mode: 'octet', options }), port, '127.0.0.1');
      const oack = await c.next();
      t.equal(oack.p.op, Opcode.OACK, 'OACK');
      const tid = oack.port;
      c.s.send(encode({ op: Opcode.ACK, block: 0 }), tid, '127.0.0.1');
      let have = 0; // blocks received in order
      let partial = false;
      const repeats: number[] = [];
      while (have < BLOCKS + 1) {
        const window: number[] = [];
        while (window.length < 4 && have + window.length < BLOCKS + 1) {
          const d = data((await c.next()).p);
          if (d.block < have + window.length + 1) {
            repeats.push(d.block);
            continue;
          }
          window.push(d.block);
          if (!d.data.equals(expected(d.block, 512))) t.fail(`DATA ${d.block} carries the file's bytes`);
        }
        t.same(window, Array.from(window, (_, i) => have + 1 + i), `a window from block ${have + 1}`);
        if (window[0] !== have + 1) return;
        if (!partial && have >= 120) {
          // Only the first two blocks acknowledged: the next window starts at the third.
          partial = true;
          have += 2;
        } else {
          have += window.length;
        }
        c.s.send(encode({ op: Opcode.ACK, block: have & 0xffff }), tid, '127.0.0.1');
      }
      await until(() => logs.some((l) => l.includes(': sent, ')), 'the server logs the transfer sent');
      while (c.queued() > 0) repeats.push(data((await c.next()).p).block);
      t.ok(repeats.every((b) => b <= BLOCKS + 1), 'nothing sent beyond the last block');
      checkRepeats(t, logs, repeats, 4);
    });
  }
}
