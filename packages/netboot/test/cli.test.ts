import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

t.test('netboot --help lists the commands and exits 0', async (t) => {
  const { stdout } = await run(process.execPath, [cli, '--help']);
  t.match(stdout, /usage: netboot <command>/);
});

t.test('an unknown command is an error that shows the usage', async (t) => {
  const err = await run(process.execPath, [cli, 'nonsense']).then(
    () => null,
    (e: { code: number; stderr: string }) => e,
  );
  t.ok(err, 'exits non-zero');
  t.equal(err?.code, 2);
  t.match(err?.stderr ?? '', /unknown command "nonsense"/);
});

t.test('netboot pxelinux lists the names in pxelinux order and marks the one found', async (t) => {
  const { mkdtemp, mkdir, writeFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const root = await mkdtemp(join(tmpdir(), 'netboot-pxelinux-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  await mkdir(join(root, 'pxelinux.cfg'));
  await writeFile(join(root, 'pxelinux.cfg', 'C61201'), 'DEFAULT linux\n');
  const { stdout } = await run(process.execPath, [cli, 'pxelinux', '52:54:00:12:34:56', '198.18.1.21', '--root', root]);
  const lines = stdout.trim().split('\n');
  t.equal(lines[0], 'pxelinux.cfg/01-52-54-00-12-34-56');
  t.equal(lines[1], 'pxelinux.cfg/C6120115');
  t.equal(lines.at(-1), 'pxelinux.cfg/default');
  t.match(lines[3], /^pxelinux\.cfg\/C61201 {2}<- found/);
});

t.test('netboot --version prints the version of the package, then the platform mode', async (t) => {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  const { stdout } = await run(process.execPath, [cli, '--version']);
  const lines = stdout.trim().split('\n');
  t.equal(lines[0], pkg.version);
  t.match(lines[1], /^platform: (native \(linux-x64, .+\)|portable \(.+\))$/);
  const portable = await run(process.execPath, [cli, '--version'], { env: { ...process.env, NETBOOT_PLATFORM: 'portable' } });
  t.equal(portable.stdout.trim().split('\n')[1], 'platform: portable (NETBOOT_PLATFORM=portable in the environment)');
});

t.test('the committed bin entry runs the built command', async (t) => {
  const bin = fileURLToPath(new URL('../bin/netboot.js', import.meta.url));
  const { stdout } = await run(process.execPath, [bin, '--help']);
  t.match(stdout, /usage: netboot <command>/);
});
