import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeRoots } from '@netboot/image-store';
import { netbootCli } from './support/paths.js';
import { run } from './support/processes.js';

/*
 * A node's record is changed by two processes: `netboot node pin` (the CLI)
 * and the server, which records every boot (the node's MOUNT of its root)
 * in it. Here the server's side (NodeRoots behind the root's `mounted`, the
 * code netboot nfs/serve runs) boots the node back to back while a CLI
 * process pins it, a number of times: neither may undo the other's write.
 */

const IP = '198.18.0.41';
const ROOT = `/diskless/${IP}`;
const ROUNDS = 12;

t.test('node pin from the CLI and boots recorded by the server keep each other\'s writes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'image-node-records-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const src = join(dir, 'rootfs');
  mkdirSync(join(src, 'etc'), { recursive: true });
  writeFileSync(join(src, 'etc/motd'), 'one\n');
  const state = join(dir, 'state');
  const roots = new NodeRoots(state);
  await roots.store.import('deb', { kind: 'directory', path: src });
  writeFileSync(join(src, 'etc/motd'), 'two\n');
  await roots.store.import('deb', { kind: 'directory', path: src });
  await roots.add({ ip: IP, image: 'deb', root: ROOT });
  const fs = (await roots.open(ROOT))!;
  t.teardown(() => fs.close());

  const deadline = Date.now() + 120_000;
  for (let round = 0; round < ROUNDS && Date.now() < deadline; round++) {
    const gen = 1 + (round % 2);
    let pinned = false;
    const pin = run(process.execPath, [netbootCli, 'node', 'pin', IP, String(gen), '--state-dir', state], { timeoutMs: 60_000 }).finally(() => (pinned = true));
    // Boots one after another for as long as the pin runs (bounded by its time limit), as a server sees a node's MOUNTs.
    let boots = 0;
    let lastBootStart = 0;
    while (!pinned) {
      lastBootStart = Date.now();
      await fs.mounted!(IP);
      boots++;
    }
    const r = await pin;
    t.equal(r.code, 0, `round ${round}: node pin exits 0 (${r.stderr.trim()})`);
    const rec = await roots.get(IP);
    t.equal(rec.generation, gen, `round ${round}: the pin to generation ${gen} is kept (${boots} boots raced it)`);
    t.ok((rec.bootedAt ?? 0) >= lastBootStart, `round ${round}: the last boot's record is kept`);
  }
  // One boot after the last pin: the node runs what it is pinned to.
  await fs.mounted!(IP);
  const rec = await roots.get(IP);
  t.equal(rec.booted, rec.generation, 'the next boot got the pinned generation');
  t.equal(fs.generation, rec.generation, 'and the root serves it');
});
