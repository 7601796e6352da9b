import t, { type Test } from 'tap';
import { TftpClientError, TftpServer, tftpGet, tftpPut } from '@netboot/tftp-wire';
import { FILES, escapeTree, portableSkip, raceSwap, swaps, type EscapeTree } from './escape-race.js';

// What this guards against: a TFTP server that resolves a requested name
// under its root (realpath, "still inside?") and then opens the resolved
// path again can be redirected between the two: a local user on the master
// swaps a directory on the path, or the file itself, for a symlink to a
// directory outside the root, and the open follows it out. A read would then
// send a file from outside the root; a write (with uploads enabled) would
// create or replace a file there.
//
// The scene and the race are escape-race.ts's: reads (or writes) in flight
// while root/dir (or root/kernel) flips between the real object and a
// symlink into "outside". Checked: no transfer ever delivered outside
// content, and nothing outside changed. At least one transfer must have
// succeeded, so a server refusing everything cannot pass. Without the
// platform module (portable mode) the test skips, naming why, except in CI.

const MAX_ROUNDS = 3000;
const BUDGET_MS = 12_000;
const retry = { initialMs: 200, maxMs: 1000, maxRetries: 3 };

async function serve(t: Test, s: EscapeTree, create: boolean): Promise<number> {
  const server = new TftpServer({ root: s.root, address: '127.0.0.1', port: 0, create, retry, log: () => {} });
  const { port } = await server.listen();
  t.teardown(() => server.close());
  return port;
}

/** A read: true when it delivered the file; an escape when it delivered outside content. */
async function read(port: number, name: string, escapes: string[]): Promise<boolean> {
  try {
    const got = await tftpGet(name, { host: '127.0.0.1', port, retry });
    if (got.data?.includes('OUTSIDE')) escapes.push(`RRQ ${name} delivered ${JSON.stringify(got.data.toString())}`);
    return true;
  } catch (e) {
    if (e instanceof TftpClientError) return false;
    throw e;
  }
}

for (const c of swaps) {
  t.test(`RRQs while ${c.what} is swapped for a symlink out of the root: nothing outside is served`, { skip: portableSkip }, async (t) => {
    const s = escapeTree(t, 'escape-race-tftp');
    const port = await serve(t, s, false);
    const r = await raceSwap(s, { swap: c.swap, target: c.target(s), maxRounds: MAX_ROUNDS, budgetMs: BUDGET_MS, request: (i, escapes) => read(port, c.name(i), escapes) });
    t.comment(`${r.rounds} RRQs (${r.ok} delivered), ${r.flips} flips in ${r.seconds.toFixed(1)} s`);
    t.same(r.escapes, [], 'no read delivered or touched anything outside the root');
    t.ok(r.ok > 0, 'some reads were served (the race exercised the open)');
  });
}

t.test('WRQs (uploads enabled) while a directory on the path is swapped for a symlink out of the root: nothing outside is written', { skip: portableSkip }, async (t) => {
  const s = escapeTree(t, 'escape-race-tftp', { shared: true });
  const port = await serve(t, s, true);
  const write = async (round: number) => {
    // New names, names that exist outside, and the world-writable file that exists on both sides.
    const name = round % 3 === 0 ? `dir/up-${round}` : round % 3 === 1 ? `dir/f-${round % FILES}` : 'dir/shared';
    try {
      await tftpPut(name, Buffer.from(`upload ${round}\n`), { host: '127.0.0.1', port, retry });
      return true;
    } catch (e) {
      if (e instanceof TftpClientError) return false;
      throw e;
    }
  };
  const r = await raceSwap(s, { swap: 'dir', target: s.outside, maxRounds: MAX_ROUNDS, budgetMs: BUDGET_MS, request: write });
  t.comment(`${r.rounds} WRQs (${r.ok} stored), ${r.flips} flips in ${r.seconds.toFixed(1)} s`);
  t.same(r.escapes, [], 'no upload created, replaced or touched anything outside the root');
  t.ok(r.ok > 0, 'some uploads were stored (the race exercised the write path)');
});
