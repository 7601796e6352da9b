// The one JSON shape every benchmark prints with --json (schema
// "netboot-bench/1", described in bench/README.md "Benchmark JSON"), so that
// bench/compare.js can set any two runs side by side cell by cell.
import { load } from './processes.js';

export const SCHEMA = 'netboot-bench/1';

/**
 * A cell: `key` names it stably across runs (e.g. "seq1/c"), `values` holds
 * each server's figure in `unit` (null when it failed or was not run),
 * `reference` names the server netboot is compared with, and `ratio` is
 * netboot's advantage over it (values.netboot / values[reference] when higher
 * is better, the inverse when lower is). Anything else goes in `detail`.
 */
export function cell({ key, label, unit, higherIsBetter = true, values, reference, detail }) {
  const nb = values.netboot;
  const ref = reference ? values[reference] : undefined;
  let ratio = null;
  if (typeof nb === 'number' && typeof ref === 'number' && nb > 0 && ref > 0) {
    ratio = Number((higherIsBetter ? nb / ref : ref / nb).toFixed(3));
  }
  return { key, label, unit, higherIsBetter, values, reference: reference ?? null, ratio, load: load(), detail: detail ?? {} };
}

/** The whole run: what was measured with what parameters, the load around it, and its cells. */
export function report({ benchmark, params, servers, loadAtStart, cells, detail }) {
  return {
    schema: SCHEMA,
    benchmark,
    date: new Date().toISOString(),
    node: process.version,
    params,
    servers: servers ?? {},
    loadAtStart: loadAtStart ?? null,
    loadAtEnd: load(),
    cells,
    detail: detail ?? {},
  };
}
