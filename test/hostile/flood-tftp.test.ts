import t from 'tap';
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode, encode, tftpGet } from '@netboot/tftp-wire';
import { start } from '../support/processes.js';
import { netbootCli } from '../support/paths.js';
import { rssMiB } from './proc-rss.js';

// 1,000 clients ask `netboot tftp --max-transfers 100` for a 4 MiB file at
// the same moment: at most 100 transfers run, every other client gets an
// ERROR ("Server busy") rather than silence, memory stays bounded, and once
// the crowd is gone a normal client is served.

/** UDP datagrams the kernel dropped because a socket's receive buffer was full (this namespace, all sockets). */
function udpReceiveBufferErrors(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const names = lines[0].split(/\s+/);
  const values = lines[1].split(/\s+/);
  return Number(values[names.indexOf('RcvbufErrors')]);
}

const CLIENTS = Number(process.env.HOSTILE_TFTP_CLIENTS ?? 1000);
const CAP = 100;
// A real client's retransmit timer (a PXE ROM waits about 1 s for the first
// answer, then a few seconds per retry): how long an unanswered client waits
// before it sends its RRQ again. The crowd stops waiting as soon as every
// client has its answer.
const CLIENT_FIRST_TIMEOUT_MS = 1000;
const CLIENT_RETRY_TIMEOUT_MS = 2000;
const CLIENT_RETRIES = 3;

t.test(`${CLIENTS} concurrent RRQs against --max-transfers ${CAP}`, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'hostile-tftp-flood-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const file = randomBytes(4 * 1024 * 1024);
  writeFileSync(join(root, 'big.img'), file);
  const server = start(t, process.execPath, [netbootCli, 'tftp', '--root', root, '--listen', '127.0.0.1', '--port', '0', '--max-transfers', String(CAP)]);
  const port = Number((await server.waitFor(/listening on \S+ port (\d+)/))[1]);
  const before = rssMiB(server.pid);

  const rrq = encode({ op: 1, filename: 'big.img', mode: 'octet', options: [{ name: 'blksize', value: '1468' }] });
  const outcome = new Map<number, 'data' | 'busy' | 'error'>();
  const tids = new Map<number, number>();
  const sockets: dgram.Socket[] = [];
  t.teardown(() => sockets.forEach((s) => s.close()));
  let peak = before;
  let allAnswered = () => {};
  /** Resolves when every client has its answer, or when an unanswered client's retransmit timer of `ms` fires. */
  const clientTimer = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        allAnswered = () => {};
        resolve();
      }
      allAnswered = done;
      if (outcome.size === CLIENTS) done();
    });
  for (let i = 0; i < CLIENTS; i++) {
    const s = dgram.createSocket('udp4');
    sockets.push(s);
    s.on('error', () => {});
    // The first answer decides; a granted client holds its transfer (never ACKs) until the end, then cancels it.
    s.on('message', (m, from) => {
      if (outcome.has(i)) return;
      try {
        const p = decode(m);
        if (p.op === 5) outcome.set(i, /busy/i.test(p.message) ? 'busy' : 'error');
        else {
          outcome.set(i, 'data');
          tids.set(i, from.port);
        }
      } catch {
        outcome.set(i, 'error');
      }
      if (outcome.size === CLIENTS) allAnswered();
    });
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  }
  const dropsBefore = udpReceiveBufferErrors();
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(server.pid))), 100);
  t.teardown(() => clearInterval(sampler));
  for (const s of sockets) s.send(rrq, port, '127.0.0.1');
  await clientTimer(CLIENT_FIRST_TIMEOUT_MS);
  const silentFirst = CLIENTS - outcome.size;
  const kernelDrops = udpReceiveBufferErrors() - dropsBefore;
  // As real clients do, those that heard nothing send their request again.
  for (let round = 0; round < CLIENT_RETRIES && outcome.size < CLIENTS; round++) {
    sockets.forEach((s, i) => outcome.has(i) || s.send(rrq, port, '127.0.0.1'));
    await clientTimer(CLIENT_RETRY_TIMEOUT_MS);
  }
  clearInterval(sampler);
  peak = Math.max(peak, rssMiB(server.pid));
  const counts = { data: 0, busy: 0, error: 0 };
  for (const o of outcome.values()) counts[o]++;
  const silent = CLIENTS - outcome.size;
  t.ok(counts.data <= CAP, `${counts.data} transfers started, the cap of ${CAP} holds`);
  t.ok(counts.data > 0, 'some were served');
  t.equal(silent, 0, `no client was left without an answer (${silentFirst} heard nothing to their first RRQ: the kernel dropped ${kernelDrops} datagrams for a full receive buffer)`);
  t.equal(counts.busy + counts.data, CLIENTS, `the other ${counts.busy} got ERROR "Server busy"`);
  t.match(server.output(), /refused: 100 transfers in progress/, 'refusals are logged');
  const busyLines = (server.output().match(/transfers in progress/g) ?? []).length;
  t.ok(busyLines < 50, `rate-limited: ${busyLines} log lines for ${counts.busy} refusals`);
  t.ok(peak - before < 256, `RSS ${before.toFixed(1)} -> peak ${peak.toFixed(1)} MiB`);
  // The server logs each transfer it starts ("RRQ from A filename F") and each end ("..., N bytes in S s"):
  // once the clients cancel, every started transfer has ended and the slots are free.
  const started = (out: string) => (out.match(/RRQ from \S+ filename big\.img$/gm) ?? []).length;
  const ended = (out: string) => (out.match(/RRQ from \S+ filename big\.img: .*, \d+ bytes in [\d.]+ s$/gm) ?? []).length;
  const cancel = encode({ op: 5, code: 0, message: 'cancelled' });
  for (const [i, tid] of tids) sockets[i].send(cancel, tid, '127.0.0.1');
  await server.waitForOutput((out) => ended(out) >= started(out), 'the end of every transfer after the clients cancelled');
  for (const s of sockets) s.close();
  sockets.length = 0;

  // The crowd is gone: a normal client is served.
  const r = await tftpGet('big.img', { host: '127.0.0.1', port, blksize: 65464, windowsize: 16 });
  t.ok(r.data !== undefined && r.data.equals(file), 'afterwards a normal client fetches the 4 MiB file byte-identical');
  t.comment(`tftp flood: ${CLIENTS} RRQs: ${counts.data} transfers, ${counts.busy} "Server busy", ${counts.error} other errors, ${silent} silent (${silentFirst} after the first RRQ, ${kernelDrops} kernel receive-buffer drops); ${busyLines} busy log lines; server RSS ${before.toFixed(1)} -> peak ${peak.toFixed(1)} MiB, ${rssMiB(server.pid).toFixed(1)} MiB after`);
});
