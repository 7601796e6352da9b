import type { Test } from 'tap';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { platformStatus } from '@netboot/platform';
import { startSwapRacer } from './swap-racer.js';
import { differences, snapshot } from './tree-snapshot.js';

/*
 * The scene and the race of the boot-file escape tests (TFTP and HTTP): a
 * served root with dir/f-0 .. dir/f-255 and kernel, and beside it (not below
 * it) a directory "outside" holding the same names with other content
 * ("OUTSIDE ..."). While requests are in flight in several lanes, a worker
 * thread flips root/dir (or root/kernel) between the real object and a
 * symlink into outside. Each race runs `maxRounds` requests or `budgetMs`,
 * whichever comes first, and stops at the first escape it sees: a request
 * that delivered outside content, or any change outside (entries, content,
 * mode, owner, size, times to the nanosecond; a read there shows in its
 * atime), checked every 20 rounds and at the end.
 */

const platform = platformStatus();
/** Without the platform module the servers open by path and say the race is open: skip, naming why, except in CI. */
export const portableSkip: string | false =
  platform.mode === 'portable' && !process.env.CI ? `portable mode (${platform.why}): without the platform module the server opens by path, and says the race is open` : false;

/** More names than a server's open-file cache holds, so that requests keep opening files. */
export const FILES = 256;
/** Requests in flight at once. */
export const LANES = 8;
const MAX_FLIPS = 10_000_000;

export interface EscapeTree {
  root: string;
  outside: string;
}

/** The root and outside trees in a fresh directory, removed at teardown; `shared`: a world-writable dir/shared on both sides. */
export function escapeTree(t: Test, prefix: string, o: { shared?: boolean } = {}): EscapeTree {
  const base = mkdtempSync(join(tmpdir(), `${prefix}-`));
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
  if (o.shared) {
    // World-writable on both sides: an upload may replace the inside one, never the outside one.
    writeFileSync(join(root, 'dir', 'shared'), 'inside shared\n');
    chmodSync(join(root, 'dir', 'shared'), 0o666);
    writeFileSync(join(outside, 'shared'), 'OUTSIDE shared\n');
    chmodSync(join(outside, 'shared'), 0o666);
  }
  return { root, outside };
}

/** What the racer swaps: a directory on the path, or the requested file itself; `name(round)` is the file asked for. */
export const swaps = [
  { what: 'a directory on the path', swap: 'dir', target: (s: EscapeTree) => s.outside, name: (i: number) => `dir/f-${i % FILES}` },
  { what: 'the file itself', swap: 'kernel', target: (s: EscapeTree) => join(s.outside, 'kernel'), name: () => 'kernel' },
] as const;

export interface RaceResult {
  rounds: number;
  /** Requests that succeeded (a file delivered or stored). */
  ok: number;
  escapes: string[];
  flips: number;
  seconds: number;
}

/**
 * Races `request(round, escapes)` (true when it succeeded; it pushes an
 * escape when it delivered outside content) in LANES lanes against a racer
 * flipping `swap` under the root.
 */
export async function raceSwap(
  s: EscapeTree,
  o: { swap: string; target: string; maxRounds: number; budgetMs: number; request: (round: number, escapes: string[]) => Promise<boolean> },
): Promise<RaceResult> {
  snapshot(s.outside); // settles the directory's atime (see snapshot)
  const before = snapshot(s.outside);
  const started = Date.now();
  const deadline = started + o.budgetMs;
  const at = (name: string) => join(s.root, name);
  const racer = startSwapRacer({ path: at(o.swap), parked: at(`${o.swap}.parked`), link: at(`${o.swap}.link`), target: o.target, deadline, maxFlips: MAX_FLIPS });
  const r = { rounds: 0, ok: 0, escapes: [] as string[] };
  const lane = async () => {
    while (r.rounds < o.maxRounds && Date.now() < deadline && r.escapes.length === 0) {
      const round = r.rounds++;
      if (await o.request(round, r.escapes)) r.ok++;
      if (round % 20 === 19) r.escapes.push(...differences(before, snapshot(s.outside)).map((e) => `by round ${round}: ${e}`));
    }
  };
  try {
    await Promise.all(Array.from({ length: LANES }, lane));
  } finally {
    racer.stop();
  }
  const flips = await racer.done;
  if (!r.escapes.length) r.escapes.push(...differences(before, snapshot(s.outside)));
  return { ...r, flips, seconds: (Date.now() - started) / 1000 };
}
