import t from 'tap';
import { request, Agent } from 'node:http';
import { appendFileSync, chmodSync, linkSync, openSync, statSync } from 'node:fs';
import { mkdtemp, mkdir, readdir, readlink, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { native } from '@netboot/platform';
import { HttpBootServer } from '@netboot/http-boot';
import { ServedRoot } from '@netboot/tftp-wire';
import { OpenFiles } from '../src/open-files.js';
import { start } from '../../../test/support/processes.js';
import { untilAsync } from '../../../test/support/until.js';

// Descriptors are held between requests only with the platform module; without it every request opens its file.
const dir = await mkdtemp(join(tmpdir(), 'http-open-files-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const root = join(dir, 'root');
await mkdir(join(root, 'd'), { recursive: true });
await mkdir(join(dir, 'outside-d'));
await writeFile(join(root, 'cfg'), 'first\n');
await writeFile(join(root, 'inside'), 'inside the root\n');
await writeFile(join(root, 'd', 'f'), 'inside d\n');
await writeFile(join(dir, 'secret'), 'secret outside\n');
await writeFile(join(dir, 'outside-d', 'f'), 'secret outside d\n');
await symlink('inside', join(root, 'link'));
await symlink(join(dir, 'secret'), join(root, 'link.other'));
await symlink(join(dir, 'outside-d'), join(root, 'd.other'));
const big = randomBytes(8 * 1024 * 1024);
await writeFile(join(root, 'big'), big);

const server = new HttpBootServer({ root, address: '127.0.0.1', port: 0, idleTimeoutMs: 30_000 });
const { port } = await server.listen();
let closed = false;
t.teardown(() => (closed ? undefined : server.close()));
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
t.teardown(() => agent.destroy());

function get(path: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** This process's descriptors open on files under the test's directory. */
async function heldUnder(): Promise<string[]> {
  const out: string[] = [];
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target.startsWith(dir)) out.push(target);
  }
  return out;
}

t.test('a file renamed over, rewritten or deleted is served as it is now, at the next request', async (t) => {
  t.equal((await get('/cfg')).body.toString(), 'first\n');
  t.equal((await get('/cfg')).body.toString(), 'first\n', 'again, from the held descriptor');
  await writeFile(join(root, 'cfg.new'), 'second, longer\n');
  await rename(join(root, 'cfg.new'), join(root, 'cfg'));
  t.equal((await get('/cfg')).body.toString(), 'second, longer\n', 'renamed over');
  await writeFile(join(root, 'cfg'), 'third\n');
  t.equal((await get('/cfg')).body.toString(), 'third\n', 'rewritten in place, shorter');
  await unlink(join(root, 'cfg'));
  t.equal((await get('/cfg')).status, 404, 'deleted');
  t.same(
    (await heldUnder()).filter((p) => p.includes('cfg')),
    [],
    'no descriptor kept on a deleted file',
  );
});

t.test('a file replaced while a response from it is under way: that response ends with the old bytes, the next has the new', async (t) => {
  const replacement = randomBytes(1000);
  const first = new Promise<Buffer>((resolve, reject) => {
    // Its own connection, read slowly at first, so the old descriptor stays in use across the replacement.
    const req = request({ host: '127.0.0.1', port, path: '/big' }, (res) => {
      const chunks: Buffer[] = [];
      res.pause();
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks)));
      res.on('error', reject);
      void (async () => {
        await writeFile(join(root, 'big.new'), replacement);
        await rename(join(root, 'big.new'), join(root, 'big'));
        const next = await get('/big');
        t.ok(next.body.equals(replacement), 'the new file at once');
        res.resume();
      })().catch(reject);
    });
    req.on('error', reject);
    req.end();
  });
  t.ok((await first).equals(big), 'the response under way: every old byte');
});

t.test('one held descriptor serves several responses at once, each from its own offset', async (t) => {
  const whole = randomBytes(6 * 1024 * 1024 + 5);
  await writeFile(join(root, 'shared'), whole);
  t.ok((await get('/shared')).body.equals(whole), 'held after this request');
  const bodies = await Promise.all(
    Array.from(
      { length: 8 },
      () =>
        new Promise<Buffer>((resolve, reject) => {
          // Separate connections: the bodies leave side by side, by sendfile from the same descriptor.
          const req = request({ host: '127.0.0.1', port, path: '/shared', agent: false }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve(Buffer.concat(chunks)));
            res.on('error', reject);
          });
          req.on('error', reject);
          req.end();
        }),
    ),
  );
  for (const b of bodies) t.ok(b.equals(whole), 'every byte');
});

