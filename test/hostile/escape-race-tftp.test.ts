import t, { type Test } from 'tap';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TftpClientError, TftpServer, tftpGet, tftpPut } from '@netboot/tftp-wire';
import { platformStatus } from '@netboot/platform';
import { startSwapRacer } from './swap-racer.js';
import { differences, snapshot } from './tree-snapshot.js';

// What this guards against: a TFTP server that resolves a requested name
// under its root (realpath, "still inside?") and then opens the resolved
// path again can be redirected between the two: a local user on the master
// swaps a directory on the path, or the file itself, for a symlink to a
// directory outside the root, and the open follows it out. A read would then
// send a file from outside the root; a write (with uploads enabled) would
// create or replace a file there.
//
// The scene: a root with dir/f-0 .. dir/f-255 and kernel, and beside it (not
// below it) a directory "outside" holding the same names with other
// content. While reads (or writes) are in flight, a worker thread flips
// root/dir (or root/kernel) between the real object and a symlink into
// outside, as fast as rename(2) goes. Checked: no transfer ever delivered
// outside content, and nothing outside changed (entries, content, mode,
// owner, size, atime/mtime/ctime to the nanosecond: a read there shows in
// its atime). Each case runs MAX_ROUNDS transfers or BUDGET_MS, whichever
// comes first, and stops at the first escape it sees; at least one transfer
// must have succeeded, so a server refusing everything cannot pass.
// Without the platform module (portable mode) the server opens by path and
// says at start that this race is open: the test skips there, naming why,
// except in CI, where the module must load and the race must run.

const platform = platformStatus();
const portable = platform.mode === 'portable' && !process.env.CI ? `portable mode (${platform.why}): without the platform module the server opens by path, and says the race is open` : false;
const MAX_ROUNDS = 3000;
const BUDGET_MS = 12_000;
const LANES = 8;
/** More names than the server's open-file cache holds, so that reads keep opening files. */
const FILES = 256;
const MAX_FLIPS = 10_000_000;
const retry = { initialMs: 200, maxMs: 1000, maxRetries: 3 };

interface Scene {
  root: string;
  outside: string;
  port: number;
}

async function scene(t: Test, create: boolean): Promise<Scene> {
  const base = mkdtempSync(join(tmpdir(), 'escape-race-tftp-'));
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
  // World-writable on both sides: an upload may replace the inside one, never the outside one.
  writeFileSync(join(root, 'dir', 'shared'), 'inside shared\n');
  chmodSync(join(root, 'dir', 'shared'), 0o666);
  writeFileSync(join(outside, 'shared'), 'OUTSIDE shared\n');
  chmodSync(join(outside, 'shared'), 0o666);
  const server = new TftpServer({ root, address: '127.0.0.1', port: 0, create, retry, log: () => {} });
  const { port } = await server.listen();
  t.teardown(() => server.close());
  return { root, outside, port };
}

interface Race {
  rounds: number;
  ok: number;
  escapes: string[];
}

/** LANES loops of transfers until MAX_ROUNDS, the deadline or the first escape; `check` runs every 20 rounds. */
async function race(transfer: (round: number, escapes: string[]) => Promise<boolean>, deadline: number, check: () => string[]): Promise<Race> {
  const r: Race = { rounds: 0, ok: 0, escapes: [] };
  const lane = async () => {
    while (r.rounds < MAX_ROUNDS && Date.now() < deadline && r.escapes.length === 0) {
      const round = r.rounds++;
      if (await transfer(round, r.escapes)) r.ok++;
      if (round % 20 === 19) r.escapes.push(...check().map((e) => `by round ${round}: ${e}`));
    }
  };
  await Promise.all(Array.from({ length: LANES }, lane));
  return r;
}

/** A read: true when it delivered the file; an escape when it delivered outside content. */
async function read(s: Scene, name: string, escapes: string[]): Promise<boolean> {
  try {
    const got = await tftpGet(name, { host: '127.0.0.1', port: s.port, retry });
    if (got.data?.includes('OUTSIDE')) escapes.push(`RRQ ${name} delivered ${JSON.stringify(got.data.toString())}`);
    return true;
  } catch (e) {
    if (e instanceof TftpClientError) return false;
    throw e;
  }
}

const cases = [
  { what: 'a directory on the path', swap: 'dir', target: (s: Scene) => s.outside, name: (i: number) => `dir/f-${i % FILES}` },
  { what: 'the file itself', swap: 'kernel', target: (s: Scene) => join(s.outside, 'kernel'), name: () => 'kernel' },
] as const;

for (const c of cases) {
  t.test(`RRQs while ${c.what} is swapped for a symlink out of the root: nothing outside is served`, { skip: portable }, async (t) => {
    const s = await scene(t, false);
    snapshot(s.outside); // settles the directory's atime (see snapshot)
    const before = snapshot(s.outside);
    const started = Date.now();
    const deadline = started + BUDGET_MS;
    const racer = startSwapRacer({ path: join(s.root, c.swap), parked: join(s.root, `${c.swap}.parked`), link: join(s.root, `${c.swap}.link`), target: c.target(s), deadline, maxFlips: MAX_FLIPS });
    const r = await race((i, escapes) => read(s, c.name(i), escapes), deadline, () => differences(before, snapshot(s.outside)));
    racer.stop();
    const flips = await racer.done;
    if (!r.escapes.length) r.escapes.push(...differences(before, snapshot(s.outside)));
    t.comment(`${r.rounds} RRQs (${r.ok} delivered), ${flips} flips in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    t.same(r.escapes, [], 'no read delivered or touched anything outside the root');
    t.ok(r.ok > 0, 'some reads were served (the race exercised the open)');
  });
}

t.test('WRQs (uploads enabled) while a directory on the path is swapped for a symlink out of the root: nothing outside is written', { skip: portable }, async (t) => {
  const s = await scene(t, true);
  snapshot(s.outside);
  const before = snapshot(s.outside);
  const started = Date.now();
  const deadline = started + BUDGET_MS;
  const racer = startSwapRacer({ path: join(s.root, 'dir'), parked: join(s.root, 'dir.parked'), link: join(s.root, 'dir.link'), target: s.outside, deadline, maxFlips: MAX_FLIPS });
  const write = async (round: number) => {
    // New names, names that exist outside, and the world-writable file that exists on both sides.
    const name = round % 3 === 0 ? `dir/up-${round}` : round % 3 === 1 ? `dir/f-${round % FILES}` : 'dir/shared';
    try {
      await tftpPut(name, Buffer.from(`upload ${round}\n`), { host: '127.0.0.1', port: s.port, retry });
      return true;
    } catch (e) {
      if (e instanceof TftpClientError) return false;
      throw e;
    }
  };
  const r = await race(write, deadline, () => differences(before, snapshot(s.outside)));
  racer.stop();
  const flips = await racer.done;
  if (!r.escapes.length) r.escapes.push(...differences(before, snapshot(s.outside)));
  t.comment(`${r.rounds} WRQs (${r.ok} stored), ${flips} flips in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  t.same(r.escapes, [], 'no upload created, replaced or touched anything outside the root');
  t.ok(r.ok > 0, 'some uploads were stored (the race exercised the write path)');
});
