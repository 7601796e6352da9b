// Every workspace is publishable as it is: the fields npm and its users rely
// on, a README and the project's LICENSE. A package added later gets the same
// checks, so it is born publishable.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './support/paths.js';
import { workspaces } from './support/workspaces.js';

const license = readFileSync(join(repoRoot, 'LICENSE'), 'utf8');
const all = workspaces();
const names = new Set(all.map((w) => w.name));

t.match(license, /^MIT License\n\nCopyright \(c\) 2026 the netboot authors\n/, 'the root LICENSE is MIT');

for (const w of all) {
  t.test(w.name, (t) => {
    const m = w.manifest as {
      license?: string;
      repository?: { type?: string; url?: string; directory?: string };
      engines?: { node?: string };
      keywords?: string[];
      type?: string;
      exports?: Record<string, unknown>;
      files?: string[];
      dependencies?: Record<string, string>;
      bin?: Record<string, string>;
      private?: boolean;
    };
    t.notOk(m.private, 'not private');
    t.equal(m.license, 'MIT', 'license');
    t.equal(readFileSync(join(repoRoot, w.dir, 'LICENSE'), 'utf8'), license, 'LICENSE is a copy of the root LICENSE');
    const readmePath = join(repoRoot, w.dir, 'README.md');
    const readme = existsSync(readmePath) ? readFileSync(readmePath, 'utf8') : '';
    t.ok(readme, 'has a README.md');
    const escaped = w.name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    t.match(readme, new RegExp(`npm install (-g )?${escaped}\\b`), 'the README says how to install it');
    t.equal(m.repository?.type, 'git', 'repository.type');
    t.ok(m.repository?.url, 'repository.url');
    t.equal(m.repository?.directory, w.dir, 'repository.directory');
    const home = (m.repository?.url ?? '').replace(/^git\+/, '').replace(/\.git$/, '');
    t.ok(home && readme.includes(`](${home}`), `the README links to the root README (${home})`);
    t.equal(m.engines?.node, '>=20', 'engines.node');
    t.ok((m.keywords ?? []).length > 0, 'keywords');
    t.equal(m.type, 'module', 'ESM');
    t.same(m.exports?.['.'], { types: './dist/index.d.ts', default: './dist/index.js' }, 'exports "." with types first');
    const files = m.files ?? [];
    t.ok(files.includes('dist/**/*.js') && files.includes('dist/**/*.d.ts'), 'files ship dist .js and .d.ts (no maps, no tsbuildinfo)');
    t.notOk(files.includes('dist'), 'files do not ship all of dist (its source maps point at sources that are not shipped)');
    for (const [dep, range] of Object.entries(m.dependencies ?? {})) {
      if (names.has(dep)) t.equal(range, `^${w.version}`, `internal dependency ${dep} is a real range`);
    }
    for (const [cmd, target] of Object.entries(m.bin ?? {})) {
      t.ok(existsSync(join(repoRoot, w.dir, target)), `bin ${cmd} (${target}) is committed, so npm links it before the build`);
      t.ok(files.some((f) => target.startsWith(f.replace(/\/?\*.*$/, ''))), `bin ${cmd} is in files`);
    }
    t.end();
  });
}
