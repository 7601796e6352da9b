// sendfileAll: a whole range to a socket that fills (the poll on a dup waits
// for room), cancel, a peer that resets, a file shorter than the range, a
// throwing callback, and no descriptor left behind by any of them.
import { spawnSync } from 'node:child_process';
import { closeSync, fsyncSync, mkdtempSync, openSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { socketFd } from '@netboot/platform';
import { requireNative } from './require-native.js';
import { until } from '../../../test/support/until.js';
import { evictableDir } from '../../../test/support/evictable-dir.js';

function openTargets(): Set<string> {
  const targets = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      targets.add(readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // the listing's own descriptor
    }
  }
  return targets;
}

const n = requireNative(t);
if (n) {
  const dir = mkdtempSync(join(tmpdir(), 'platform-sendfile-all-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const body = randomBytes(12 * 1024 * 1024 + 333);
  writeFileSync(join(dir, 'body'), body);
  const inFd = openSync(join(dir, 'body'), 'r');
  t.teardown(() => closeSync(inFd));

  /** A connected pair: `out` is the side sendfileAll writes to, `peer` the reader (paused). */
  async function pair(t: Test): Promise<{ out: Socket; peer: Socket }> {
    const server: Server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const accepted = once(server, 'connection');
    const out = connect((server.address() as { port: number }).port, '127.0.0.1');
    await once(out, 'connect');
    const [peer] = (await accepted) as [Socket];
    peer.pause();
    server.close();
    t.teardown(() => {
      out.destroy();
      peer.destroy();
    });
    return { out, peer };
  }

  t.test('a range arrives whole through a socket that fills and drains', async (t) => {
    const before = openTargets();
    const { out, peer } = await pair(t);
    const start = 1_000_003;
    const count = body.length - start - 17;
    let transfer: ReturnType<typeof n.sendfileAll> | undefined;
    const done = new Promise<[NodeJS.ErrnoException | null, number]>((resolve) => {
      transfer = n.sendfileAll(socketFd(out), inFd, start, count, (err, sent) => resolve([err, sent]));
    });
    // The reader starts once bytes wait in the send queue: the rest has to wait for room.
    await until(() => transfer!.queued() > 0, 'bytes queued in the socket');
    const received: Buffer[] = [];
    let got = 0;
    peer.on('data', (c: Buffer) => {
      received.push(c);
      got += c.length;
    });
    peer.resume();
    const [err, sent] = await done;
    t.equal(err, null);
    t.equal(sent, count);
    t.equal(transfer!.warmed(), 0, 'a cached file is sent from the loop alone');
    while (got < count) await once(peer, 'data');
    t.ok(Buffer.concat(received).equals(body.subarray(start, start + count)), 'the bytes of the range, in order');
    out.destroy();
    peer.destroy();
    await once(peer, 'close');
    t.same([...openTargets()].filter((x) => !before.has(x)), [], 'the dup is closed');
  });

  /** A file of `body`'s bytes whose pages the page cache has let go of (the caller closes the fd). */
  function coldFile(t: Test): number {
    const disk = evictableDir('platform-sendfile-cold-');
    writeFileSync(join(disk, 'cold'), body);
    const fd = openSync(join(disk, 'cold'), 'r');
    t.teardown(() => {
      closeSync(fd);
      rmSync(disk, { recursive: true, force: true });
    });
    fsyncSync(fd); // DONTNEED lets go of clean pages only
    n!.fadvise(fd, 0, 0, n!.constants.POSIX_FADV_DONTNEED);
    t.same(n!.cachedPages(fd, 0, body.length).cached, 0, 'the file is not in the page cache');
    return fd;
  }

  t.test('a file not in the page cache: read into it on the pool, a window at a time, then sent whole', async (t) => {
    const before = openTargets();
    const { out, peer } = await pair(t);
    const cold = coldFile(t);
    const received: Buffer[] = [];
    let got = 0;
    peer.on('data', (c: Buffer) => {
      received.push(c);
      got += c.length;
    });
    peer.resume();
    let transfer: ReturnType<typeof n.sendfileAll> | undefined;
    const [err, sent] = await new Promise<[NodeJS.ErrnoException | null, number]>((resolve) => {
      transfer = n.sendfileAll(socketFd(out), cold, 0, body.length, (e, s) => resolve([e, s]));
    });
    t.equal(err, null);
    t.equal(sent, body.length);
    const warmed = transfer!.warmed();
    t.ok(warmed > 0 && warmed <= body.length, `read in on the pool, not on the loop (${warmed} bytes)`);
    const cached = n.cachedPages(cold, 0, body.length);
    t.equal(cached.cached, cached.pages, 'in the page cache now');
    while (got < body.length) await once(peer, 'data');
    t.ok(Buffer.concat(received).equals(body), 'the bytes of the file, in order');
    out.destroy();
    peer.destroy();
    await once(peer, 'close');
    t.same([...openTargets()].filter((x) => !before.has(x) && x.startsWith('socket:')), [], 'the dup is closed');
  });

  t.test('cancel while the pool reads: called back once, after the read', async (t) => {
    const { out, peer } = await pair(t);
    const cold = coldFile(t);
    const results: Array<[NodeJS.ErrnoException | null, number]> = [];
    const transfer = n.sendfileAll(socketFd(out), cold, 0, body.length, (err, sent) => results.push([err, sent]));
    // The first writable event (the poll phase) finds the window cold and starts the pool's read; this runs after it.
    await new Promise((resolve) => setImmediate(resolve));
    transfer.cancel();
    await until(() => results.length > 0, 'the callback');
    t.equal(results.length, 1, 'called back once');
    t.equal(results[0][0]?.code, 'ECANCELED');
    t.equal(results[0][1], 0, 'nothing sent: the window was still being read');
    out.destroy();
    peer.resume();
    await once(peer, 'end');
  });

  t.test('cancel: called back with ECANCELED, the dup closed, the connection closable', async (t) => {
    const { out, peer } = await pair(t);
    const results: Array<[NodeJS.ErrnoException | null, number]> = [];
    const transfer = n.sendfileAll(socketFd(out), inFd, 0, body.length, (err, sent) => results.push([err, sent]));
    // The peer never reads: the transfer waits for room, until cancelled.
    await until(() => transfer.sent() > 0 && transfer.queued() > 0, 'bytes queued in the socket');
    t.ok(transfer.queued() > 0, 'bytes wait in the send queue');
    transfer.cancel();
    transfer.cancel();
    await until(() => results.length > 0, 'the callback');
    t.equal(results.length, 1, 'called back once');
    t.equal(results[0][0]?.code, 'ECANCELED');
    t.equal(results[0][1], transfer.sent());
    t.equal(transfer.queued(), 0, 'nothing to ask once ended');
    // Node's fd is the last one: closing it closes the connection, which the peer sees.
    out.destroy();
    peer.resume();
    await once(peer, 'end');
  });

  t.test('a peer that resets: called back with its error', async (t) => {
    const { out, peer } = await pair(t);
    out.on('error', () => {}); // Node's side of the socket sees the reset too
    const done = new Promise<NodeJS.ErrnoException | null>((resolve) => {
      n.sendfileAll(socketFd(out), inFd, 0, body.length, (err) => resolve(err));
    });
    peer.resetAndDestroy();
    const err = await done;
    t.ok(err && ['ECONNRESET', 'EPIPE'].includes(err.code ?? ''), `reset reported (${err?.code})`);
    t.equal(err?.syscall, 'sendfile');
  });

  t.test('a file shorter than the range: code EOF after what it had', async (t) => {
    const { out, peer } = await pair(t);
    peer.resume();
    const short = openSync(join(dir, 'body'), 'r');
    t.teardown(() => closeSync(short));
    const [err, sent] = await new Promise<[NodeJS.ErrnoException | null, number]>((resolve) => {
      n.sendfileAll(socketFd(out), short, body.length - 100, 1000, (e, s) => resolve([e, s]));
    });
    t.equal(err?.code, 'EOF');
    t.equal(sent, 100);
  });

  t.test('bad arguments throw before anything starts', async (t) => {
    const { out } = await pair(t);
    const noop = () => {};
    t.throws(() => n.sendfileAll(inFd, inFd, 0, 10, noop), { code: 'ERR_INVALID_ARG_VALUE' }, 'a file is not a socket');
    t.throws(() => n.sendfileAll(socketFd(out), inFd, 0, 10, 'x' as never), { code: 'ERR_INVALID_ARG_TYPE' });
    t.throws(() => n.sendfileAll(socketFd(out), inFd, -1, 10, noop), { code: 'ERR_OUT_OF_RANGE' });
    t.throws(() => n.sendfileAll(socketFd(out), inFd, 2n ** 63n - 1n, 10, noop), { code: 'ERR_OUT_OF_RANGE' }, 'offset + count past 64 bits');
    t.throws(() => n.sendfileAll(socketFd(out), 1 << 28, 0, 10, noop), { code: 'EBADF' });
    const transfer = n.sendfileAll(socketFd(out), inFd, 0, 0, noop);
    t.throws(() => transfer.sent.call({}), { code: 'ERR_INVALID_THIS' });
  });

  t.test('a callback that throws reaches uncaughtException, and the addon keeps working', async (t) => {
    // In a child: tap owns this process's uncaughtException.
    const platform = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    const script = `
      import { native, socketFd } from ${JSON.stringify(platform)};
      import { createServer, connect } from 'node:net';
      import { openSync } from 'node:fs';
      const server = createServer((s) => s.resume()).listen(0, '127.0.0.1', () => {
        const out = connect(server.address().port, '127.0.0.1', () => {
          process.on('uncaughtException', (e) => {
            native.fstat(0);
            console.log('caught ' + e.message);
            out.destroy();
            server.close();
          });
          native.sendfileAll(socketFd(out), openSync(${JSON.stringify(join(dir, 'body'))}, 'r'), 0, 10, () => { throw new Error('from done'); });
        });
      });`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    t.equal(r.status, 0, r.stderr);
    t.match(r.stdout, /caught from done/);
  });
}
