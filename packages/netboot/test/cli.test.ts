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
