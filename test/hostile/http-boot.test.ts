import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { start } from '../support/processes.js';
import { netbootCli } from '../support/paths.js';

// The HTTP boot-file server against clients that misbehave: garbage instead
// of requests, oversized headers, pipelined requests, a thousand idle
// connections, a reader that never reads, and every spelling of a way out of
// the root. The server is the shipped `netboot http` on loopback; after each
// attack it must still answer a plain GET, and it must not have exited.

const root = mkdtempSync(join(tmpdir(), 'hostile-http-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
mkdirSync(join(root, 'pxelinux.cfg'));
writeFileSync(join(root, 'pxelinux.0'), 'the boot loader');
writeFileSync(join(root, 'initrd.gz'), randomBytes(32 * 1024 * 1024));
symlinkSync('/etc', join(root, 'etc-link'));
symlinkSync('/etc/passwd', join(root, 'passwd-link'));

// --verbose: it also logs a client that leaves mid-file, which the test waits for.
const proc = start(t, process.execPath, [netbootCli, 'http', '--root', root, '--listen', '127.0.0.1', '--port', '0', '--verbose']);
const port = Number((await proc.waitFor(/listening on \S+ port (\d+)/))[1]);

/** Sends raw bytes on a fresh connection; resolves with all it got back when the server closes or `ms` pass. */
function raw(bytes: Buffer | string, ms = 3000): Promise<{ reply: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve({ reply: Buffer.concat(chunks).toString('latin1'), closed });
    };
    const timer = setTimeout(done, ms);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => ((closed = true), done()));
    s.on('error', () => ((closed = true), done()));
    s.write(bytes);
  });
}

async function stillServes(t: Test) {
  const r = await fetch(`http://127.0.0.1:${port}/pxelinux.0`);
  t.equal(await r.text(), 'the boot loader', 'still serves a plain GET');
  t.equal(proc.child.exitCode, null, 'the server did not exit');
}

t.test('garbage instead of a request: 400 and the connection closed', async (t) => {
  const inputs = [
    Buffer.from('\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03'), // a TLS ClientHello
    Buffer.from('GET / HTTP/9.9\r\n\r\n'),
    Buffer.from('GET /pxelinux.0 HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n'),
    Buffer.from('GET /pxelinux.0 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n'),
    Buffer.from('GET /\x00 HTTP/1.1\r\n\r\n'),
    // Random bytes after a NUL, which no request line starts with: a prefix of a valid request would
    // rightly be waited for (that case is the slowloris test below).
    ...Array.from({ length: 60 }, (_, i) => Buffer.concat([Buffer.from([0]), randomBytes((i * 97) % 3000)])),
  ];
  for (const input of inputs) {
    const r = await raw(input);
    t.ok(r.closed, `closed after ${input.length} bytes of garbage`);
    t.match(r.reply, /^(HTTP\/1\.1 400 |$)/, 'answered 400 or nothing');
  }
  await stillServes(t);
});

t.test('a request that never completes is closed within seconds (slowloris)', async (t) => {
  const started = Date.now();
  const [blank, partial] = await Promise.all([raw('\r\n\r\n\r\n', 20_000), raw('GET /pxelinux.0 HTTP/1.1\r\nHost: x\r\n', 20_000)]);
  t.ok(blank.closed && partial.closed, 'both closed by the server before the client gave up at 20 s');
  t.match(partial.reply, /^(HTTP\/1\.1 408 |$)/, '408 or nothing');
  t.comment(`closed after ${((Date.now() - started) / 1000).toFixed(1)} s (headers timeout 10 s, checked every 2 s)`);
  await stillServes(t);
});

t.test('oversized headers: 431, no hang', async (t) => {
  const r = await raw(`GET /pxelinux.0 HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(20_000)}\r\n\r\n`);
  t.match(r.reply, /^HTTP\/1\.1 431 /);
  t.ok(r.closed);
  const long = await raw(`GET /${'a/'.repeat(3000)}x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  t.match(long.reply, /^HTTP\/1\.1 404 /, 'a long path is only not found');
  await stillServes(t);
});

t.test('pipelined requests are answered in order on one connection', async (t) => {
  const req = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;
  const r = await raw(req('/pxelinux.0') + req('/missing') + req('/../etc/passwd') + req('/pxelinux.0', 'Range: bytes=4-7\r\nConnection: close\r\n'));
  const statuses = [...r.reply.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
  t.same(statuses, ['200', '404', '403', '206']);
  t.match(r.reply, /\r\n\r\nboot$/, 'the last answer is the range');
  t.ok(r.closed, 'closed after Connection: close');
});

t.test('the ways out of the root', async (t) => {
  const paths = [
    '/../etc/passwd', '/..%2fetc/passwd', '/%2e%2e/etc/passwd', '/%2E%2E/%2e%2e/etc/passwd', '/pxelinux.cfg/../../etc/passwd',
    '/etc-link/passwd', '/passwd-link', '//etc/passwd', `/${root}/../etc/passwd`, '/..', '/.%2e/etc/passwd',
    'http://x/../etc/passwd',
  ];
  for (const p of paths) {
    const r = await raw(`GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    t.match(r.reply, /^HTTP\/1\.1 (403|404|400) /, `${p} refused`);
    t.notMatch(r.reply, /root:x:0:0/, `${p} leaks nothing`);
  }
  const listing = await raw('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.match(listing.reply, /^HTTP\/1\.1 403 /);
  t.notMatch(listing.reply, /pxelinux|initrd/, 'no listing');
  t.match(proc.output(), /refused: .*contains "\.\."/, 'refusals are logged');
});

t.test('a thousand idle connections and a reader that never reads do not block others', async (t) => {
  const idle = await Promise.all(
    Array.from({ length: 1000 }, () => new Promise<import('node:net').Socket>((resolve) => {
      const s = connect(port, '127.0.0.1', () => resolve(s));
      s.on('error', () => resolve(s));
    })),
  );
  const stalled = connect(port, '127.0.0.1');
  // It takes the first bytes of the 32 MiB body, so the server is sending, then never reads again.
  const sending = new Promise((r) => stalled.once('data', r));
  stalled.write('GET /initrd.gz HTTP/1.1\r\nHost: x\r\n\r\n');
  await sending;
  stalled.pause();
  try {
    await stillServes(t);
  } finally {
    for (const s of idle) s.destroy();
    stalled.destroy();
  }
  await proc.waitFor(/went away before \/initrd\.gz was sent in full/);
  await stillServes(t);
});

t.test('stops cleanly', async (t) => {
  t.equal(await proc.stop(5000), 0);
});
