// The packages as a user gets them: every workspace packed with npm, the
// tarballs installed into a fresh project outside the repository (offline,
// with an empty npm cache: nothing from a registry), and used from there by a plain JavaScript
// script, by the README examples compiled with strict tsc against the shipped
// types, and through the installed `netboot` command.
import t from 'tap';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve as resolvePath, sep } from 'node:path';
import { run, start } from './support/processes.js';
import { createNetns } from './support/netns.js';
import { requireNetns } from './support/programs.js';
import { repoRoot } from './support/paths.js';
import { workspaces } from './support/workspaces.js';

/** What a package may ship: what a user needs, nothing from test/, no maps, no build state; for
 * @netboot/platform also its C sources and binding.gyp, built at install when no prebuild matches. */
const SHIPPED = /^(README\.md|LICENSE|package\.json|bin\/[\w.-]+\.js|dist\/.+\.(js|d\.ts)|binding\.gyp|native\/[\w-]+\.[ch]|prebuilds\/linux-x64\/[\w.@-]+\.node)$/;

interface Packed {
  name: string;
  version: string;
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string }[];
}

/**
 * The environment of a user's shell: without what `npm test` adds for the
 * workspace (so npm in the consumer project sees that project, not this
 * repository), with this node first on PATH for the bin's `env node`.
 */
function userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_(package|lifecycle)_|^npm_config_(local_prefix|prefix|workspaces?|include_workspace_root)$|^INIT_CWD$/i.test(k)) continue;
    env[k] = v;
  }
  env.PATH = [dirname(process.execPath), env.PATH ?? ''].join(delimiter);
  return { ...env, ...extra };
}

/**
 * The third-party packages the workspaces need at run time, with theirs, as
 * installed in this repository's node_modules (resolved the way Node does,
 * from the depending package's directory up). They are packed from there
 * beside ours, so the fresh project installs with no registry at all: the
 * npm cache that `npm ci` fills holds tarballs but not the package documents
 * npm needs to resolve a version range offline.
 */
function thirdPartyDirs(): string[] {
  const ours = new Set(all.map((w) => w.name));
  const found = new Map<string, string>();
  const resolve = (name: string, from: string): string | undefined => {
    const top = resolvePath(repoRoot);
    for (let d = from; d === top || d.startsWith(top + sep); d = dirname(d)) {
      const candidate = join(d, 'node_modules', name);
      if (existsSync(join(candidate, 'package.json'))) return candidate;
    }
    return undefined;
  };
  const visit = (from: string, manifest: Manifest) => {
    const required = Object.keys(manifest.dependencies ?? {});
    const optional = Object.keys(manifest.optionalDependencies ?? {});
    for (const name of [...required, ...optional]) {
      if (ours.has(name) || found.has(name)) continue;
      const dir = resolve(name, from);
      if (!dir) {
        if (required.includes(name)) throw new Error(`${name}, needed by ${manifest.name}, is not installed: run npm ci`);
        continue; // an optional dependency npm did not install here
      }
      found.set(name, dir);
      visit(dir, JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest);
    }
  };
  for (const w of all) visit(join(repoRoot, w.dir), w.manifest as unknown as Manifest);
  return [...found.values()];
}

interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

