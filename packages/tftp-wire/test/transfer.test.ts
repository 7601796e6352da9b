import t from 'tap';
import fc from 'fast-check';
import {
  decode,
  encode,
  negotiateOptions,
  Opcode,
  TftpReceiver,
  TftpSender,
  type TftpPacket,
  type TransferAction,
  type TransferMachine,
} from '@netboot/tftp-wire';

/** What the link does to one packet. */
interface Fault {
  drop: boolean;
  dup: boolean;
  delay: number; // extra ms, which reorders packets
}

interface Outcome {
  received: Buffer;
  senderDone?: TransferAction & { type: 'done' };
  receiverDone?: TransferAction & { type: 'done' };
  dataSent: number;
}

/**
 * Runs an RRQ served by a TftpSender to a client TftpReceiver over a
 * simulated link in virtual time. The first packets suffer the given faults;
 * after those the link is clean, so every transfer must end.
 */
function simulate(file: Buffer, opts: { blksize: number; windowsize: number; faults: Fault[]; windowMax?: number }): Outcome {
  const retry = { initialMs: 50, maxMs: 400, maxRetries: 60 };
  const request: TftpPacket = {
    op: Opcode.RRQ,
    filename: 'f',
    mode: 'octet',
    options: [
      { name: 'tsize', value: '0' },
      { name: 'blksize', value: String(opts.blksize) },
      { name: 'windowsize', value: String(opts.windowsize) },
    ],
  };
  const client = new TftpReceiver({ request, retry });
  let server: TftpSender | undefined;
  const received = Buffer.alloc(file.length);
  let receivedEnd = 0;
  const out: Outcome = { received, dataSent: 0 };
  type InFlight = { at: number; to: 'server' | 'client'; bytes: Buffer; seq: number };
  let queue: InFlight[] = [];
  const deadline = { server: Infinity, client: Infinity };
  let faultIndex = 0;
  let seq = 0;
  let now = 0;

  const transmit = (to: 'server' | 'client', bytes: Buffer) => {
    const f = opts.faults[faultIndex++] ?? { drop: false, dup: false, delay: 0 };
    if (f.drop) return;
    queue.push({ at: now + 1 + f.delay, to, bytes, seq: seq++ });
    if (f.dup) queue.push({ at: now + 2 + f.delay, to, bytes, seq: seq++ });
  };
  const act = (side: 'server' | 'client', actions: TransferAction[]) => {
    const to = side === 'server' ? 'client' : 'server';
    for (const a of actions) {
      switch (a.type) {
        case 'send':
          transmit(to, encode(a.packet));
          break;
        case 'sendData': {
          out.dataSent++;
          const pkt: TftpPacket = { op: Opcode.DATA, block: a.block, data: file.subarray(a.offset, a.offset + a.length) };
          transmit(to, encode(pkt));
          break;
        }
        case 'deliver':
          a.data.copy(received, a.offset);
          receivedEnd = Math.max(receivedEnd, a.offset + a.data.length);
          break;
        case 'timer':
          deadline[side] = a.at;
          break;
        case 'done':
          if (side === 'server') out.senderDone = a;
          else out.receiverDone = a;
          deadline[side] = Infinity;
          break;
        case 'log':
          break;
      }
    }
  };

  act('client', client.start(now));
  for (let steps = 0; steps < 5_000_000; steps++) {
    if (out.receiverDone && out.senderDone) break;
    let next = Math.min(deadline.server, deadline.client);
    let pi = -1;
    for (let i = 0; i < queue.length; i++) {
      const q = queue[i];
      if (q.at < next || (q.at === next && pi >= 0 && q.seq < queue[pi].seq)) {
        next = q.at;
        pi = i;
      }
    }
    if (next === Infinity) break;
    now = next;
    if (pi >= 0) {
      const [q] = queue.splice(pi, 1);
      const p = decode(q.bytes);
      if (q.to === 'server') {
        if (p.op === Opcode.RRQ) {
          if (server) continue; // a repeated request for the transfer already running
          const n = negotiateOptions(p.options, 'read', { blksizeMax: 65464, windowMax: opts.windowMax ?? 64 }, file.length);
          server = new TftpSender({ size: file.length, serve: n, retry });
          act('server', server.start(now));
        } else if (server) {
          act('server', server.receive(p, now));
        }
      } else {
        act('client', client.receive(p, now));
      }
    } else {
      const side: 'server' | 'client' = deadline.server <= deadline.client ? 'server' : 'client';
      deadline[side] = Infinity;
      const m: TransferMachine | undefined = side === 'server' ? server : client;
      if (m) act(side, m.timer(now));
    }
    if (queue.length > 100_000) queue = queue.slice(-100_000);
  }
  out.received = received.subarray(0, receivedEnd);
  return out;
}

