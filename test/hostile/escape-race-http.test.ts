import t from 'tap';
import { Agent, get } from 'node:http';
import { HttpBootServer } from '@netboot/http-boot';
import { LANES, escapeTree, portableSkip, raceSwap, swaps } from './escape-race.js';

// What this guards against: an HTTP boot-file server that resolves a
// requested path under its root (realpath, "still inside?") and then opens
// the resolved path again can be redirected between the two: a local user
// on the master swaps a directory on the path, or the file itself, for a
// symlink to a directory outside the root, and the open follows it out,
// sending a file from outside the root.
//
// The scene and the race are escape-race.ts's: GETs in flight (several
// keep-alive connections, each with its next request sent as soon as the
// last one ends) while root/dir (or root/kernel) flips between the real
// object and a symlink into "outside". Checked: no response ever carried
// outside content, and nothing outside changed. At least one request must
// have been served, so a server refusing everything cannot pass. Without the
// platform module (portable mode) the test skips, naming why, except in CI.

const MAX_ROUNDS = 5000;
const BUDGET_MS = 12_000;

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

for (const c of swaps) {
  t.test(`GETs while ${c.what} is swapped for a symlink out of the root: nothing outside is served`, { skip: portableSkip }, async (t) => {
    const s = escapeTree(t, 'escape-race-http');
    const server = new HttpBootServer({ root: s.root, address: '127.0.0.1', port: 0, log: () => {} });
    const { port } = await server.listen();
    t.teardown(() => server.close());
    const agent = new Agent({ keepAlive: true, maxSockets: LANES });
    t.teardown(() => agent.destroy());
    const get = async (round: number, escapes: string[]) => {
      const path = `/${c.name(round)}`;
      const r = await fetchBody(agent, port, path);
      if (r.body.includes('OUTSIDE')) escapes.push(`GET ${path} (round ${round}) answered ${r.status} ${JSON.stringify(r.body.toString())}`);
      return r.status === 200;
    };
    const r = await raceSwap(s, { swap: c.swap, target: c.target(s), maxRounds: MAX_ROUNDS, budgetMs: BUDGET_MS, request: get });
    t.comment(`${r.rounds} GETs (${r.ok} served), ${r.flips} flips in ${r.seconds.toFixed(1)} s`);
    t.same(r.escapes, [], 'no response carried, and no request touched, anything outside the root');
    t.ok(r.ok > 0, 'some GETs were served (the race exercised the open)');
  });
}
