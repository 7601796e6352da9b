import { close as closeFd } from 'node:fs';
import { parentPort, threadId } from 'node:worker_threads';
import { RateLimitedLog } from '@netboot/log-text';
import { nameThread } from '@netboot/platform';
import { BufferPool, OpenFileCache } from './open-file-cache.js';
import { TftpSender } from './sender.js';
import { FileSource } from './sources.js';
import type { LogLevel } from './transfer.js';
import { now, TransferDriver } from './transfer-driver.js';
import type { ThreadMessage, ThreadReport } from './transfer-threads.js';
import { openTransfer, type TransferTransport } from './transport.js';

/*
 * A worker thread of TransferThreads: runs the read transfers the server
 * hands it, each on its own socket, with its own open-file cache and buffer
 * pool. Log lines and the end of each transfer go back to the server.
 */

// Named so top -H, perf and a bench's per-thread CPU tell transfers from the main loop's and V8's work.
nameThread(`tftp-xfer-${threadId}`);
const port = parentPort!;
const cache = new OpenFileCache();
const pool = new BufferPool();
const drivers = new Map<number, TransferDriver>();
/** Transports not closed yet: a transport closes once its last datagram (an ERROR, say) has left. */
const transports = new Set<TransferTransport>();
/** How long closing waits for the last datagrams to leave. */
const CLOSE_WAIT_MS = 1000;
const report = (r: ThreadReport): void => port.postMessage(r);
const limiter = new RateLimitedLog<LogLevel>((message, level) => report({ type: 'log', level, message }), { now });

port.on('message', (m: ThreadMessage) => {
  if (m.type === 'abort') drivers.get(m.id)?.abort(m.code, m.message, m.tell);
  else if (m.type === 'start') void start(m);
  else void close(m.code, m.message);
});

async function close(code: number, message: string): Promise<void> {
  for (const d of [...drivers.values()]) d.abort(code, message);
  const closed = [...transports].map((t) => t.closed);
  await Promise.race([Promise.all(closed), new Promise((resolve) => setTimeout(resolve, CLOSE_WAIT_MS))]);
  // The files are closed here, not by the thread's teardown or the collector.
  await cache.close();
  report({ type: 'closed' });
}

async function start(job: Extract<ThreadMessage, { type: 'start' }>): Promise<void> {
  const { id } = job;
  const done = (outcome: 'failed', reason: string) =>
    report({ type: 'done', id, done: { type: 'done', outcome, bytes: 0, reason, level: 'warning' } });
  let transport: TransferTransport;
  try {
    transport = await openTransfer(job.transport, job.family, job.local, job.sendBufferBytes, { address: job.address, port: job.port });
  } catch (err) {
    closeFd(job.fd, () => {});
    return done('failed', `cannot open a transfer socket: ${(err as Error).message}`);
  }
  transports.add(transport);
  void transport.closed.then(() => transports.delete(transport));
  const file = cache.adopt(job.fd, job.identity);
  const source = new FileSource(file, cache, pool, job.serve.settings.blksize, job.serve.settings.windowsize);
  const machine = new TftpSender({ size: file.size, serve: job.serve, retry: job.retry });
  const driver = new TransferDriver(transport, { address: job.address, port: job.port }, machine, {
    source,
    windows: { size: file.size, blksize: job.serve.settings.blksize, windowsize: job.serve.settings.windowsize },
    limiter,
    onDone: (d) => {
      drivers.delete(id);
      report({ type: 'done', id, done: d });
    },
    onLog: (level, message) => report({ type: 'log', id, level, message }),
  });
  drivers.set(id, driver);
  driver.start();
}