const npm = 'npm';
const all = workspaces();
const dir = await mkdtemp(join(tmpdir(), 'netboot-consumer-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const packs = join(dir, 'packs');
const project = join(dir, 'project');
// An empty npm cache: what installs can come only from the tarballs.
const cache = join(dir, 'npm-cache');
await mkdir(packs);
await mkdir(project);
let tarballs: string[] = [];
/** Set once the fresh project has the packages; the later steps need them. */
let installed = false;

t.test('npm pack: every workspace, shipping only what a user needs', async (t) => {
  const r = await run(npm, ['pack', '--workspaces', '--pack-destination', packs, '--json'], { cwd: repoRoot, env: userEnv(), timeoutMs: 120_000 });
  t.equal(r.code, 0, 'npm pack exits 0', { stderr: r.stderr });
  const packed = JSON.parse(r.stdout) as Packed[];
  t.same(packed.map((p) => p.name).sort(), all.map((w) => w.name).sort(), 'one tarball per workspace');
  for (const p of packed) {
    const paths = p.files.map((f) => f.path);
    t.same(paths.filter((f) => !SHIPPED.test(f)), [], `${p.name}: nothing but README, LICENSE, package.json, dist .js/.d.ts (and native sources)`);
    t.ok(paths.includes('README.md') && paths.includes('LICENSE') && paths.includes('dist/index.js') && paths.includes('dist/index.d.ts'), `${p.name}: README, LICENSE, index.js, index.d.ts`);
    t.comment(`${p.filename}: ${p.size} bytes packed, ${p.unpackedSize} unpacked, ${p.files.length} files`);
  }
  tarballs = packed.map((p) => join(packs, p.filename));

  const deps = thirdPartyDirs();
  if (deps.length > 0) {
    const d = await run(npm, ['pack', '--ignore-scripts', '--pack-destination', packs, '--json', ...deps], { cwd: dir, env: userEnv(), timeoutMs: 120_000 });
    t.equal(d.code, 0, `the third-party dependencies are packed from node_modules (${deps.length})`, { stderr: d.stderr });
    tarballs.push(...(JSON.parse(d.stdout) as Packed[]).map((p) => join(packs, p.filename)));
  }
});

t.test('a fresh project installs the tarballs offline', async (t) => {
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'netboot-consumer', private: true, type: 'module' }, null, 2));
  const r = await run(npm, ['install', '--offline', '--cache', cache, '--no-audit', '--no-fund', ...tarballs], { cwd: project, env: userEnv(), timeoutMs: 120_000 });
  // Offline: nothing may come from a registry, so a dependency range the packed tarballs don't satisfy fails here.
  t.equal(r.code, 0, 'npm install --offline exits 0', { output: r.stdout + r.stderr });
  for (const w of all) t.ok(existsSync(join(project, 'node_modules', w.name, 'package.json')), `${w.name} installed`);
  installed = r.code === 0;
});

t.test('plain JavaScript uses each package for real', async (t) => {
  if (!installed) return t.fail('the packages are not installed (see above)');
  await copyFile(join(repoRoot, 'test/consumer/headline-apis.mjs'), join(project, 'headline-apis.mjs'));
  const r = await run(process.execPath, ['headline-apis.mjs'], { cwd: project, env: userEnv(), timeoutMs: 60_000 });
  t.equal(r.code, 0, 'exits 0', { stderr: r.stderr });
  const expected = ['@netboot/dhcp-wire', '@netboot/tftp-wire', '@netboot/http-boot', '@netboot/oncrpc-xdr', '@netboot/portmap', '@netboot/mountd', '@netboot/nfs3', '@netboot/nlm', 'netboot'];
  t.same(r.stdout.trim().split('\n'), expected.map((p) => `ok ${p}`));
});

