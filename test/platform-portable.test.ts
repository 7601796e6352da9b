// The NFS, TFTP and HTTP interop tests once more with the native module
// switched off (NETBOOT_PLATFORM=portable): the servers must still serve
// real clients where the module cannot build. The rest of the suite runs
// with the module, as CI builds it.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { repoRoot } from './support/paths.js';

// Three interop files in one child run: allow for them on a loaded machine.
t.setTimeout(900_000);

const files = ['test/nfs-libnfs.test.ts', 'test/tftp-clients.test.ts', 'test/http-curl.test.ts'];

t.test(`${files.join(', ')} pass in portable mode`, async (t) => {
  // A tap run given no --save list starts by deleting .tap/processinfo, which the outer run is writing
  // into (ENOTEMPTY, and the child dies): a save list of these files makes it a partial run that keeps it.
  const scratch = mkdtempSync(join(tmpdir(), 'portable-'));
  t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
  const saveList = join(scratch, 'files');
  writeFileSync(saveList, files.join('\n') + '\n');
  const child = spawn(process.execPath, [join(repoRoot, 'node_modules', 'tap', 'dist', 'esm', 'run.mjs'), '--disable-coverage', '--reporter=tap', `--save=${saveList}`, ...files], {
    cwd: repoRoot,
    env: { ...process.env, NETBOOT_PLATFORM: 'portable', TS_NODE_PROJECT: join(repoRoot, 'tsconfig.test.json') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  if (code !== 0) t.comment(output.slice(-8000));
  t.equal(code, 0, 'the interop tests pass without the native module');
  for (const file of files) {
    const line = new RegExp(`^ok \\d+ - ${file.replace(/\./g, '\\.')}.*$`, 'm').exec(output)?.[0];
    t.ok(line, `${file} passed`);
    t.notMatch(line ?? '', /# SKIP/, `${file} ran rather than skipped`);
  }
});
