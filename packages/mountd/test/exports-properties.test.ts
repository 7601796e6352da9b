import { deepStrictEqual } from 'node:assert/strict';
import t from 'tap';
import fc from 'fast-check';
import { ExportsError, formatExports, parseExports, type Export } from '@netboot/mountd';

const segment = fc
  .array(fc.constantFrom('a', 'Z', '0', '-', '_', '.', ' ', '\t', '#', '"', '\\', '(', ')', ',', '*', 'é', '日', ':'), { minLength: 1, maxLength: 8 })
  .map((cs) => cs.join(''))
  .filter((s) => s !== '.' && s !== '..');
const path = fc.array(segment, { minLength: 0, maxLength: 4 }).map((segs) => `/${segs.join('/')}`);

const label = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,6}$/);
const client = fc.oneof(
  fc.ipV4(),
  fc.ipV6(),
  fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([a, p]) => `${a}/${p}`),
  fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })).map(([a, p]) => `${a}/${p}`),
  fc.constantFrom('198.18.0.0/255.254.0.0', '198.18.1.0/255.255.255.128'),
  fc.array(label, { minLength: 1, maxLength: 3 }).map((ls) => ls.join('.')),
  label.map((l) => `*.${l}.example.org`),
  fc.constantFrom('node??', 'n[0-9]x', '*'),
);

const word = fc.constantFrom(
  'ro', 'rw', 'sync', 'async', 'root_squash', 'no_root_squash', 'all_squash', 'no_all_squash', 'secure', 'insecure',
  'subtree_check', 'no_subtree_check', 'crossmnt', 'nocrossmnt', 'nohide', 'hide', 'wdelay', 'no_acl', 'sec=sys',
  'anonuid=0', 'anonuid=1000', 'anongid=4294967295', 'fsid=7', 'fsid=root', 'fsid=0x1f', 'fsid=0123456789abcdef0123456789abcdef',
);
const options = fc.array(word, { maxLength: 8 }).map((ws) => ws.join(','));

const line = fc
  .tuple(path, fc.option(options, { nil: undefined }), fc.array(fc.tuple(client, options), { minLength: 1, maxLength: 4 }))
  .map(([p, defaults, clients]) => {
    const quoted = `"${p.replace(/[\\"]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`)}"`;
    return [quoted, ...(defaults === undefined ? [] : [`-${defaults || 'rw'}`]), ...clients.map(([c, o]) => `${c}(${o})`)].join(' ');
  });

function withoutPositions(exports: Export[]) {
  return exports.map((e) => ({ path: e.path, clients: e.clients.map(({ line: _l, column: _c, ...rest }) => rest) }));
}

t.test('parse ∘ format is the identity on parsed exports', async (t) => {
  fc.assert(
    fc.property(fc.array(line, { minLength: 1, maxLength: 5 }), (lines) => {
      const parsed = parseExports(lines.join('\n'), 'gen', { warn: () => {} });
      const again = parseExports(formatExports(parsed), 'formatted');
      deepStrictEqual(withoutPositions(again), withoutPositions(parsed));
      return true;
    }),
    { seed: 42, numRuns: 200 },
  );
  t.pass('200 generated files round-trip');
});

const noisy = fc.string({
  unit: fc.constantFrom('/', 'a', ' ', '\t', '\n', '\\', '"', '#', '(', ')', ',', '=', '*', '?', '[', ']', '@', '-', '.', ':', '0', '1', '9', 'r', 'w', 'o', '\r', '\0', 'é'),
  maxLength: 120,
});

t.test('random text gives exports or an ExportsError, never another exception', async (t) => {
  let errors = 0;
  fc.assert(
    fc.property(fc.oneof(noisy, fc.string({ maxLength: 80 }), fc.tuple(line, noisy).map(([l, n]) => l + n)), (text) => {
      try {
        parseExports(text, 'fuzz', { warn: () => {} });
      } catch (e) {
        if (!(e instanceof ExportsError)) throw e;
        errors++;
        if (!/^fuzz:\d+:\d+: /.test(e.message)) throw new Error(`bad position in ${e.message}`);
      }
      return true;
    }),
    { seed: 42, numRuns: 500 },
  );
  t.ok(errors > 0, 'the generator reaches errors');
});

t.test('random bytes decoded as a file never throw anything but ExportsError', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      try {
        parseExports(Buffer.from(bytes).toString('utf8'), 'bytes', { warn: () => {} });
      } catch (e) {
        if (!(e instanceof ExportsError)) throw e;
      }
      return true;
    }),
    { seed: 42, numRuns: 300 },
  );
  t.pass();
});