/** Faults for the first packets: about one in five dropped, one in five doubled, some delayed enough to reorder. */
const oneInFive = fc.integer({ min: 0, max: 4 }).map((n) => n === 0);
const faults = fc.array(
  fc.record({ drop: oneInFive, dup: oneInFive, delay: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 30 })) }),
  { maxLength: 80 },
);

t.test('property: sender and receiver over a lossy, duplicating, reordering link deliver the file exactly', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 8, max: 700 }),
      fc.integer({ min: 1, max: 16 }),
      fc.integer({ min: 0, max: 6000 }),
      fc.boolean(),
      faults,
      fc.integer({ min: 0, max: 0xffffffff }),
      (blksize, windowsize, size, multiple, fs, fill) => {
        // Half the sizes are exact multiples of blksize, where the last block is empty.
        const n = multiple ? Math.floor(size / blksize) * blksize : size;
        const file = Buffer.alloc(n);
        for (let i = 0; i < n; i++) file[i] = (fill >>> (i % 24)) ^ (i * 31);
        const r = simulate(file, { blksize, windowsize, faults: fs });
        if (r.receiverDone?.outcome !== 'complete' || r.senderDone?.outcome !== 'complete') {
          t.fail(`ended ${r.senderDone?.reason} / ${r.receiverDone?.reason}`, { blksize, windowsize, n });
          return false;
        }
        return r.received.equals(file) && r.receiverDone.bytes === n;
      },
    ),
    { seed: 42, numRuns: 200 },
  );
});

t.test('property: block numbers roll over past 65535 (blksize 8)', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 65535 * 8 - 24, max: 65537 * 8 + 24 }),
      fc.constantFrom(1, 4, 16),
      faults,
      (size, windowsize, fs) => {
        const file = Buffer.alloc(size);
        for (let i = 0; i < size; i++) file[i] = (i * 7 + (i >> 8)) & 0xff;
        const r = simulate(file, { blksize: 8, windowsize, faults: fs });
        t.equal(r.senderDone?.outcome, 'complete');
        return r.receiverDone?.outcome === 'complete' && r.received.equals(file);
      },
    ),
    { seed: 42, numRuns: 6 },
  );
});

t.test('clean link: one DATA per block, no retransmission', async (t) => {
  const file = Buffer.alloc(512 * 10 + 3, 1);
  for (const w of [1, 4, 16]) {
    const r = simulate(file, { blksize: 512, windowsize: w, faults: [] });
    t.equal(r.dataSent, 11, `windowsize ${w}`);
    t.ok(r.received.equals(file));
  }
  const empty = simulate(Buffer.alloc(1024), { blksize: 512, windowsize: 1, faults: [] });
  t.equal(empty.dataSent, 3, 'a size that is a multiple of blksize ends with an empty block');
});

t.test('windowsize is capped by the server limit', async (t) => {
  const n = negotiateOptions([{ name: 'windowsize', value: '64' }], 'read', { blksizeMax: 65464, windowMax: 8 }, 10);
  t.same(n.oack, [{ name: 'windowsize', value: '8' }]);
  const r = simulate(Buffer.alloc(9000, 2), { blksize: 100, windowsize: 64, windowMax: 8, faults: [] });
  t.equal(r.receiverDone?.outcome, 'complete');
});

function sender(size: number, oack = false) {
  const settings = { blksize: 512, windowsize: 1 };
  return new TftpSender({
    size,
    serve: { settings, oack: oack ? [{ name: 'tsize', value: String(size) }] : [] },
    retry: { initialMs: 1000, maxMs: 4000, maxRetries: 3 },
  });
}