t.test('the README examples and an import of every package compile with strict tsc against the shipped types, and run', async (t) => {
  if (!installed) return t.fail('the packages are not installed (see above)');
  const src = join(project, 'src');
  await mkdir(src);
  const examples = (await readdir(join(repoRoot, 'examples'))).filter((n) => n.endsWith('.ts')).sort();
  for (const name of examples) await copyFile(join(repoRoot, 'examples', name), join(src, name));
  // The repository's TypeScript and Node types: the project has no registry to get its own.
  const tsconfig = {
    compilerOptions: {
      target: 'ES2022',
      lib: ['ES2022'],
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      skipLibCheck: false,
      typeRoots: [join(repoRoot, 'node_modules/@types')],
      types: ['node'],
      rootDir: 'src',
      outDir: 'out',
    },
    include: ['src'],
  };
  // Every package's types load under strict checking (no skipLibCheck), the ones no example uses too.
  await writeFile(
    join(src, 'every-package.ts'),
    all.map((w, i) => `import * as p${i} from '${w.name}';\n`).join('') +
      `console.log([${all.map((_, i) => `Object.keys(p${i}).length`).join(', ')}].join(' '));\n`,
  );
  examples.push('every-package.ts');
  await writeFile(join(project, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
  const tsc = await run(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', project], { cwd: project, env: userEnv(), timeoutMs: 120_000 });
  t.equal(tsc.code, 0, 'tsc exits 0', { output: tsc.stdout + tsc.stderr });
  if (tsc.code !== 0) return;
  for (const name of examples) {
    const r = await run(process.execPath, [join('out', name.replace(/\.ts$/, '.js'))], { cwd: project, env: userEnv(), timeoutMs: 30_000 });
    t.equal(r.code, 0, `${name} runs and exits by itself`, { output: r.stdout + r.stderr });
    t.ok(r.stdout.length > 0, `${name} prints its result`);
  }
});

t.test('the installed netboot command', async (t) => {
  if (!installed) return t.fail('the packages are not installed (see above)');
  const bin = join(project, 'node_modules/.bin/netboot');
  const version = all.find((w) => w.name === 'netboot')!.version;
  const v = await run(bin, ['--version'], { env: userEnv(), timeoutMs: 30_000 });
  t.equal(v.stdout.split('\n')[0], version, 'netboot --version prints the package version');
  t.match(v.stdout.split('\n')[1], /^platform: (native|portable) \(/, 'and whether the platform module loaded');
  const help = await run(bin, ['--help'], { env: userEnv(), timeoutMs: 30_000 });
  t.equal(help.code, 0, 'netboot --help exits 0');
  t.match(help.stdout, /usage: netboot <command>/, 'and shows the usage');

  t.test('npm install -g of the tarballs puts netboot on the PATH', async (t) => {
    const prefix = join(dir, 'global');
    const g = await run(npm, ['install', '-g', '--prefix', prefix, '--offline', '--cache', cache, '--no-audit', '--no-fund', ...tarballs], { cwd: dir, env: userEnv(), timeoutMs: 120_000 });
    t.equal(g.code, 0, 'npm install -g exits 0', { output: g.stdout + g.stderr });
    const r = await run('netboot', ['--version'], { env: userEnv({ PATH: [join(prefix, 'bin'), dirname(process.execPath), '/usr/bin:/bin'].join(delimiter) }), timeoutMs: 30_000 });
    t.equal(r.stdout.split('\n')[0], version, 'netboot --version from the global install');
  });

  t.test('netboot serve runs the demo; a TFTP fetch from it succeeds', async (t) => {
    // A private namespace: the demo's fixed ports can't clash with another test or an `npm start`.
    if (!requireNetns(t)) return;
    const ns = createNetns(t, 'nbpkg');
    // The demo writes under the temp directory; a private one keeps it apart from test/serve.test.ts's.
    const demoTmp = join(dir, 'demo-tmp');
    await mkdir(demoTmp);
    const serve = start(t, bin, ['serve'], { ns, env: userEnv({ TMPDIR: demoTmp }) });
    await serve.waitFor(/Stop with Ctrl-C/, 30_000);
    const port = /tftp\s+udp\s+127\.0\.0\.1:(\d+)/.exec(serve.output())?.[1];
    t.ok(port, 'the demo names its TFTP port');
    t.match(serve.output(), new RegExp(demoTmp.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'the demo lives in the private temp directory');
    await writeFile(
      join(project, 'fetch.mjs'),
      "import { tftpGet } from '@netboot/tftp-wire';\n" +
        "const got = await tftpGet(process.argv[2], { host: '127.0.0.1', port: Number(process.argv[3]), blksize: 1468 });\n" +
        'process.stdout.write(got.data);\n',
    );
    const got = await run(process.execPath, ['fetch.mjs', 'hello.txt', String(port)], { ns, cwd: project, env: userEnv(), timeoutMs: 30_000 });
    t.equal(got.stdout, 'Hello from netboot over TFTP.\n', "the demo's hello.txt over TFTP", { stderr: got.stderr });
    t.equal(await serve.stop(5000), 0, 'netboot serve exits 0 on SIGTERM');
  });
});
