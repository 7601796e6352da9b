// What the NFS benchmarks share around their cells: starting the servers to
// compare, running a cell against each of them round after round, and the
// closing figures (peak RSS, the profile written).
import { cpuSeconds, peakRssMB, runMeasure } from './processes.js';
import { startGanesha, startNetboot } from './nfs-servers.js';

/**
 * Starts each named server ('netboot', 'ganesha', and 'baseline': netboot
 * from the built checkout `baseline`, to measure a change against) exporting
 * `dir`, and 'image': this netboot serving the same files as an image-backed
 * node root (profiled too with `profileDir`), and 'baseline-image': the
 * baseline serving them so; 'serve' and 'status': this
 * netboot as `netboot serve` without and with `--status-port` (boot events
 * and metrics on), to show in one run what events cost. Returns those running, by
 * name, and a note for every name: its pid and namespace, or why it is not measured (Ganesha not installed, say).
 * `statusPort` runs netboot (and the baseline) with boot events and metrics on.
 * `netbootArgs` and `baselineArgs` are more flags for each (`--nfs-workers N`).
 */
export async function startServers(names, { dir, work, profileDir, atExit, baseline, statusPort = false, netbootArgs = [], baselineArgs = [] }) {
  const started = {};
  const notes = {};
  for (const name of names) {
    const s =
      name === 'netboot'
        ? await startNetboot({ dir, work, profileDir, atExit, statusPort, args: netbootArgs })
        : name === 'baseline'
          ? await startNetboot({ dir, work, atExit, checkout: baseline, tag: 'baseline', statusPort, args: baselineArgs })
          : name === 'image'
            ? await startNetboot({ dir, work, profileDir, atExit, tag: 'image', statusPort, args: netbootArgs, image: true })
            : name === 'baseline-image'
              ? await startNetboot({ dir, work, atExit, checkout: baseline, tag: 'baseline-image', statusPort, args: baselineArgs, image: true })
            : name === 'serve' || name === 'status'
              ? await startNetboot({ dir, work, profileDir, atExit, tag: name, serve: true, statusPort: name === 'status', args: netbootArgs })
              : await startGanesha({ dir, work, atExit });
    if (s.why) notes[name] = `not measured: ${s.why}`;
    else {
      started[name] = s;
      notes[name] = `pid ${s.server.pid} in network namespace ${s.ns}`;
    }
  }
  return { started, notes };
}

/**
 * Runs `cell` (a fresh client process: `script --measure`, or `run(s, name)`
 * when given, e.g. the C client) `rounds` times against every started server,
 * alternating which goes first, and keeps each server's best by `rate`.
 * `account(m, cpu)` adds figures from the server's CPU seconds during the run
 * to a successful result.
 */
export function bestOfRounds({ started, rounds, script, cell, timeoutMs, profileDir, rate, account, run }) {
  const best = {};
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? Object.keys(started) : Object.keys(started).reverse();
    for (const name of order) {
      const s = started[name];
      const cpu0 = cpuSeconds(s.server.pid);
      const m = run
        ? run(s, name)
        : runMeasure(s.ns, script, { ...cell, server: name, exportPath: s.exportPath }, timeoutMs, profileDir);
      if (!m.error) account(m, cpuSeconds(s.server.pid) - cpu0);
      const prev = best[name];
      if (!prev || prev.error || (!m.error && rate(m) > rate(prev))) best[name] = m;
    }
  }
  return best;
}

/** Every server's peak RSS in MB; then a profiled netboot is stopped, which writes its profile. */
export async function finish(started, profileDir) {
  const peakRss = {};
  for (const [name, s] of Object.entries(started)) peakRss[name] = peakRssMB(s.server.pid);
  if (profileDir && started.netboot) await started.netboot.server.stop(10_000);
  if (profileDir && started.image) await started.image.server.stop(10_000);
  return peakRss;
}
