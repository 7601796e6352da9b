// The fuzzing loop shared by `npm run fuzz` (long, time-bounded runs) and
// test/hostile/fuzz-decoders.test.ts (a short fixed-seed run in npm test).
// Inputs are random bytes and mutations of each target's golden vectors;
// an input passes when the target returns or throws its package's typed
// error, quickly, without asking for a large allocation.

/** A small seeded PRNG (mulberry32): runs are reproducible from the seed. */
export function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (list) => list[Math.floor(next() * list.length)],
    chance: (p) => next() < p,
  };
}

function randomBytes(rng, max) {
  const n = rng.int(max + 1);
  const b = Buffer.allocUnsafe(n);
  // Half the time XDR-friendly words (small lengths, booleans, enums), which
  // get deeper into structured decoders than uniform noise does.
  if (rng.chance(0.5)) {
    for (let i = 0; i + 4 <= n; i += 4) {
      b.writeUInt32BE(rng.chance(0.7) ? rng.int(70) : Math.floor(rng.next() * 0x100000000), i);
    }
    for (let i = n & ~3; i < n; i++) b[i] = rng.int(256);
  } else {
    for (let i = 0; i < n; i++) b[i] = rng.int(256);
  }
  return b;
}

/** Lengths a hostile peer claims: around 2 and 4 GiB, just past the data, a word with the top bit set. */
const HOSTILE_WORDS = [0xffffffff, 0xfffffffc, 0x7fffffff, 0x80000000, 0x40000000, 0x10000, 0xffff, 0x1000001, 65, 256, 1025];

const mutators = [
  function bitFlips(rng, b) {
    const out = Buffer.from(b);
    if (out.length === 0) return out;
    for (let k = 1 + rng.int(8); k > 0; k--) out[rng.int(out.length)] ^= 1 << rng.int(8);
    return out;
  },
  function byteSet(rng, b) {
    const out = Buffer.from(b);
    if (out.length === 0) return out;
    out[rng.int(out.length)] = rng.pick([0, 0xff, 0x7f, 0x80, 1, rng.int(256)]);
    return out;
  },
  function truncate(rng, b) {
    return Buffer.from(b.subarray(0, rng.int(b.length + 1)));
  },
  function inflateLength(rng, b) {
    const out = Buffer.from(b);
    if (out.length < 4) return out;
    // XDR lengths sit on word boundaries; TFTP and DHCP ones anywhere.
    const at = rng.chance(0.7) ? rng.int(out.length >> 2) * 4 : rng.int(out.length - 3);
    const word = rng.chance(0.8) ? rng.pick(HOSTILE_WORDS) : (out.readUInt32BE(at) + 1 + rng.int(16)) >>> 0;
    out.writeUInt32BE(word, at);
    return out;
  },
  function inflateByte(rng, b) {
    const out = Buffer.from(b);
    if (out.length === 0) return out;
    out[rng.int(out.length)] = rng.pick([0xff, 0xfe, 0x80, out.length & 0xff]);
    return out;
  },
  function extend(rng, b) {
    return Buffer.concat([b, randomBytes(rng, 64)]);
  },
  function duplicateChunk(rng, b) {
    if (b.length === 0) return Buffer.from(b);
    const from = rng.int(b.length);
    const to = Math.min(b.length, from + 1 + rng.int(32));
    const at = rng.int(b.length + 1);
    return Buffer.concat([b.subarray(0, at), b.subarray(from, to), b.subarray(at)]);
  },
  function deleteChunk(rng, b) {
    if (b.length === 0) return Buffer.from(b);
    const from = rng.int(b.length);
    const to = Math.min(b.length, from + 1 + rng.int(32));
    return Buffer.concat([b.subarray(0, from), b.subarray(to)]);
  },
];

function splice(rng, a, b) {
  return Buffer.concat([a.subarray(0, rng.int(a.length + 1)), b.subarray(rng.int(b.length + 1))]);
}

/** One input for `target`: random bytes, a golden vector, or one mutated up to four times (or two spliced). */
export function nextInput(rng, target) {
  const golden = target.golden;
  const max = target.maxInput ?? 1024;
  if (golden.length === 0 || rng.chance(0.15)) return randomBytes(rng, Math.min(max, 512));
  let b = rng.pick(golden);
  if (rng.chance(0.02)) return Buffer.from(b);
  if (golden.length > 1 && rng.chance(0.15)) b = splice(rng, b, rng.pick(golden));
  for (let k = 1 + rng.int(4); k > 0; k--) b = rng.pick(mutators)(rng, b);
  return b.length > max ? b.subarray(0, max) : b;
}