t.test('symlinks swapped to lead out of the root while requests run: nothing outside is ever served', { skip: native ? false : 'needs @netboot/platform (RENAME_EXCHANGE)' }, async (t) => {
  // A process of its own swaps, atomically and without pause, root/link between a link to a file
  // inside and one to a file outside, and the directory root/d with a link to a directory outside.
  const swapper = start(
    t,
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { native } = await import('@netboot/platform');
       const c = native.constants;
       const dirfd = native.openat2(c.AT_FDCWD, process.argv[1], c.O_PATH | c.O_DIRECTORY, 0, 0);
       console.log('swapping');
       const end = Date.now() + 60_000;
       for (let i = 0; i < 50_000_000 && Date.now() < end; i++) {
         native.renameat2(dirfd, 'link', dirfd, 'link.other', c.RENAME_EXCHANGE);
         native.renameat2(dirfd, 'd', dirfd, 'd.other', c.RENAME_EXCHANGE);
       }`,
      root,
    ],
    { cwd: process.cwd() },
  );
  await swapper.waitFor(/swapping/, 30_000);
  const seen: Record<string, Record<number, number>> = { '/link': {}, '/d/f': {} };
  const expected: Record<string, string> = { '/link': 'inside the root\n', '/d/f': 'inside d\n' };
  const both = () => Object.values(seen).every((s) => (s[200] ?? 0) > 0 && (s[403] ?? 0) > 0);
  const deadline = Date.now() + 30_000;
  let requests = 0;
  let wrong = 0;
  while (requests < 20_000 && Date.now() < deadline && (requests < 400 || !both())) {
    for (const path of ['/link', '/d/f']) {
      const r = await get(path);
      requests++;
      seen[path][r.status] = (seen[path][r.status] ?? 0) + 1;
      if (r.status !== 403 && !(r.status === 200 && r.body.toString() === expected[path])) wrong++;
    }
  }
  await swapper.stop();
  t.equal(wrong, 0, `every answer the inside file or 403 (${JSON.stringify(seen)} in ${requests} requests)`);
  t.ok(both(), 'both answers seen for both names: the swaps raced the requests');
});

t.test("a held descriptor is let go once its inode's status changes (mode, owner, links, a write), as a new open would see it", { skip: native ? false : 'descriptors are held only with the platform module' }, async (t) => {
  const served = await ServedRoot.start(root, () => {});
  t.teardown(() => served.close());
  const files = new OpenFiles();
  t.teardown(() => files.close());
  await writeFile(join(root, 'status'), 'status\n');
  const hold = () => files.hold('status', openSync(join(root, 'status'), 'r'), 0)!;
  files.release(hold());
  const again = files.use(served, 'status', 0);
  t.ok(again, 'unchanged: the held descriptor is used again');
  files.release(again!);
  for (const [what, change] of [
    ['chmod', (i: number) => chmodSync(join(root, 'status'), i % 2 ? 0o644 : 0o600)],
    ['a new link', (i: number) => linkSync(join(root, 'status'), join(root, `status.link${i}`))],
    ['a write in place', () => appendFileSync(join(root, 'status'), 'more\n')],
  ] as const) {
    // The change time's clock ticks coarsely (a change in the tick of the last one leaves it as it was):
    // the change is made again until it shows in the inode, bounded.
    const before = statSync(join(root, 'status'), { bigint: true }).ctimeNs;
    for (let i = 0; i < 1000 && statSync(join(root, 'status'), { bigint: true }).ctimeNs === before; i++) change(i);
    t.equal(files.use(served, 'status', 0), undefined, `after ${what}: let go, for the caller to open it anew`);
    files.release(hold());
  }
});

t.test('no descriptor is left open once the server is closed', async (t) => {
  for (const name of ['/inside', '/link', '/d/f', '/big', '/missing']) await get(name);
  agent.destroy();
  await server.close();
  closed = true;
  await untilAsync(async () => (await heldUnder()).length === 0, 'every file descriptor closed', 10_000, 20);
  t.same(await heldUnder(), []);
});
