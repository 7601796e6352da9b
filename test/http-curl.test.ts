import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { netbootCli } from './support/paths.js';
import { run, start } from './support/processes.js';
import { requirePrograms } from './support/programs.js';

/*
 * curl, the client nobody here wrote, against `netboot http` on a free
 * loopback port: a whole file, a range, HEAD, two URLs over one kept-alive
 * connection, and escapes out of the root refused.
 */

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const progs = requirePrograms(t, { curl: 'curl' });

if (progs) {
  const curl = (args: string[]) => run(progs.curl, ['-s', '--max-time', '20', ...args], { timeoutMs: 30_000 });
  const dir = await mkdtemp(join(tmpdir(), 'http-curl-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'root');
  await mkdir(join(root, 'pxelinux.cfg'), { recursive: true });
  const initrd = randomBytes(8 * 1024 * 1024 + 3);
  await writeFile(join(root, 'initrd.gz'), initrd);
  await writeFile(join(root, 'pxelinux.cfg', 'default'), 'DEFAULT linux\n');
  await writeFile(join(dir, 'secret'), 'not for nodes\n');
  await symlink('../secret', join(root, 'leak'));
  await writeFile(join(dir, 'remap'), 'r ^images/(.*) \\1\n');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = start(t, process.execPath, [netbootCli, 'http', '--root', root, '--listen', '127.0.0.1', '--port', String(port), '--remap', join(dir, 'remap')]);
  await server.waitFor(/http: listening on 127\.0\.0\.1 port \d+/);

  t.test('the whole file, and one range of it', async (t) => {
    const out = join(dir, 'got');
    const whole = await curl(['-o', out, '-w', '%{http_code} %{size_download}', `${base}/images/initrd.gz`]);
    t.equal(whole.stdout, `200 ${initrd.length}`);
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const got = await run('sha256sum', [out]);
    t.equal(got.stdout.split(' ')[0], sha(initrd), 'same bytes, through the remap rule');
    const part = await curl(['-r', '1000-1999', '-o', out, '-D', '-', `${base}/initrd.gz`]);
    t.match(part.stdout, /^HTTP\/1\.1 206 /);
    t.match(part.stdout, new RegExp(`Content-Range: bytes 1000-1999/${initrd.length}`, 'i'));
    const { readFile } = await import('node:fs/promises');
    t.ok((await readFile(out)).equals(initrd.subarray(1000, 2000)), 'the range');
    const past = await curl(['-r', `${initrd.length}-`, '-o', '/dev/null', '-w', '%{http_code}', `${base}/initrd.gz`]);
    t.equal(past.stdout, '416');
  });

  t.test('HEAD: the length without the body', async (t) => {
    const head = await curl(['-I', `${base}/initrd.gz`]);
    t.match(head.stdout, new RegExp(`Content-Length: ${initrd.length}\\r?\\n`, 'i'));
    t.match(head.stdout, /Accept-Ranges: bytes/i);
  });

  t.test('keep-alive: two URLs in one curl call, one connection', async (t) => {
    const two = await curl(['-v', '-o', '/dev/null', '-o', '/dev/null', `${base}/pxelinux.cfg/default`, `${base}/initrd.gz`]);
    t.match(two.stderr, /Re-using existing connection/);
    t.equal(two.stderr.match(/Connected to 127\.0\.0\.1/g)?.length, 1, 'connected once');
  });

  t.test('escapes are refused, nothing is listed', async (t) => {
    const code = async (path: string) => (await curl(['--path-as-is', '-o', '/dev/null', '-w', '%{http_code}', `${base}${path}`])).stdout;
    t.equal(await code('/../secret'), '403');
    t.equal(await code('/pxelinux.cfg/../../secret'), '403');
    t.equal(await code('/%2e%2e/secret'), '403');
    t.equal(await code('/leak'), '403', 'a symlink out of the root');
    t.equal(await code('/'), '403', 'no directory listing');
    t.equal(await code('/pxelinux.cfg/'), '403');
    t.equal(await code('/no-such-file'), '404');
    const post = await curl(['-X', 'POST', '-o', '/dev/null', '-w', '%{http_code}', `${base}/initrd.gz`]);
    t.equal(post.stdout, '405');
  });

  t.test('one combined-format access line per response', async (t) => {
    t.match(server.output(), /http: 127\.0\.0\.1 - - \[[^\]]+\] "GET \/images\/initrd\.gz HTTP\/1\.1" 200 8388611 "-" "curl\/[^"]+"/);
    t.match(server.output(), /"GET \/\.\.\/secret HTTP\/1\.1" 403 /);
  });

  t.test('stops on SIGTERM', async (t) => {
    t.equal(await server.stop(5000), 0);
  });
}