t.test('duplicate ACKs are ignored (no Sorcerer\'s Apprentice)', async (t) => {
  const s = sender(2000);
  const a0 = s.start(0);
  t.same(a0.filter((a) => a.type === 'sendData').length, 1);
  const a1 = s.receive({ op: Opcode.ACK, block: 1 }, 10);
  t.same(a1.filter((a) => a.type === 'sendData').map((a) => a.type === 'sendData' && a.block), [2]);
  t.same(s.receive({ op: Opcode.ACK, block: 1 }, 11), [], 'a duplicate ACK 1 sends nothing');
  t.same(s.receive({ op: Opcode.ACK, block: 9 }, 12), [], 'an ACK for a block never sent is ignored');
});

t.test('a timeout with only the final block unacknowledged says the final ACK is missing', async (t) => {
  const reasonAfter = (acked: number) => {
    const s = sender(1536);
    s.start(0);
    for (let b = 1; b <= acked; b++) s.receive({ op: Opcode.ACK, block: b }, b);
    for (let now = 10_000; now < 100_000; now += 10_000) for (const a of s.timer(now)) if (a.type === 'done') return a.reason;
    return undefined;
  };
  t.match(reasonAfter(3), /^timed out waiting for the final ACK after 3 retransmissions$/, 'blocks 1-3 acknowledged, 4 (empty, final) never');
  t.match(reasonAfter(2), /^timed out after 3 retransmissions$/, 'block 3 never acknowledged: the client lacks data');
});

t.test('timeouts retransmit with exponential backoff, then give up', async (t) => {
  const s = sender(100);
  s.start(0);
  const deadlines: number[] = [];
  let now = 0;
  for (let i = 0; i < 10 && !s.finished; i++) {
    now += 10_000;
    for (const a of s.timer(now)) {
      if (a.type === 'timer') deadlines.push(a.at - now);
      if (a.type === 'done') t.match(a, { outcome: 'failed', level: 'warning', reason: /timed out/ });
    }
  }
  t.same(deadlines, [2000, 4000, 4000]);
  t.ok(s.finished);
  const early = sender(100);
  early.start(0);
  t.same(early.timer(500), [{ type: 'timer', at: 1000 }], 'an early timer only re-arms');
});

t.test('ERROR 8 after the OACK (UEFI tsize probe) is a normal end at info level', async (t) => {
  const s = sender(5000, true);
  const a = s.start(0);
  t.match(a[0], { type: 'send', packet: { op: Opcode.OACK } });
  const d = s.receive({ op: Opcode.ERROR, code: 8, message: 'User aborted the transfer' }, 5);
  t.match(d, [{ type: 'done', outcome: 'declined', level: 'info' }]);
});

t.test('OACK then ACK 0 starts the data', async (t) => {
  const s = sender(700, true);
  s.start(0);
  t.same(s.receive({ op: Opcode.ACK, block: 5 }, 1), [], 'only ACK 0 answers an OACK');
  const a = s.receive({ op: Opcode.ACK, block: 0 }, 2);
  t.match(a[0], { type: 'sendData', block: 1, offset: 0, length: 512 });
});

t.test('a client refuses an OACK that raises blksize, with ERROR 8', async (t) => {
  const r = new TftpReceiver({
    request: { op: Opcode.RRQ, filename: 'x', mode: 'octet', options: [{ name: 'blksize', value: '1024' }] },
  });
  r.start(0);
  const a = r.receive({ op: Opcode.OACK, options: [{ name: 'blksize', value: '2048' }] }, 1);
  t.match(a, [{ type: 'send', packet: { op: Opcode.ERROR, code: 8 } }, { type: 'done', outcome: 'failed' }]);
});

t.test('a server that ignores options answers with DATA 1 and the client uses 512', async (t) => {
  const r = new TftpReceiver({
    request: { op: Opcode.RRQ, filename: 'x', mode: 'octet', options: [{ name: 'blksize', value: '1024' }] },
  });
  r.start(0);
  const a = r.receive({ op: Opcode.DATA, block: 1, data: Buffer.alloc(100) }, 1);
  t.match(a, [{ type: 'deliver', offset: 0 }, { type: 'send', packet: { op: Opcode.ACK, block: 1 } }, { type: 'done', outcome: 'complete', bytes: 100 }]);
  t.equal(r.transferSettings.blksize, 512);
  t.same(r.receive({ op: Opcode.DATA, block: 1, data: Buffer.alloc(100) }, 2), [
    { type: 'send', packet: { op: Opcode.ACK, block: 1 } },
  ], 'a repeated final block is ACKed again while dallying');
});
