import t from 'tap';
import { request, Agent } from 'node:http';
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { native } from '@netboot/platform';
import { parseRemap } from '@netboot/tftp-wire';
import { HttpBootServer } from '@netboot/http-boot';
import { until } from '../../../test/support/until.js';

const dir = await mkdtemp(join(tmpdir(), 'http-boot-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const root = join(dir, 'root');
await mkdir(join(root, 'pxelinux.cfg'), { recursive: true });
const kernel = randomBytes(3 * 1024 * 1024 + 17);
await writeFile(join(root, 'vmlinuz'), kernel);
await writeFile(join(root, 'pxelinux.cfg', 'default'), 'DEFAULT linux\n');
await writeFile(join(root, 'empty'), '');
await writeFile(join(dir, 'secret'), 'outside the root\n');
await symlink('../secret', join(root, 'leak'));
await symlink('vmlinuz', join(root, 'kernel-link'));

const access: string[] = [];
const server = new HttpBootServer({
  root,
  address: '127.0.0.1',
  port: 0,
  remap: parseRemap('r ^boot/(.*) \\1\na ^forbidden'),
  accessLog: (line) => access.push(line),
});
const { port } = await server.listen();
t.teardown(() => server.close());
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
t.teardown(() => agent.destroy());

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  socket: Socket;
}

function get(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks), socket: res.socket }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('GET sends the file with its length; HEAD the same headers without it', async (t) => {
  const r = await get('/vmlinuz');
  t.equal(r.status, 200);
  t.equal(r.headers['content-length'], String(kernel.length));
  t.equal(r.headers['accept-ranges'], 'bytes');
  t.equal(r.headers['content-type'], 'application/octet-stream');
  t.ok(r.body.equals(kernel), 'every byte');
  const h = await get('/vmlinuz', {}, 'HEAD');
  t.equal(h.status, 200);
  t.equal(h.headers['content-length'], String(kernel.length));
  t.equal(h.body.length, 0);
  const cfg = await get('/pxelinux.cfg/default');
  t.equal(cfg.headers['content-type'], 'text/plain; charset=utf-8');
  t.equal(cfg.body.toString(), 'DEFAULT linux\n');
  t.equal((await get('/empty')).headers['content-length'], '0');
});

t.test('one byte range: 206 with Content-Range; past the end: 416', async (t) => {
  const r = await get('/vmlinuz', { Range: 'bytes=1048570-1048580' });
  t.equal(r.status, 206);
  t.equal(r.headers['content-range'], `bytes 1048570-1048580/${kernel.length}`);
  t.ok(r.body.equals(kernel.subarray(1048570, 1048581)));
  const tail = await get('/vmlinuz', { Range: 'bytes=-5' });
  t.ok(tail.body.equals(kernel.subarray(kernel.length - 5)));
  const past = await get('/vmlinuz', { Range: `bytes=${kernel.length}-` });
  t.equal(past.status, 416);
  t.equal(past.headers['content-range'], `bytes */${kernel.length}`);
  const many = await get('/vmlinuz', { Range: 'bytes=0-1,5-6' });
  t.equal(many.status, 200, 'several ranges: the whole file');
  t.equal(many.body.length, kernel.length);
});

t.test('keep-alive: requests one after another share a connection', async (t) => {
  const a = await get('/pxelinux.cfg/default');
  const b = await get('/vmlinuz', { Range: 'bytes=0-9' });
  const c = await get('/nothing-here');
  t.equal(a.socket, b.socket);
  t.equal(b.socket, c.socket, 'a 404 keeps the connection too');
});

/** This process's descriptor of the IPv4 loopback connection from local port `local` to `remote` (its socket inode in /proc/self/net/tcp, then the fd that links to it). */
function connectionFd(local: number, remote: number): number | undefined {
  const hex = (p: number) => `:${p.toString(16).toUpperCase().padStart(4, '0')}`;
  const row = readFileSync('/proc/self/net/tcp', 'utf8')
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .find((f) => f[1]?.endsWith(hex(local)) && f[2]?.endsWith(hex(remote)));
  if (!row) return undefined;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === `socket:[${row[9]}]`) return Number(fd);
    } catch {
      // closed while listed
    }
  }
  return undefined;
}

