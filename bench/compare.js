// Sets two runs of a benchmark side by side, cell by cell: the JSON each
// bench prints with --json (schema netboot-bench/1, see bench/README.md "Benchmark
// JSON").
//
//   node bench/compare.js OLD.json NEW.json
//
// For every cell in either file: netboot's figure before and after, the
// reference server's, netboot's ratio to it before and after, and the change
// of that ratio (the ratio is what survives a busier machine: both servers
// are measured in the same run). Exits 2 on unusable input.
import { readFileSync } from 'node:fs';

const SCHEMA = 'netboot-bench/1';

function load(path) {
  let text;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    fail(`${path}: ${e.message}`);
  }
  // A bench's stdout may carry lines before its JSON: the report is the last line that parses.
  const lines = text.trim().split('\n').reverse();
  for (const line of lines) {
    try {
      const j = JSON.parse(line);
      if (j?.schema === SCHEMA) return j;
    } catch {
      // not this line
    }
  }
  try {
    const j = JSON.parse(text);
    if (j?.schema === SCHEMA) return j;
  } catch {
    // fall through
  }
  fail(`${path}: no ${SCHEMA} report in it (run the bench with --json and save its output)`);
}

function fail(msg) {
  console.error(`compare: ${msg}`);
  process.exit(2);
}

const [oldPath, newPath] = process.argv.slice(2);
if (!oldPath || !newPath) fail('usage: node bench/compare.js OLD.json NEW.json');
const before = load(oldPath);
const after = load(newPath);
if (before.benchmark !== after.benchmark) fail(`${oldPath} is ${before.benchmark}, ${newPath} is ${after.benchmark}: compare runs of the same benchmark`);

const fmt = (x, d = 0) => (typeof x === 'number' ? x.toFixed(d) : '-');
const pct = (a, b) => (typeof a === 'number' && typeof b === 'number' && a > 0 ? `${b >= a ? '+' : ''}${(((b - a) / a) * 100).toFixed(1)}%` : '-');
const byKey = (r) => new Map(r.cells.map((c) => [c.key, c]));
const olds = byKey(before);
const news = byKey(after);
const keys = [...new Set([...olds.keys(), ...news.keys()])];

console.log(`${before.benchmark}: ${oldPath} (${before.date}, load ${before.loadAtStart?.[0] ?? '-'}) -> ${newPath} (${after.date}, load ${after.loadAtStart?.[0] ?? '-'})`);
const width = Math.max(4, ...keys.map((k) => k.length));
console.log(
  `${'cell'.padEnd(width)}  ${'unit'.padEnd(6)}${'netboot old'.padStart(12)}${'new'.padStart(9)}${'change'.padStart(9)}` +
    `${'ref old'.padStart(10)}${'new'.padStart(9)}${'ratio old'.padStart(11)}${'new'.padStart(8)}${'ratio change'.padStart(14)}`,
);
let worse = 0;
for (const k of keys) {
  const o = olds.get(k);
  const n = news.get(k);
  const c = n ?? o;
  const ref = c.reference;
  const ratioChange = pct(o?.ratio, n?.ratio);
  if (typeof o?.ratio === 'number' && typeof n?.ratio === 'number' && n.ratio < o.ratio * 0.95) worse++;
  const digits = c.unit === 'MB/s' ? 1 : 0;
  console.log(
    `${k.padEnd(width)}  ${(c.unit ?? '').padEnd(6)}${fmt(o?.values?.netboot, digits).padStart(12)}${fmt(n?.values?.netboot, digits).padStart(9)}` +
      `${pct(o?.values?.netboot, n?.values?.netboot).padStart(9)}${fmt(ref ? o?.values?.[ref] : undefined, digits).padStart(10)}` +
      `${fmt(ref ? n?.values?.[ref] : undefined, digits).padStart(9)}${fmt(o?.ratio, 2).padStart(11)}${fmt(n?.ratio, 2).padStart(8)}${ratioChange.padStart(14)}` +
      `${!o ? '  (new cell)' : !n ? '  (gone)' : ''}`,
  );
}
console.log(`${worse} cell(s) whose ratio to ${[...new Set(keys.map((k) => (news.get(k) ?? olds.get(k)).reference).filter(Boolean))].join('/')} fell by more than 5%`);
