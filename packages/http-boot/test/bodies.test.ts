// File bodies both ways they leave: sendfile (with @netboot/platform) and
// pooled reads. Ranges (a 64-bit offset too), keep-alive after a body, a
// client that leaves mid-body (no descriptor left open), a client that stops
// reading (dropped when idle) and one that reads slowly (kept); a file the
// page cache lacks, read into it off the event loop.
import t from 'tap';
import { request, Agent, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { open, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readdirSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { native } from '@netboot/platform';
import { HttpBootServer, type BodyMode, type HttpExchange } from '@netboot/http-boot';
import { until } from '../../../test/support/until.js';
import { evictableDir } from '../../../test/support/evictable-dir.js';

const dir = await mkdtemp(join(tmpdir(), 'http-bodies-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const big = randomBytes(24 * 1024 * 1024 + 4099);
// The servers' idle limit: long enough that a test client starved of the CPU on a loaded machine is not
// taken for one that stopped reading (500 ms reset the connection of a reading client at load 46).
const IDLE_MS = 3000;
await writeFile(join(dir, 'initrd'), big);
await writeFile(join(dir, 'cfg'), 'DEFAULT linux\n');
// A sparse file past 4 GiB: offsets beyond 32 bits reach sendfile and pread intact.
const FAR = 5 * 2 ** 30 + 12345;
const farBytes = randomBytes(3 * 1024 * 1024);
const sparse = await open(join(dir, 'disk.img'), 'w');
await sparse.write(farBytes, 0, farBytes.length, FAR);
await sparse.close();
const sparseSize = FAR + farBytes.length;

/** What this process's descriptors point at (socket:[inode], file paths): a descriptor opened and left open shows as new. */
function openTargets(): Set<string> {
  const targets = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      targets.add(readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // closed while listed (the listing's own descriptor among them)
    }
  }
  return targets;
}
const leftOpen = (before: Set<string>) => [...openTargets()].filter((x) => !before.has(x));

function get(port: number, path: string, headers: Record<string, string> = {}, agent: Agent | false = false): Promise<{ res: IncomingMessage; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ res, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const modes: BodyMode[] = native ? ['sendfile', 'reads'] : ['reads'];
if (!native) t.comment('@netboot/platform is not loaded: only the reads mode is tested here');

for (const mode of modes) {
  t.test(`bodies by ${mode}`, async (t) => {
    const exchanges: HttpExchange[] = [];
    const server = new HttpBootServer({ root: dir, address: '127.0.0.1', port: 0, bodies: mode, idleTimeoutMs: IDLE_MS, onExchange: (e) => exchanges.push(e) });
    const { port } = await server.listen();
    t.teardown(() => server.close());
    t.equal(server.bodies, mode);
    const done = (target: string) => exchanges.filter((e): e is Extract<HttpExchange, { phase: 'done' }> => e.phase === 'done' && e.target === target);

    t.test('ranges: across buffer and turn boundaries, past 4 GiB, to the end', async (t) => {
      const mid = await get(port, '/initrd', { Range: 'bytes=1048575-5242881' });
      t.equal(mid.res.statusCode, 206);
      t.ok(mid.body.equals(big.subarray(1048575, 5242882)), 'the bytes of the range');
      const tail = await get(port, '/initrd', { Range: 'bytes=-4099' });
      t.ok(tail.body.equals(big.subarray(big.length - 4099)), 'a suffix range');
      const far = await get(port, '/disk.img', { Range: `bytes=${FAR - 10}-` });
      t.equal(far.res.headers['content-range'], `bytes ${FAR - 10}-${sparseSize - 1}/${sparseSize}`);
      t.ok(far.body.subarray(0, 10).equals(Buffer.alloc(10)), 'the hole reads as zeros');
      t.ok(far.body.subarray(10).equals(farBytes), 'the bytes past 4 GiB');
      const whole = await get(port, '/initrd');
      t.ok(whole.body.equals(big), 'the whole file');
    });

    t.test('keep-alive: the connection serves the next request after a body', async (t) => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      t.teardown(() => agent.destroy());
      const a = await get(port, '/initrd', {}, agent);
      const b = await get(port, '/initrd', { Range: 'bytes=100-199' }, agent);
      const c = await get(port, '/cfg', {}, agent);
      t.ok(a.body.equals(big));
      t.ok(b.body.equals(big.subarray(100, 200)));
      t.equal(c.body.toString(), 'DEFAULT linux\n');
      t.equal(a.res.socket, b.res.socket, 'one connection');
      t.equal(b.res.socket, c.res.socket, 'one connection');
    });

    t.test('pipelined: each body after the one before it, in order', async (t) => {
      const s = connect(port, '127.0.0.1');
      t.teardown(() => s.destroy());
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => chunks.push(c));
      s.write('GET /initrd HTTP/1.1\r\nHost: x\r\nRange: bytes=0-2999999\r\n\r\nGET /cfg HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      await once(s, 'end');
      const reply = Buffer.concat(chunks);
      const second = reply.indexOf('HTTP/1.1 200 OK');
      t.ok(second > 3_000_000, 'the second answer follows the whole first body');
      const firstBody = reply.subarray(reply.indexOf('\r\n\r\n') + 4, second);
      t.ok(firstBody.equals(big.subarray(0, 3_000_000)), 'the first body intact');
      t.match(reply.subarray(second).toString(), /\r\n\r\nDEFAULT linux\n$/);
    });

    t.test('a client that leaves mid-body: every descriptor closed, the server serving', async (t) => {
      const before = openTargets();
      const target = '/initrd?leave';
      await new Promise<void>((resolve) => {
        const req = request({ host: '127.0.0.1', port, path: target, agent: false }, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', () => {});
        req.end();
      });
      await until(() => done(target).length === 1, 'the end of the abandoned response');
      t.equal(done(target)[0].complete, false, 'told as incomplete');
      t.ok(done(target)[0].bytes < big.length);
      await until(() => leftOpen(before).length === 0, 'every descriptor of the response closed').catch(() => {});
      t.same(leftOpen(before), [], 'no file or socket descriptor left open');
      t.equal((await get(port, '/cfg')).body.toString(), 'DEFAULT linux\n');
    });

    t.test('a client that stops reading is dropped once idle', async (t) => {
      const before = openTargets();
      const target = '/initrd?stall';
      const s: Socket = connect(port, '127.0.0.1');
      s.on('error', () => {});
      const first = once(s, 'data');
      s.write(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
      await first;
      s.pause();
      await until(() => done(target).length === 1, 'the server dropping the stalled connection');
      t.equal(done(target)[0].complete, false);
      s.destroy();
      await until(() => leftOpen(before).length === 0, 'every descriptor of the response closed').catch(() => {});
      t.same(leftOpen(before), [], 'no file or socket descriptor left open');
    });

    t.test('a client that reads slowly for longer than the idle time gets everything', async (t) => {
      const target = '/initrd?slow';
      const s: Socket = connect(port, '127.0.0.1');
      t.teardown(() => s.destroy());
      s.pause();
      s.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      // The client's reading rate, not a wait: 256 KiB every 50 ms keeps the 24 MiB body going for about
      // 4.8 s, well over the server's idle time, with bytes moving all along.
      const chunks: Buffer[] = [];
      let allowance = 0;
      s.on('data', (c: Buffer) => {
        chunks.push(c);
        allowance -= c.length;
        if (allowance <= 0) s.pause();
      });
      s.pause();
      const pace = setInterval(() => {
        allowance = 256 * 1024;
        s.resume();
      }, 50);
      t.teardown(() => clearInterval(pace));
      await once(s, 'end');
      clearInterval(pace);
      const reply = Buffer.concat(chunks);
      const body = reply.subarray(reply.indexOf('\r\n\r\n') + 4);
      t.equal(body.length, big.length, 'every byte');
      t.ok(body.equals(big));
      await until(() => done(target).length === 1, 'the end of the slow response');
      t.equal(done(target)[0].complete, true);
    });
  });
}

if (native) {
  const n = native;
  t.test('a kernel the page cache lacks is read into it off the loop while another connection is served', async (t) => {
    const cold = evictableDir('http-cold-');
    t.teardown(() => rm(cold, { recursive: true, force: true }));
    const kernel = randomBytes(20 * 1024 * 1024 + 5);
    await writeFile(join(cold, 'vmlinuz'), kernel);
    await writeFile(join(cold, 'cfg'), 'DEFAULT linux\n');
    const script = randomBytes(10_000);
    await writeFile(join(cold, 'boot.ipxe'), script);
    for (const [name, size] of [['vmlinuz', kernel.length], ['boot.ipxe', script.length]] as const) {
      const fh = await open(join(cold, name), 'r');
      await fh.sync(); // DONTNEED lets go of clean pages only
      n.fadvise(fh.fd, 0, 0, n.constants.POSIX_FADV_DONTNEED);
      t.equal(n.cachedPages(fh.fd, 0, size).cached, 0, `${name} is not in the page cache`);
      await fh.close();
    }

    const exchanges: HttpExchange[] = [];
    const server = new HttpBootServer({ root: cold, address: '127.0.0.1', port: 0, onExchange: (e) => exchanges.push(e) });
    const { port } = await server.listen();
    t.teardown(() => server.close());
    const done = (target: string) => exchanges.filter((e): e is Extract<HttpExchange, { phase: 'done' }> => e.phase === 'done' && e.target === target);

    // A node fetches the cold kernel and reads none of it yet: its body stays under way.
    const s: Socket = connect(port, '127.0.0.1');
    t.teardown(() => s.destroy());
    s.pause();
    s.write('GET /vmlinuz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await until(() => exchanges.some((e) => e.phase === 'request' && e.target === '/vmlinuz'), 'the kernel request');
    const other = await get(port, '/cfg');
    t.equal(other.body.toString(), 'DEFAULT linux\n', 'another connection is answered');
    t.equal(done('/vmlinuz').length, 0, 'while the kernel is still being sent');

    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.resume();
    await once(s, 'end');
    const reply = Buffer.concat(chunks);
    t.ok(reply.subarray(reply.indexOf('\r\n\r\n') + 4).equals(kernel), 'the kernel, every byte');
    await until(() => done('/vmlinuz').length === 1, 'the end of the kernel response');
    const sent = done('/vmlinuz')[0];
    t.equal(sent.complete, true);
    t.ok(sent.uncached > 0 && sent.uncached <= kernel.length, `read into the page cache on the pool (${sent.uncached} bytes), not on the loop`);
    t.equal(done('/cfg')[0].uncached, 0, 'a file the cache held never left the loop');

    // A small body is read on the loop only when cached; a cold one goes the sendfile way (the refused
    // non-blocking read has started the kernel's readahead, which may have finished by the time it samples).
    const small = await get(port, '/boot.ipxe');
    t.ok(small.body.equals(script), 'a small cold file, every byte');
    await until(() => done('/boot.ipxe').length === 1, 'the end of the small response');
    t.equal(done('/boot.ipxe')[0].complete, true);
  });
}
