import t, { type Test } from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpBootServer } from '@netboot/http-boot';
import { platformStatus } from '@netboot/platform';
import { startSwapRacer } from './swap-racer.js';
import { differences, snapshot } from './tree-snapshot.js';

// What this guards against: an HTTP boot-file server that resolves a
// requested path under its root (realpath, "still inside?") and then opens
// the resolved path again can be redirected between the two: a local user
// on the master swaps a directory on the path, or the file itself, for a
// symlink to a directory outside the root, and the open follows it out,
// sending a file from outside the root.
//
// The scene: a root with dir/f-0 .. dir/f-255 and kernel, and beside it (not
// below it) a directory "outside" holding the same names with other
// content. While GETs are in flight (several keep-alive connections, each
// with its next request sent as soon as the last one ends), a worker thread
// flips root/dir (or root/kernel) between the real object and a symlink
// into outside, as fast as rename(2) goes. Checked: no response ever carried
// outside content, and nothing outside changed (entries, content, mode,
// owner, size, atime/mtime/ctime to the nanosecond: a read there shows in
// its atime). Each case runs MAX_ROUNDS requests or BUDGET_MS, whichever
// comes first, and stops at the first escape it sees; at least one request
// must have been served, so a server refusing everything cannot pass.
// Without the platform module (portable mode) the server opens by path and
// says at start that this race is open: the test skips there, naming why,
// except in CI, where the module must load and the race must run.

const platform = platformStatus();
const portable = platform.mode === 'portable' && !process.env.CI ? `portable mode (${platform.why}): without the platform module the server opens by path, and says the race is open` : false;
const MAX_ROUNDS = 5000;
const BUDGET_MS = 12_000;
const LANES = 8;
const FILES = 256;
const MAX_FLIPS = 10_000_000;

interface Scene {
  root: string;
  outside: string;
  port: number;
}

async function scene(t: Test): Promise<Scene> {
  const base = mkdtempSync(join(tmpdir(), 'escape-race-http-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const root = join(base, 'root');
  const outside = join(base, 'outside');
  mkdirSync(join(root, 'dir'), { recursive: true });
  mkdirSync(outside);
  for (let i = 0; i < FILES; i++) {
    writeFileSync(join(root, 'dir', `f-${i}`), `inside f-${i}\n`);
    writeFileSync(join(outside, `f-${i}`), `OUTSIDE f-${i}: never to be served\n`);
  }
  writeFileSync(join(root, 'kernel'), 'inside kernel\n');
  writeFileSync(join(outside, 'kernel'), 'OUTSIDE kernel: never to be served\n');
  const server = new HttpBootServer({ root, address: '127.0.0.1', port: 0, log: () => {} });
  const { port } = await server.listen();
  t.teardown(() => server.close());
  return { root, outside, port };
}

/** GET `path`: the status and body. */
function fetchBody(agent: Agent, port: number, path: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

const cases = [
  { what: 'a directory on the path', swap: 'dir', target: (s: Scene) => s.outside, path: (i: number) => `/dir/f-${i % FILES}` },
  { what: 'the file itself', swap: 'kernel', target: (s: Scene) => join(s.outside, 'kernel'), path: () => '/kernel' },
] as const;

for (const c of cases) {
  t.test(`GETs while ${c.what} is swapped for a symlink out of the root: nothing outside is served`, { skip: portable }, async (t) => {
    const s = await scene(t);
    snapshot(s.outside); // settles the directory's atime (see snapshot)
    const before = snapshot(s.outside);
    const agent = new Agent({ keepAlive: true, maxSockets: LANES });
    t.teardown(() => agent.destroy());
    const started = Date.now();
    const deadline = started + BUDGET_MS;
    const racer = startSwapRacer({ path: join(s.root, c.swap), parked: join(s.root, `${c.swap}.parked`), link: join(s.root, `${c.swap}.link`), target: c.target(s), deadline, maxFlips: MAX_FLIPS });
    const escapes: string[] = [];
    let rounds = 0;
    let served = 0;
    const lane = async () => {
      while (rounds < MAX_ROUNDS && Date.now() < deadline && escapes.length === 0) {
        const round = rounds++;
        const path = c.path(round);
        const r = await fetchBody(agent, s.port, path);
        if (r.status === 200) served++;
        if (r.body.includes('OUTSIDE')) escapes.push(`GET ${path} (round ${round}) answered ${r.status} ${JSON.stringify(r.body.toString())}`);
        if (round % 20 === 19) escapes.push(...differences(before, snapshot(s.outside)).map((e) => `by round ${round}: ${e}`));
      }
    };
    await Promise.all(Array.from({ length: LANES }, lane));
    racer.stop();
    const flips = await racer.done;
    if (!escapes.length) escapes.push(...differences(before, snapshot(s.outside)));
    t.comment(`${rounds} GETs (${served} served), ${flips} flips in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    t.same(escapes, [], 'no response carried, and no request touched, anything outside the root');
    t.ok(served > 0, 'some GETs were served (the race exercised the open)');
  });
}
