import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MountClient } from '@netboot/mountd';
import { RpcConnectionError } from '@netboot/oncrpc-xdr';
import { native } from '@netboot/platform';
import { NfsClient, NfsStat, NfsWorkers, Proc, StableHow, createNfsService, type CallFact, type NfsCallObserver, type NfsService, type ObservedCalls } from '@netboot/nfs3';
import { ok, root } from './harness.js';
import { isRoot, requireThat } from '../../../test/support/programs.js';

/*
 * NFS over TCP on two worker threads (createNfsService's `workers`), with
 * the repo's NfsClient: where connections land, handles and the write
 * verifier across workers, reloads, the boot observer on the main thread,
 * and a worker that dies.
 */

/** Log lines, with a wait for one that matches (the pool says what it does). */
function logSink() {
  const lines: string[] = [];
  const waiters: { re: RegExp; from: number; resolve(line: string): void }[] = [];
  return {
    lines,
    log(line: string) {
      lines.push(line);
      for (const w of [...waiters]) {
        if (w.re.test(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    },
    /** The next line matching `re` logged after this call. */
    next(re: RegExp): Promise<string> {
      return new Promise((resolve) => waiters.push({ re, from: lines.length, resolve }));
    },
  };
}

/** What the main thread's observer is told, with a wait for a fact; `calls` is the service's side. */
function factWatch() {
  const seen: CallFact[] = [];
  const waiters: { match(f: CallFact): boolean; resolve(): void }[] = [];
  let calls: ObservedCalls | undefined;
  const observer: NfsCallObserver = {
    routineStatuses: [NfsStat.OK],
    intervalMs: 60_000,
    attach: (c) => (calls = c),
    seen(f) {
      seen.push(f);
      for (const w of [...waiters]) {
        if (w.match(f)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    },
  };
  return {
    seen,
    observer,
    get calls() {
      return calls!;
    },
    until(match: (f: CallFact) => boolean): Promise<void> {
      if (seen.some(match)) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
  };
}

async function mnt(port: number, path: string, localAddress?: string): Promise<Buffer> {
  const mount = await MountClient.connect({ host: '127.0.0.1', port, transport: 'udp', localAddress });
  try {
    const m = await mount.mnt(path);
    if (m.status !== 0) throw new Error(`MNT ${path}: status ${m.status}`);
    return Buffer.from(m.fhandle);
  } finally {
    mount.close();
  }
}

t.test('NFS on two worker threads', { skip: native ? false : 'worker threads need the platform module' }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nfs3-workers-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const exp = join(dir, 'export');
  const other = join(dir, 'other');
  await mkdir(join(exp, 'a', 'b', 'c'), { recursive: true });
  await mkdir(other);
  await writeFile(join(exp, 'a', 'b', 'c', 'file'), 'deep\n');
  await writeFile(join(other, 'o'), 'other\n');
  const exportsFile = join(dir, 'exports');
  await writeFile(exportsFile, `${exp} 127.0.0.1(rw,no_root_squash,insecure)\n`);
  const sink = logSink();
  const watch = factWatch();
  const start = () =>
    createNfsService({
      exportsFile,
      listen: '127.0.0.1',
      nfsPort: 0,
      mountdPort: 0,
      portmapPort: 0,
      stateDir: join(dir, 'state'),
      log: sink.log,
      observer: watch.observer,
      workers: 2,
    });
  let svc: NfsService = await start();
  t.teardown(() => svc.close());
  t.equal(svc.workers?.count, 2, 'two workers');
  t.match(sink.lines.join('\n'), /NFS over TCP on 2 worker threads/);
  const rootFh = await mnt(svc.mountdPort, exp);
  const connect = async () => {
    const c = await NfsClient.connect({ host: '127.0.0.1', port: svc.nfsPort, transport: 'tcp', cred: root });
    // One round trip: the connection has been accepted, handed over and taken over by now.
    await c.null();
    return c;
  };
  const clients: NfsClient[] = [];
  t.teardown(() => clients.forEach((c) => c.close()));
  const c1 = await connect();
  const c2 = await connect();
  clients.push(c1, c2);
  t.same(svc.workers!.connections(), [1, 1], 'two connections, one on each worker');

  // A MOUNT below the export (a node's own root): the workers are told of it and serve its handle at once.
  const subFh = await mnt(svc.mountdPort, join(exp, 'a', 'b'));
  for (const [i, c] of [c1, c2].entries()) t.equal(ok(t, await c.getattr(subFh)).attributes.type, 2, `worker ${i + 1} serves the subdirectory's handle`);
  await t.rejects(mnt(svc.mountdPort, join(exp, 'a', 'none')), /status/, 'a MOUNT of a missing subdirectory is refused');

  // A handle learned on one worker, used on the other (whose inode map has never seen it).
  let at = rootFh;
  for (const name of ['a', 'b', 'c', 'file']) at = ok(t, await c1.lookup(at, name)).object;
  const file = at;
  t.equal(ok(t, await c2.read(file, 0n, 100)).data.toString(), 'deep\n', "worker 2 reads worker 1's handle");

  // One write verifier for the whole server.
  const w1 = ok(t, await c1.write(file, 0n, Buffer.from('DEEP\n'), StableHow.UNSTABLE));
  const k2 = ok(t, await c2.commit(file));
  const k1 = ok(t, await c1.commit(file));
  t.same(k2.verf, w1.verf, "COMMIT on worker 2 gives worker 1's WRITE verifier");
  t.same(k1.verf, k2.verf, 'COMMIT verifiers agree across connections');
  t.equal(ok(t, await c2.read(file, 0n, 100)).data.toString(), 'DEEP\n', "worker 2 reads worker 1's write");

  // Calls served on the workers are counted there and gathered on asking; the observer hears of the client once per worker.
  await watch.until((f) => f.what === 'first-call');
  let stats = await watch.calls.stats();
  t.equal(stats.total(Proc.LOOKUP), 4, 'the LOOKUPs of worker 1');
  t.equal(stats.total(Proc.READ), 2, 'the READs of worker 2');
  t.equal(stats.total(Proc.COMMIT), 2, 'a COMMIT on each');
  t.ok(watch.seen.every((f) => f.address === '127.0.0.1' && (f.what === 'first-call' || f.what === 'active')), 'nothing else was told');
  t.ok(watch.seen.filter((f) => f.what === 'first-call').length <= 2, 'a first call per worker at most');

  // A followed client (its MOUNT): the READ of the path is found on the worker that serves it.
  watch.calls.follow('127.0.0.1', '/a/b/c/file');
  let walked = rootFh;
  for (const name of ['a', 'b', 'c', 'file']) walked = ok(t, await c2.lookup(walked, name)).object;
  ok(t, await c2.read(walked, 0n, 100));
  await watch.until((f) => f.what === 'path-read');
  t.match(watch.seen.filter((f) => f.what === 'path-read'), [{ address: '127.0.0.1', path: '/a/b/c/file' }], 'the READ of the followed path, once');

  // A reload reaches both workers.
  await writeFile(exportsFile, `${exp} 127.0.0.1(rw,no_root_squash,insecure)\n${other} 127.0.0.1(ro,insecure)\n`);
  await svc.reload();
  const otherFh = await mnt(svc.mountdPort, other);
  for (const [i, c] of [c1, c2].entries()) t.equal(ok(t, await c.lookup(otherFh, 'o')).object.length > 0, true, `worker ${i + 1} serves the added export`);
  await writeFile(exportsFile, `${other} 127.0.0.1(ro,insecure)\n`);
  await svc.reload();
  for (const [i, c] of [c1, c2].entries()) t.equal((await c.getattr(file)).status, NfsStat.STALE, `worker ${i + 1}: the removed export's handle is STALE`);
  await writeFile(exportsFile, `${exp} 127.0.0.1(rw,no_root_squash,insecure)\n`);
  await svc.reload();

  // A worker that dies is restarted, loudly; its connections close, the other's live on.
  const exited = sink.next(/worker 0 exited unexpectedly/);
  const serving = sink.next(/worker 0 is serving again/);
  await svc.workers!.crash(0);
  t.match(await exited, /its 1 connections were closed/, 'the exit is logged with what it cost');
  await serving;
  await t.rejects(c1.getattr(file), RpcConnectionError, "the dead worker's connection is closed");
  t.equal(ok(t, await c2.getattr(file)).attributes.size, 5n, "the other worker's connection lives on");
  const c3 = await connect();
  clients.push(c3);
  t.same(svc.workers!.connections(), [1, 1], 'a new connection goes to the restarted worker');
  t.equal(ok(t, await c3.read(file, 0n, 100)).data.toString(), 'DEEP\n', 'and is served there');
  stats = await watch.calls.stats();
  // Worker 0's 4 LOOKUPs as last asked for (its LOOKUP since is lost with it), worker 1's 5.
  t.equal(stats.total(Proc.LOOKUP), 9, "the dead worker's counts are kept as of when they were last asked for");
  t.equal(stats.total(Proc.READ), 4, 'and the restarted worker counts anew');

  // A new server instance: handles still good, a new write verifier.
  c2.close();
  c3.close();
  await svc.close();
  svc = await start();
  const c4 = await connect();
  const c5 = await connect();
  clients.push(c4, c5);
  const after = ok(t, await c5.commit(file));
  t.notSame(after.verf, k1.verf, 'the verifier changed with the restart');
  t.same(ok(t, await c4.commit(file)).verf, after.verf, 'and is again one for both workers');
});

t.test("a storage failure on one worker changes every worker's write verifier", { skip: native ? false : 'worker threads need the platform module' }, async (t) => {
  if (!requireThat(t, isRoot(), 'needs root to mount a small tmpfs')) return;
  const dir = await mkdtemp(join(tmpdir(), 'nfs3-workers-full-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const exp = join(dir, 'export');
  await mkdir(exp);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0755', 'nfs3-workers-nospc', exp], { stdio: 'pipe' });
  } catch (e) {
    t.plan(0, `cannot mount a tmpfs here: ${String(e)}`);
    return;
  }
  // Lazily: the stopped server's descriptors of the file close a moment after close() returns.
  t.teardown(() => execFileSync('umount', ['-l', exp], { stdio: 'pipe' }));
  await writeFile(join(exp, 'file'), 'x');
  const exportsFile = join(dir, 'exports');
  await writeFile(exportsFile, `${exp} 127.0.0.1(rw,no_root_squash,insecure)\n`);
  const svc = await createNfsService({ exportsFile, listen: '127.0.0.1', nfsPort: 0, mountdPort: 0, portmapPort: 0, stateDir: join(dir, 'state'), log: () => {}, workers: 2 });
  t.teardown(() => svc.close());
  const rootFh = await mnt(svc.mountdPort, exp);
  const clients: NfsClient[] = [];
  t.teardown(() => clients.forEach((c) => c.close()));
  for (let i = 0; i < 2; i++) {
    const c = await NfsClient.connect({ host: '127.0.0.1', port: svc.nfsPort, transport: 'tcp', cred: root });
    await c.null();
    clients.push(c);
  }
  const [c1, c2] = clients as [NfsClient, NfsClient];
  t.same(svc.workers!.connections(), [1, 1], 'one connection on each worker');
  const file = ok(t, await c1.lookup(rootFh, 'file')).object;
  const before = ok(t, await c2.write(file, 0n, Buffer.from('y'), StableHow.UNSTABLE)).verf;
  t.equal((await c1.write(file, 0n, Buffer.alloc(1024 * 1024, 1), StableHow.FILE_SYNC)).status, NfsStat.NOSPC, 'worker 1 meets a full file system');
  const after = ok(t, await c2.commit(file)).verf;
  t.notSame(after, before, "worker 2's COMMIT carries a new verifier: the UNSTABLE write it answered is sent again");
  t.same(ok(t, await c1.commit(file)).verf, after, 'the same on worker 1');
});

t.test('a worker that keeps dying stops the pool loudly', { skip: native ? false : 'worker threads need the platform module' }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nfs3-workers-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const exp = join(dir, 'export');
  await mkdir(exp);
  await writeFile(join(exp, 'f'), 'f\n');
  const exportsFile = join(dir, 'exports');
  await writeFile(exportsFile, `${exp} 127.0.0.1(ro,insecure)\n`);
  const sink = logSink();
  let failed: (e: Error) => void = () => {};
  const failure = new Promise<Error>((resolve) => (failed = resolve));
  const svc = await createNfsService({
    exportsFile,
    listen: '127.0.0.1',
    nfsPort: 0,
    mountdPort: 0,
    portmapPort: 0,
    log: sink.log,
    workers: 2,
    onWorkersFailed: (e) => failed(e),
  });
  t.teardown(() => svc.close());
  let gaveUp: Error | undefined;
  void failure.then((e) => (gaveUp = e));
  for (let i = 0; i < 10 && !gaveUp; i++) {
    const back = sink.next(/worker 0 is serving again/);
    await svc.workers!.crash(0);
    await Promise.race([back, failure]);
  }
  t.match(gaveUp?.message, /worker 0 exited 6 times within 60 s .*the main thread serves every connection/, 'onWorkersFailed says why');
  const fh = await mnt(svc.mountdPort, exp);
  const c = await NfsClient.connect({ host: '127.0.0.1', port: svc.nfsPort, transport: 'tcp', cred: root });
  t.teardown(() => c.close());
  t.equal(ok(t, await c.lookup(fh, 'f')).object.length > 0, true, 'the main thread serves on');
});

t.test('a reload that adds a pinned export the workers cannot open (no workerBackend) moves NFS back to the main thread', { skip: native ? false : 'worker threads need the platform module' }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nfs3-workers-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const exp = join(dir, 'export');
  const image = join(dir, 'image-backed');
  await mkdir(exp);
  await mkdir(image);
  await writeFile(join(exp, 'f'), 'f\n');
  const exportsFile = join(dir, 'exports');
  await writeFile(exportsFile, `${exp} 127.0.0.1(ro,insecure)\n`);
  const sink = logSink();
  const svc = await createNfsService({
    exportsFile,
    listen: '127.0.0.1',
    nfsPort: 0,
    mountdPort: 0,
    portmapPort: 0,
    log: sink.log,
    workers: 2,
    pinnedExports: async (exports) => new Map(exports.filter((e) => e.path === image).map((e) => [e.path, '127.0.0.1'])),
  });
  t.teardown(() => svc.close());
  const fh = await mnt(svc.mountdPort, exp);
  const before = await NfsClient.connect({ host: '127.0.0.1', port: svc.nfsPort, transport: 'tcp', cred: root });
  t.teardown(() => before.close());
  ok(t, await before.lookup(fh, 'f'));
  await writeFile(exportsFile, `${exp} 127.0.0.1(ro,insecure)\n${image} 127.0.0.1(ro,insecure)\n`);
  await svc.reload();
  t.equal(svc.workers, undefined, 'no workers any more');
  t.match(sink.lines.join('\n'), /image-backed, so NFS is now served on the main thread alone .*2 worker threads are stopped/);
  await t.rejects(before.getattr(fh), RpcConnectionError, "a worker's connection was closed");
  const after = await NfsClient.connect({ host: '127.0.0.1', port: svc.nfsPort, transport: 'tcp', cred: root });
  t.teardown(() => after.close());
  t.equal(ok(t, await after.lookup(fh, 'f')).object.length > 0, true, 'a new connection is served on the main thread');
  t.equal(ok(t, await after.getattr(await mnt(svc.mountdPort, image))).attributes.type, 2, 'and so is the new export');
});

t.test("a pinned export is opened on its address's worker alone, and that worker answers its TCP, UDP and MOUNT calls", { skip: native ? false : 'worker threads need the platform module' }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nfs3-workers-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // Two loopback addresses the pool gives to different workers.
  const candidates = Array.from({ length: 30 }, (_, i) => `127.0.0.${i + 2}`);
  const a = candidates.find((x) => NfsWorkers.ownerOf(x, 2) === 0)!;
  const b = candidates.find((x) => NfsWorkers.ownerOf(x, 2) === 1)!;
  const exp = join(dir, 'export');
  const rootA = join(dir, 'node-a');
  const rootB = join(dir, 'node-b');
  for (const d of [exp, rootA, rootB]) await mkdir(d);
  await writeFile(join(rootA, 'f'), 'a\n');
  await writeFile(join(rootB, 'f'), 'b\n');
  const exportsFile = join(dir, 'exports');
  await writeFile(exportsFile, `${exp} 127.0.0.1(ro,insecure)\n${rootA} ${a}(rw,no_root_squash,insecure)\n${rootB} ${b}(rw,no_root_squash,insecure)\n`);
  const sink = logSink();
  const svc = await createNfsService({
    exportsFile,
    listen: '127.0.0.1',
    nfsPort: 0,
    mountdPort: 0,
    portmapPort: 0,
    log: sink.log,
    workers: 2,
    pinnedExports: async () => new Map([[rootA, a], [rootB, b]]),
    workerBackend: { module: new URL('./local-backend.mjs', import.meta.url).href, name: 'localOnly', arg: 'pinned-test' },
  });
  t.teardown(() => svc.close());
  const threads = svc.workers!.threadIds();
  const opened = (path: string) => sink.lines.filter((l) => l.startsWith(`pinned-test: ${path} opened`)).map((l) => Number(l.split(' ').pop()));
  t.same(opened(rootA), [threads[0]], "node a's root is opened on worker 0 alone");
  t.same(opened(rootB), [threads[1]], "node b's root is opened on worker 1 alone");
  t.same(opened(exp).sort(), [...threads].sort(), 'the plain export on both');
  t.equal(svc.nfs.rootHandle(rootA), undefined, 'the main thread does not serve a pinned export');

  const fhA = await mnt(svc.mountdPort, rootA, a);
  t.ok(fhA.length > 0, "MOUNT of a's root, from a: made on its worker");
  const fhB = await mnt(svc.mountdPort, rootB, b);
  const clients: NfsClient[] = [];
  t.teardown(() => clients.forEach((c) => c.close()));
  const connect = async (from: string, transport: 'tcp' | 'udp') => {
    const c = await NfsClient.connect({ host: '127.0.0.1', port: svc.nfsPort, transport, cred: root, localAddress: from });
    clients.push(c);
    await c.null();
    return c;
  };
  const tcpA = await connect(a, 'tcp');
  const tcpB = await connect(b, 'tcp');
  t.same(svc.workers!.handed(), [1, 1], "a's connection on worker 0, b's on worker 1");
  t.equal(ok(t, await tcpA.read(ok(t, await tcpA.lookup(fhA, 'f')).object, 0n, 10)).data.toString(), 'a\n', 'a reads its root over TCP');
  t.equal(ok(t, await tcpB.read(ok(t, await tcpB.lookup(fhB, 'f')).object, 0n, 10)).data.toString(), 'b\n', 'b reads its root over TCP');
  const udpA = await connect(a, 'udp');
  const f = ok(t, await udpA.lookup(fhA, 'f')).object;
  t.equal(ok(t, await udpA.write(f, 0n, Buffer.from('A'), StableHow.FILE_SYNC)).count, 1, "a writes over UDP: answered on a's worker");
  t.equal(ok(t, await tcpA.read(f, 0n, 10)).data.toString(), 'A\n', 'and its TCP connection, on the same worker, reads the write');
  const udpB = await connect(b, 'udp');
  t.equal((await udpB.getattr(fhA)).status, NfsStat.STALE, "b's UDP call on a's root: answered on b's worker, which does not have it");

  // A reload keeps each pinned export on its worker, and a worker restart opens it there again.
  await writeFile(exportsFile, `${exp} 127.0.0.1(ro,insecure)\n${rootA} ${a}(rw,no_root_squash,insecure)\n${rootB} ${b}(rw,no_root_squash,insecure)\n`);
  await svc.reload();
  const serving = sink.next(/worker 0 is serving again/);
  await svc.workers!.crash(0);
  await serving;
  t.equal(opened(rootA).at(-1), svc.workers!.threadIds()[0], 'the restarted worker 0 opened it again');
  t.same(opened(rootB), [threads[1]], "b's root stayed where it was");
  const again = await connect(a, 'tcp');
  t.equal(ok(t, await again.read(f, 0n, 10)).data.toString(), 'A\n', "a's new connection is served on the restarted worker");
});
