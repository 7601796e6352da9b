import net from 'node:net';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { RpcServer } from '@netboot/oncrpc-xdr';
import { nameThread, native } from '@netboot/platform';
import type { CallFact } from './call-observer.js';
import { CallWatch } from './call-watch.js';
import { nfsExports } from './mountd-exports.js';
import { NfsServer, type NfsServerOptions } from './nfs-server.js';
import { replySender } from './reply-sender.js';
import type { ToWorker, FromWorker, WorkerBackendContext, WorkerSetup } from './nfs-workers.js';

/*
 * One NFS worker thread (see nfs-workers.ts): its own NfsServer (attribute
 * and open-file caches, inode map) and RpcServer over the same exports,
 * handle key and write verifier as the main thread's, serving the TCP
 * connections the main thread accepts and hands over by fd.
 */

// Named so top -H, perf and a bench's per-thread CPU tell NFS work from the main loop's and V8's.
nameThread(`nfs-worker-${threadId}`);
const port = parentPort!;
const setup = workerData as WorkerSetup;
const post = (m: FromWorker, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer);
const log = (line: string) => post({ kind: 'log', line });

/** Facts leave at the end of the loop turn they were seen in: a busy worker sends one message for many. */
let facts: CallFact[] = [];
const flushFacts = () => {
  if (facts.length) post({ kind: 'facts', facts });
  facts = [];
};
const watch = setup.observe
  ? new CallWatch({
      routineStatuses: setup.observe.routineStatuses,
      intervalMs: setup.observe.intervalMs,
      report: (f) => {
        if (facts.push(f) === 1) setImmediate(flushFacts);
      },
    })
  : undefined;
for (const [address, path] of setup.observe?.follow ?? []) watch!.follow(address, path);
let backend: NfsServerOptions['backend'];
if (setup.backend) {
  const mod = (await import(setup.backend.module)) as Record<string, (arg: unknown, ctx: WorkerBackendContext) => Promise<NfsServerOptions['backend']>>;
  const make = mod[setup.backend.name];
  if (typeof make !== 'function') throw new Error(`${setup.backend.module} has no backend factory ${setup.backend.name}`);
  backend = await make(setup.backend.arg, { log, directReadMax: Infinity, directWrites: true });
}
const nfs = await NfsServer.create({
  exports: nfsExports(setup.exports),
  handleKey: Buffer.from(setup.handleKey),
  // The main thread's own bytes (shared memory), not a copy: a change on any thread is seen on all.
  writeVerifier: Buffer.from(setup.writeVerifier.buffer, setup.writeVerifier.byteOffset, setup.writeVerifier.byteLength),
  log,
  backend,
  // This loop serves only NFS: a cached READ of any size, and WRITE data, are copied here rather than in the thread pool.
  directReadMax: Infinity,
  directWrites: true,
});
const rpc = new RpcServer({ log, maxRecordSize: setup.maxRecordSize, replySender: replySender(native) });
if (watch) nfs.register({ register: (prog, vers, procs, o) => rpc.register(prog, vers, procs, { ...o, watcher: watch }) });
else nfs.register(rpc);

/**
 * Takes over a connection: `handed` stays the main thread's until it hears
 * `adopted` (then it closes it), so a worker that dies at any point never
 * leaves an fd closed twice or open forever; the socket lives on a
 * duplicate the worker owns.
 */
function adopt(handed: number): void {
  let socket: net.Socket;
  try {
    const fd = native!.dupSocket(handed);
    // Paused as a net.Server's accepted socket is, so the RPC server reads records into its own buffers.
    socket = new net.Socket({ fd, allowHalfOpen: true, readable: true, writable: true, pauseOnCreate: true } as net.SocketConstructorOpts);
  } catch (e) {
    log(`nfs: a worker could not take over a connection: ${(e as Error).message}`);
    post({ kind: 'adopted', fd: handed });
    post({ kind: 'closed' });
    return;
  }
  post({ kind: 'adopted', fd: handed });
  socket.setNoDelay(true);
  socket.once('close', () => post({ kind: 'closed' }));
  rpc.adopt(socket);
}

/** Answers a request of the main thread: bytes copied out to a buffer of their own, which moves to the main thread. */
function answer(id: number, bytes: Buffer | undefined): void {
  if (!bytes) return post({ kind: 'answer', id });
  const out = new ArrayBuffer(bytes.length);
  bytes.copy(new Uint8Array(out));
  post({ kind: 'answer', id, bytes: out }, [out]);
}

const failed = (id: number) => (e: unknown) => post({ kind: 'answer', id, error: (e as Error).message ?? String(e) });

port.on('message', (m: ToWorker) => {
  if (m.kind === 'connection') adopt(m.fd);
  else if (m.kind === 'datagram') rpc.answerDatagram(Buffer.from(m.msg), m.ctx).then((bytes) => answer(m.id, bytes), failed(m.id));
  else if (m.kind === 'mount') nfs.dirHandle(m.path, m.subpath, m.client).then((fh) => answer(m.id, fh), failed(m.id));
  // Only what it records matters (a failed lookup leaves the walk to find the handle later, as before).
  else if (m.kind === 'mounted') nfs.dirHandle(m.path, m.subpath).catch(() => undefined);
  else if (m.kind === 'exports') {
    nfs.setExports(nfsExports(m.exports)).then(
      () => post({ kind: 'exports-done', seq: m.seq }),
      (e: unknown) => post({ kind: 'exports-done', seq: m.seq, error: (e as Error).message ?? String(e) }),
    );
  } else if (m.kind === 'follow') watch?.follow(m.address, m.path);
  else if (m.kind === 'stats') {
    // A copy: the worker keeps counting into its own.
    const counts = watch ? watch.stats.counts.slice() : undefined;
    post({ kind: 'stats', seq: m.seq, counts }, counts && [counts.buffer]);
  } else if (m.kind === 'stop') {
    flushFacts();
    // The last counts, kept by the pool past this worker's exit.
    if (watch) post({ kind: 'stats', seq: -1, counts: watch.stats.counts });
    void rpc.close().then(() => {
      nfs.close();
      post({ kind: 'stopped' });
    });
  }
});
post({ kind: 'ready' });