// The largest single allocation any Buffer factory was asked for while a
// target ran. Decoders return views; a request sized by a hostile length is
// what this catches, even when Node would refuse it anyway.
let largestRequest = 0;
let watching = false;
function watchAllocations() {
  if (watching) return;
  watching = true;
  for (const name of ['alloc', 'allocUnsafe', 'allocUnsafeSlow']) {
    const original = Buffer[name];
    Buffer[name] = function (size, ...rest) {
      if (typeof size === 'number' && size > largestRequest) largestRequest = size;
      return original.call(this, size, ...rest);
    };
  }
  const concat = Buffer.concat;
  Buffer.concat = function (list, total) {
    const size = total ?? list.reduce((n, x) => n + x.length, 0);
    if (size > largestRequest) largestRequest = size;
    return concat.call(this, list, total);
  };
}

/** Limits one input must stay within. */
export const LIMITS = {
  /** Wall time for one execution (twice in a row, so a busy machine's pause is not a finding). */
  ms: 500,
  /** The largest allocation one execution may ask for, beyond what its input justifies. */
  allocBytes: 16 * 1024 * 1024,
  /** Growth of ArrayBuffer memory across one execution. */
  arrayBufferGrowth: 64 * 1024 * 1024,
};

/**
 * Runs one input. Returns undefined when it passed, else a finding:
 * { kind: 'exception' | 'slow' | 'allocation', detail }.
 */
export function execute(target, input) {
  const finding = executeOnce(target, input);
  return finding?.kind === 'slow' ? executeOnce(target, input) : finding;
}

function executeOnce(target, input) {
  watchAllocations();
  largestRequest = 0;
  const before = process.memoryUsage().arrayBuffers;
  const started = performance.now();
  let finding;
  try {
    target.run(input);
  } catch (e) {
    if (!target.typed(e)) {
      finding = { kind: 'exception', detail: e instanceof Error ? `${e.name}: ${e.message}\n${e.stack?.split('\n').slice(1, 4).join('\n')}` : String(e) };
    }
  }
  const ms = performance.now() - started;
  const grown = process.memoryUsage().arrayBuffers - before;
  const allowance = LIMITS.allocBytes + input.length * 64;
  if (!finding && ms > LIMITS.ms) finding = { kind: 'slow', detail: `${ms.toFixed(0)} ms for ${input.length} bytes` };
  if (!finding && largestRequest > allowance) finding = { kind: 'allocation', detail: `asked for ${largestRequest} bytes from ${input.length} bytes of input` };
  if (!finding && grown > LIMITS.arrayBufferGrowth) finding = { kind: 'allocation', detail: `ArrayBuffer memory grew by ${grown} bytes` };
  return finding;
}

/**
 * Fuzzes `targets` round-robin until `deadline` (ms since epoch) or
 * `maxExecs` executions in all. Findings are reported through `onFinding`
 * (target, input, finding); each distinct (target, kind, first stack line)
 * once. `onInput` sees each input before it runs (the hang watchdog keeps
 * it). Returns per-target execution counts.
 */
export function fuzz(targets, { seed, deadline, maxExecs = Infinity, onFinding, onInput }) {
  const rng = prng(seed);
  const counts = new Map(targets.map((t) => [t.name, 0]));
  const seen = new Set();
  let execs = 0;
  while (execs < maxExecs && Date.now() < deadline) {
    for (const target of targets) {
      // A batch per target between clock checks keeps the loop cheap.
      for (let k = 0; k < 16; k++) {
        const input = nextInput(rng, target);
        onInput?.(target, input);
        const finding = execute(target, input);
        execs++;
        counts.set(target.name, counts.get(target.name) + 1);
        if (finding) {
          const key = `${target.name}|${finding.kind}|${finding.detail.split('\n')[0].replace(/\d+/g, 'N')}`;
          if (!seen.has(key)) {
            seen.add(key);
            onFinding(target, input, finding);
          }
        }
      }
      if (execs >= maxExecs || Date.now() >= deadline) break;
    }
  }
  return { execs, counts };
}
