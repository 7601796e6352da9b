import { Worker } from 'node:worker_threads';

export interface SwapRacer {
  /** Asks the racer to stop; `done` resolves once it has put the real object back. */
  stop(): void;
  /** The number of flips made (each: to the symlink and back). */
  readonly done: Promise<number>;
}

/**
 * A local user on the master flipping `path` between the real object there
 * and a symlink to `target`, as fast as rename(2) goes: `path` is renamed to
 * `parked` and a ready symlink renamed into its place, then back. It runs in
 * a worker thread, so the flips happen while a server in this process is
 * between its calls. Bounded: it stops when asked, after `maxFlips`, or at
 * `deadline` (ms since the epoch), always with the real object back at
 * `path`.
 */
export function startSwapRacer(o: { path: string; parked: string; link: string; target: string; deadline: number; maxFlips: number }): SwapRacer {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    const { renameSync, symlinkSync, unlinkSync } = require('node:fs');
    const { path, parked, link, target, flag, maxFlips, deadline } = workerData;
    symlinkSync(target, link);
    let flips = 0;
    while (flips < maxFlips && Atomics.load(flag, 0) === 0 && (flips % 64 !== 0 || Date.now() < deadline)) {
      renameSync(path, parked);
      renameSync(link, path);
      renameSync(path, link);
      renameSync(parked, path);
      flips++;
    }
    unlinkSync(link);
    parentPort.postMessage(flips);
  `;
  const w = new Worker(code, { eval: true, workerData: { ...o, flag } });
  let flips = 0;
  w.on('message', (n: number) => (flips = n));
  const done = new Promise<number>((resolve, reject) => {
    w.once('error', reject);
    w.once('exit', (exit) => (exit === 0 ? resolve(flips) : reject(new Error(`the swap racer thread exited with ${exit}`))));
  });
  return { stop: () => Atomics.store(flag, 0, 1), done };
}