t.test('every connection has the fixed send buffer the listener was given', { skip: native ? false : 'no @netboot/platform' }, async (t) => {
  const size = server.sendBuffer;
  t.type(size, 'number', 'set once listening');
  // A connection of its own, open while its server side is looked up.
  const client = connect(port, '127.0.0.1');
  t.teardown(() => client.destroy());
  await once(client, 'connect');
  const chunks: Buffer[] = [];
  let got = 0;
  let bodyAt = -1;
  client.on('data', (c: Buffer) => {
    chunks.push(c);
    got += c.length;
    if (bodyAt < 0) {
      const end = Buffer.concat(chunks).indexOf('\r\n\r\n');
      if (end >= 0) bodyAt = end + 4;
    }
  });
  client.write('GET /vmlinuz HTTP/1.1\r\nHost: x\r\n\r\n');
  while (bodyAt < 0 || got - bodyAt < kernel.length) await once(client, 'data');
  t.ok(Buffer.concat(chunks).subarray(bodyAt).equals(kernel), 'a body sent through it');
  const fd = connectionFd(port, client.localPort!);
  t.type(fd, 'number', "the server's side of the connection");
  t.equal(native!.sendBufferSize(fd!), size, 'the same size, not one the kernel grew');
});

t.test('the secure root: no .., no symlink out, no listing, remap applied', async (t) => {
  t.equal((await get('/../secret')).status, 403);
  t.equal((await get('/%2e%2e/secret')).status, 403);
  t.equal((await get('/leak')).status, 403, 'symlink leading out');
  t.equal((await get('/kernel-link')).body.length, kernel.length, 'symlink inside');
  t.equal((await get('/')).status, 403);
  t.equal((await get('/pxelinux.cfg')).status, 403);
  t.equal((await get('/pxelinux.cfg/')).status, 403);
  t.equal((await get('/missing')).status, 404);
  t.equal((await get(`/${root}/vmlinuz`)).status, 200, 'the root spelled absolutely, as tftp-hpa allows');
  t.equal((await get('/etc/passwd')).status, 404);
  t.equal((await get('/boot/vmlinuz')).body.length, kernel.length, 'remapped');
  t.equal((await get('/forbidden-file')).status, 403, 'refused by a remap rule');
  t.equal((await get('/a%00b')).status, 400);
});

t.test('only GET and HEAD', async (t) => {
  for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
    const r = await get('/vmlinuz', {}, method);
    t.equal(r.status, 405, method);
    t.equal(r.headers.allow, 'GET, HEAD');
  }
});

t.test('access log: one combined-format line per response', async (t) => {
  access.length = 0;
  // A line is written once the server has seen its response end (the file closed), which can be
  // after the client has read the last byte: each is waited for.
  await get('/vmlinuz', { Range: 'bytes=0-99', 'User-Agent': 'iPXE/1.0.0' });
  await until(() => access.length === 1, 'the access line of the range request');
  await get('/missing');
  await until(() => access.length === 2, 'the access line of the 404');
  t.match(access[0], /^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET \/vmlinuz HTTP\/1\.1" 206 100 "-" "iPXE\/1\.0\.0"$/);
  t.match(access[1], /"GET \/missing HTTP\/1\.1" 404 \d+ "-" "-"$/);
});

t.test('a client that goes away mid-file leaves the server serving', async (t) => {
  await new Promise<void>((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/vmlinuz' }, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.end();
  });
  const r = await get('/pxelinux.cfg/default');
  t.equal(r.status, 200);
});

t.test('log lines show the control characters of a requested name escaped', async (t) => {
  const lines: string[] = [];
  const logged = new HttpBootServer({ root, address: '127.0.0.1', port: 0, remap: parseRemap('r ^boot/(.*) \\1'), log: (level, message) => lines.push(`${level} ${message}`) });
  const { port: p } = await logged.listen();
  t.teardown(() => logged.close());
  // The target is percent-encoded; the name it decodes to (here remapped) holds ESC [ 2 J, a terminal's "clear screen".
  const r = await new Promise<number>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: p, path: '/boot/a%1b%5b2Jb' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end();
  });
  t.equal(r, 404);
  await until(() => lines.some((l) => l.includes('remapped to')), 'the remapped name is logged');
  t.ok(lines.some((l) => l.includes('remapped to a\\x1b[2Jb')), `the name escaped: ${JSON.stringify(lines)}`);
  t.notOk(lines.some((l) => /[\u0000-\u001f\u007f-\u009f]/.test(l)), 'no control character in any line');
});
