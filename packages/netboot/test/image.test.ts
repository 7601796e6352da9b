import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { netbootCli } from '../../../test/support/paths.js';
import { until } from '../../../test/support/until.js';
import { tar, header } from '../../image-store/test/tar-writer.js';

const run = promisify(execFile);

function netboot(args: string[], input?: Buffer): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [netbootCli, ...args], { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin!.end(input ?? '');
  });
}

function scratch(t: { teardown(f: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'netboot-image-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('image import from a directory, a tar file and gzip on stdin; list, promote, rollback', async (t) => {
  const dir = scratch(t);
  const state = ['--state-dir', join(dir, 'state')];
  const src = join(dir, 'src');
  mkdirSync(join(src, 'etc'), { recursive: true });
  writeFileSync(join(src, 'etc/os-release'), 'ID=debian\n');
  const first = await netboot(['image', 'import', 'deb', src, ...state]);
  t.equal(first.code, 0, first.stderr);
  t.equal(first.stdout, '1\n', 'prints the new generation number');
  const archive = join(dir, 'rootfs.tar');
  await run('tar', ['-cf', archive, '-C', src, '.']);
  const second = await netboot(['image', 'import', 'deb', archive, ...state]);
  t.equal(second.stdout, '2\n', second.stderr);
  t.match(second.stderr, /shared with generation 1/);
  const third = await netboot(['image', 'import', 'deb', '-', ...state], gzipSync(readFileSync(archive)));
  t.equal(third.stdout, '3\n', third.stderr);
  t.equal(readFileSync(join(dir, 'state/images/deb/3/etc/os-release'), 'utf8'), 'ID=debian\n');
  t.equal((await netboot(['image', 'list', ...state])).stdout, 'deb\t1* 2 3\n', 'the first generation is promoted');
  t.equal((await netboot(['image', 'promote', 'deb', '3', ...state])).code, 0);
  t.equal((await netboot(['image', 'list', ...state])).stdout, 'deb\t1 2 3*\n');
  const back = await netboot(['image', 'rollback', 'deb', ...state]);
  t.equal(back.stdout, '1\n', 'rollback prints the generation promoted again');
  const bad = await netboot(['image', 'promote', 'deb', '7', ...state]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /no generation 7/);
});

t.test('a hostile or damaged archive exits 1 naming the entry, and leaves no generation', async (t) => {
  const dir = scratch(t);
  const state = ['--state-dir', join(dir, 'state')];
  const escape = await netboot(['image', 'import', 'evil', '-', ...state], tar([{ name: '../../etc/cron.d/x', data: '* * * * * root sh\n' }]));
  t.equal(escape.code, 1);
  t.match(escape.stderr, /"\.\.\/\.\.\/etc\/cron\.d\/x"/);
  const cut = await netboot(['image', 'import', 'evil', '-', ...state], gzipSync(tar([{ name: 'etc/big', data: 'x'.repeat(5000) }]).subarray(0, 2000)));
  t.equal(cut.code, 1);
  t.match(cut.stderr, /"etc\/big": the stream ends .* bytes into a body/);
  const gz = gzipSync(tar([{ name: 'a', data: 'x' }]));
  const broken = await netboot(['image', 'import', 'evil', '-', ...state], gz.subarray(0, gz.length - 6));
  t.equal(broken.code, 1);
  t.match(broken.stderr, /gzip/);
  t.same(readdirSync(join(dir, 'state/images/evil')), [], 'nothing left in the image directory');
});

t.test('kill -9 in the middle of an import leaves no generation; the next import cleans up and succeeds', async (t) => {
  const dir = scratch(t);
  const images = join(dir, 'state/images/big');
  const child = spawn(process.execPath, [netbootCli, 'image', 'import', 'big', '-', '--state-dir', join(dir, 'state')], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = once(child, 'exit');
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
  });
  child.stdin.on('error', () => {});
  // A 64 MiB file announced, its first megabyte sent, the rest never.
  child.stdin.write(Buffer.concat([header({ name: 'first', data: 'x' }, 1), Buffer.from('x'), Buffer.alloc(511), header({ name: 'huge' }, 64 << 20), Buffer.alloc(1 << 20, 0x61)]));
  const tmpFile = () => {
    if (!existsSync(images)) return false;
    const tmp = readdirSync(images).find((n) => n.startsWith('.tmp-'));
    return tmp !== undefined && existsSync(join(images, tmp, 'huge'));
  };
  await until(tmpFile, 'the import to be writing "huge"', 30_000);
  process.kill(child.pid!, 'SIGKILL');
  await exited;
  t.notOk(readdirSync(images).some((n) => /^\d+$/.test(n)), 'no generation appeared');
  t.ok(readdirSync(images).some((n) => n.startsWith('.tmp-')), 'the half-built tree is still there, under its .tmp name');
  const next = await netboot(['image', 'import', 'big', '-', '--state-dir', join(dir, 'state')], tar([{ name: 'ok', data: 'fine' }]));
  t.equal(next.code, 0, next.stderr);
  t.equal(next.stdout, '1\n');
  t.same(readdirSync(images).sort(), ['1'], 'the leftover and the dead lock are gone');
});
