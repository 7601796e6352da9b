// The server's own request reading over real sockets: heads split across
// reads at any byte (the carry buffer, a pipelined request after a split
// head), more pipelined requests than the connection buffers (it stops
// reading, then catches up), HTTP/1.0 with and without keep-alive, a client
// that half-closes, each refusal status with its connection closed, and the
// head and keep-alive time limits; requests waiting behind a large body while
// other connections are read.
import t from 'tap';
import fc from 'fast-check';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpBootServer, MAX_HEAD, MAX_REQUEST_LINE } from '@netboot/http-boot';

const root = await mkdtemp(join(tmpdir(), 'http-wire-'));
t.teardown(() => rm(root, { recursive: true, force: true }));
await writeFile(join(root, 'a'), 'first file\n');
await writeFile(join(root, 'b'), 'second\n');

const server = new HttpBootServer({ root, address: '127.0.0.1', port: 0, headersTimeoutMs: 300, keepAliveTimeoutMs: 300 });
const { port } = await server.listen();
t.teardown(() => server.close());

interface Exchange {
  reply: string;
  /** The server ended the connection (FIN or reset). */
  closed: boolean;
}

/**
 * Writes `pieces` one after another on a fresh connection (each handed to the kernel before
 * the next, no Nagle delay), optionally half-closes, and collects everything until the server
 * ends the connection or `expect` holds of what arrived; then closes.
 */
async function exchange(pieces: Array<string | Buffer>, expect?: (reply: string) => boolean, halfClose = false): Promise<Exchange> {
  const s: Socket = connect(port, '127.0.0.1');
  s.setNoDelay(true);
  s.on('error', () => {});
  await once(s, 'connect');
  const chunks: Buffer[] = [];
  let closed = false;
  const finished = new Promise<void>((resolve) => {
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      if (expect?.(Buffer.concat(chunks).toString('latin1'))) resolve();
    });
    s.on('end', () => ((closed = true), resolve()));
    s.on('close', () => ((closed = true), resolve()));
  });
  for (const p of pieces) await new Promise<void>((resolve) => s.write(p, () => resolve()));
  if (halfClose) s.end();
  await finished;
  s.destroy();
  return { reply: Buffer.concat(chunks).toString('latin1'), closed };
}

const statuses = (reply: string) => [...reply.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
const bodies = (reply: string) => reply.split(/HTTP\/1\.1 \d{3} [^\r]*\r\n(?:[^\r]+\r\n)*\r\n/).slice(1);
const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;

t.test('property: pipelined requests cut at any bytes are answered in order', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.constantFrom('/a', '/b', '/missing'), { minLength: 1, maxLength: 6 }),
      fc.array(fc.nat(), { maxLength: 8 }),
      async (paths, cuts) => {
        const text = paths.map((p, i) => get(p, i === paths.length - 1 ? 'Connection: close\r\n' : '')).join('');
        const at = [...new Set(cuts.map((c) => c % text.length))].sort((x, y) => x - y);
        const pieces = [0, ...at].map((from, i, all) => text.slice(from, all[i + 1] ?? text.length)).filter((p) => p.length > 0);
        const r = await exchange(pieces);
        const want = paths.map((p) => (p === '/missing' ? 404 : 200));
        return r.closed && JSON.stringify(statuses(r.reply)) === JSON.stringify(want) && bodies(r.reply)[0] === (paths[0] === '/a' ? 'first file\n' : paths[0] === '/b' ? 'second\n' : 'Not Found\n');
      },
    ),
    { numRuns: 40 },
  );
});

t.test('a head split inside a field, with the next request in the same read as its end', async (t) => {
  const r = await exchange(['GET /a HTTP/1.1\r\nHo', `st: x\r\n\r\n${get('/b', 'Connection: close\r\n')}`]);
  t.same(statuses(r.reply), [200, 200]);
  t.same(bodies(r.reply), ['first file\n', 'second\n']);
  t.ok(r.closed);
});

t.test('more pipelined requests than the connection holds: all answered, in order', async (t) => {
  const n = Math.ceil((3 * 64 * 1024) / get('/b').length);
  const text = get('/a') + get('/b').repeat(n - 2) + get('/a', 'Connection: close\r\n');
  const r = await exchange([text]);
  const got = statuses(r.reply);
  t.equal(got.length, n, `${n} answers`);
  t.ok(got.every((s) => s === 200));
  const b = bodies(r.reply);
  t.equal(b[0], 'first file\n');
  t.equal(b[n - 1], 'first file\n');
  t.equal(b[n - 2], 'second\n');
});

