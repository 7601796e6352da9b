import type { Test } from 'tap';
import { createSocket, type Socket } from 'node:dgram';
import { decode, type TftpPacket } from '@netboot/tftp-wire';

export interface Received {
  p: TftpPacket;
  port: number;
}

/**
 * A bare client socket, for poking a server with exactly the packets a test wants: what arrives is queued
 * and `next()` hands it out in order, resolved by the packet event. Its 30 s bound is for a hang, not a speed
 * limit (a transfer thread's first packet can take seconds on a loaded machine).
 *
 * With `skipRepeats`, a packet equal byte for byte to one that came before from the same port is
 * dropped: a retransmission, which the server sends whenever the test takes longer than its timeout
 * (one second) to answer, as it may on a loaded machine. A test about retransmissions leaves it off.
 */
export async function rawClient(t: Test, opts: { skipRepeats?: boolean } = {}): Promise<{ s: Socket; next(): Promise<Received>; queued(): number }> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => s.close());
  const queue: Received[] = [];
  const waiting: ((v: Received) => void)[] = [];
  const seen = new Set<string>();
  s.on('message', (m, r) => {
    if (opts.skipRepeats) {
      const key = `${r.port} ${m.toString('hex')}`;
      if (seen.has(key)) return;
      seen.add(key);
    }
    const v = { p: decode(Buffer.from(m)), port: r.port };
    const w = waiting.shift();
    if (w) w(v);
    else queue.push(v);
  });
  const next = () =>
    new Promise<Received>((resolve, reject) => {
      const v = queue.shift();
      if (v) return resolve(v);
      const timer = setTimeout(() => reject(new Error('no packet within 30 s')), 30_000);
      waiting.push((x) => {
        clearTimeout(timer);
        resolve(x);
      });
    });
  return { s, next, queued: () => queue.length };
}