t.test('requests waiting behind a body under way keep their bytes while other connections are read', async (t) => {
  // Every connection's socket reads into one shared buffer: what one connection has not answered yet must
  // survive the reads of another. A body larger than the socket buffers, to a client that does not read yet,
  // keeps the first connection's answer under way while the second exchanges requests.
  const big = Buffer.alloc(16 * 1024 * 1024);
  for (let i = 0; i < big.length; i += 4) big.writeUInt32BE(i, i);
  await writeFile(join(root, 'big'), big);
  const s: Socket = connect(port, '127.0.0.1');
  s.on('error', () => {});
  await once(s, 'connect');
  s.pause();
  s.write(get('/big') + get('/a') + get('/b', 'Connection: close\r\n'));
  // The first bytes of the answer: the server has read and decoded the request before them.
  await once(s, 'readable');
  for (let i = 0; i < 5; i++) {
    const other = await exchange([get('/b') + get('/missing') + get('/a', 'Connection: close\r\n')]);
    t.same(statuses(other.reply), [200, 404, 200], 'the other connection is answered meanwhile');
  }
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  s.resume();
  await once(s, 'end');
  s.destroy();
  const reply = Buffer.concat(chunks);
  const headEnd = reply.indexOf('\r\n\r\n') + 4;
  t.match(reply.subarray(0, headEnd).toString('latin1'), /^HTTP\/1\.1 200 OK\r\n[^]*Content-Length: 16777216\r\n/);
  t.ok(reply.subarray(headEnd, headEnd + big.length).equals(big), 'the large body whole');
  const rest = reply.subarray(headEnd + big.length).toString('latin1');
  t.same(statuses(rest), [200, 200], 'then the two requests behind it');
  t.same(bodies(rest), ['first file\n', 'second\n']);
});

t.test('HTTP/1.0: closed after the answer unless keep-alive is asked for', async (t) => {
  const plain = await exchange(['GET /a HTTP/1.0\r\n\r\n']);
  t.match(plain.reply, /^HTTP\/1\.1 200 OK\r\n[^]*Connection: close\r\n\r\nfirst file\n$/);
  t.ok(plain.closed);
  const kept = await exchange(['GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n']);
  t.same(statuses(kept.reply), [200, 200]);
  t.match(kept.reply, /Connection: keep-alive\r\n\r\nfirst file\n/);
  t.ok(kept.closed);
});

t.test('a client that sends its requests and its FIN at once is answered', async (t) => {
  const r = await exchange([get('/a') + get('/b')], undefined, true);
  t.same(statuses(r.reply), [200, 200]);
  t.ok(r.closed);
});

t.test('HEAD: the fields of a GET, no body', async (t) => {
  const r = await exchange([`HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n${get('/b', 'Connection: close\r\n')}`]);
  t.match(r.reply, /^HTTP\/1\.1 200 OK\r\n[^]*Content-Length: 11\r\n[^]*\r\n\r\nHTTP\/1\.1 200 OK\r\n/, 'the next answer follows the fields at once');
});

t.test('refusals: their status, Connection: close, the connection ended', async (t) => {
  const cases: Array<[string, string | Buffer]> = [
    ['414', `GET /${'a'.repeat(MAX_REQUEST_LINE)} HTTP/1.1\r\nHost: x\r\n\r\n`],
    ['431', `GET /a HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(MAX_HEAD)}\r\n\r\n`],
    ['501', 'BREW /a HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['501', 'GET /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['400', 'GET /a HTTP/1.1\r\n\r\n'],
    ['400', 'GET /a HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n'],
    ['400', Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00])],
  ];
  for (const [status, input] of cases) {
    const r = await exchange([input, get('/a')]);
    t.match(r.reply, new RegExp(`^HTTP/1\\.1 ${status} [^]*Connection: close\\r\\n`), `${status} for ${JSON.stringify(input.toString('latin1').slice(0, 30))}`);
    t.equal(statuses(r.reply).length, 1, 'nothing after it is answered');
    t.ok(r.closed);
  }
  const withBody = await exchange(['GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello', get('/b')]);
  t.same(statuses(withBody.reply), [200], 'a request with a body is answered, and its connection ended');
  t.match(withBody.reply, /Connection: close\r\n/);
  const post = await exchange([`POST /a HTTP/1.1\r\nHost: x\r\n\r\n${get('/b', 'Connection: close\r\n')}`]);
  t.same(statuses(post.reply), [405, 200], 'a known method without a body: 405 and the connection kept');
  t.match(post.reply, /Allow: GET, HEAD\r\n/);
});

t.test('time limits: an unfinished head gets 408, an idle connection is closed', async (t) => {
  const slow = await exchange(['GET /a HTTP/1.1\r\nHost: x\r\n']);
  t.match(slow.reply, /^HTTP\/1\.1 408 /);
  t.ok(slow.closed);
  const idle = await exchange([get('/a')], undefined);
  t.same(statuses(idle.reply), [200], 'answered, then closed when idle');
  t.ok(idle.closed);
  const silent = await exchange([]);
  t.equal(silent.reply, '', 'a connection that sends nothing is closed without a word');
  t.ok(silent.closed);
});
