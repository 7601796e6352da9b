import t from 'tap';
import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { start, run } from './support/processes.js';
import { createNetns } from './support/netns.js';
import { requirePrograms, requireNetns } from './support/programs.js';
import { netbootCli } from './support/paths.js';

t.test('the embedded demo serves TFTP and NFS on loopback and stops cleanly on SIGTERM', async (t) => {
  // A private namespace: the fixed ports can't clash with anything else running.
  if (!requireNetns(t)) return;
  const progs = requirePrograms(t, { curl: 'curl', 'nfs-cat': 'libnfs-utils', 'nfs-ls': 'libnfs-utils' });
  if (!progs) return;
  // A private namespace: the demo's fixed ports can't clash with anything else running.
  const ns = createNetns(t, 'nbdemo');
  const serve = start(t, process.execPath, [netbootCli, 'serve'], { ns });
  await serve.waitFor(/Stop with Ctrl-C/, 20_000);
  const out = serve.output();
  t.match(out, /tftp\s+udp\s+127\.0\.0\.1:10069/);
  t.match(out, /nfs \(100003 v3\)\s+udp\+tcp\s+127\.0\.0\.1:10049/);
  const exportRoot = /exports (\S+) over NFSv3/.exec(out)?.[1];
  t.ok(exportRoot, 'names the export');

  const tftp = await run(progs.curl, ['-s', 'tftp://127.0.0.1:10069/hello.txt'], { ns, timeoutMs: 10_000 });
  t.equal(tftp.stdout, 'Hello from netboot over TFTP.\n', 'curl fetches over TFTP');
  const http = await run(progs.curl, ['-s', 'http://127.0.0.1:10080/hello.txt'], { ns, timeoutMs: 10_000 });
  t.equal(http.stdout, 'Hello from netboot over TFTP.\n', 'curl fetches the same file over HTTP');
  const url = (p: string) => `nfs://127.0.0.1${exportRoot}${p}?version=3&nfsport=10049&mountport=10048`;
  const cat = await run(progs['nfs-cat'], [url('/README')], { ns, timeoutMs: 10_000 });
  t.equal(cat.stdout, 'Hello from netboot over NFSv3.\n', 'nfs-cat reads over NFSv3');
  const ls = await run(progs['nfs-ls'], [url('')], { ns, timeoutMs: 10_000 });
  t.match(ls.stdout, /README/);

  const code = await serve.stop(5000);
  t.equal(code, 0, 'exits 0 on SIGTERM');
  t.match(serve.output(), /netboot serve: stopped/);
});

t.test('SIGHUP: new remap rules take effect, a broken exports file keeps the running exports', async (t) => {
  // A private namespace: the fixed ports can't clash with anything else running.
  if (!requireNetns(t)) return;
  const progs = requirePrograms(t, { 'nfs-cat': 'libnfs-utils', curl: 'curl' });
  if (!progs) return;
  const dir = await mkdtemp(join(tmpdir(), 'netboot-serve-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const exp = join(dir, 'export');
  await mkdir(exp);
  await writeFile(join(exp, 'file'), 'still here\n');
  await mkdir(join(dir, 'tftp'));
  await writeFile(join(dir, 'tftp', 'a.txt'), 'first\n');
  await writeFile(join(dir, 'tftp', 'b.txt'), 'second\n');
  const remapFile = join(dir, 'tftp.remap');
  await writeFile(remapFile, 'r ^which$ a.txt\n');
  const exportsFile = join(dir, 'exports');
  await writeFile(exportsFile, `${exp} 127.0.0.1(rw,insecure,no_root_squash)\n`);
  const config = join(dir, 'netboot.conf');
  await writeFile(
    config,
    [
      '# netboot serve settings, as a service manager would keep them',
      `exports ${exportsFile}`,
      `tftp-root = ${join(dir, 'tftp')}`,
      `tftp-remap ${remapFile}`,
      'listen 127.0.0.1',
      `state-dir ${join(dir, 'state')}`,
      'nfs-port 12049',
      'mountd-port 12048',
      'portmap-port 12111',
      'tftp-port 12069',
      '',
    ].join('\n'),
  );
  const ns = createNetns(t, 'nbhup');
  const serve = start(t, process.execPath, [netbootCli, 'serve', '--config', config], { ns });
  await serve.waitFor(/netboot serve: running/, 20_000);
  const url = `nfs://127.0.0.1${exp}/file?version=3&nfsport=12049&mountport=12048`;
  t.equal((await run(progs['nfs-cat'], [url], { ns, timeoutMs: 10_000 })).stdout, 'still here\n');

  const which = async () => (await run(progs.curl, ['-s', 'tftp://127.0.0.1:12069/which'], { ns, timeoutMs: 10_000 })).stdout;
  t.equal(await which(), 'first\n', 'the remap rule applies');
  await writeFile(remapFile, 'r ^which$ b.txt\n');
  process.kill(serve.pid, 'SIGHUP');
  await serve.waitFor(/tftp: reloaded 1 remap rules/, 10_000);
  t.equal(await which(), 'second\n', 'the new remap rule applies after SIGHUP');

  await writeFile(exportsFile, `${exp} 127.0.0.1(rw,bogus_option)\n`);
  process.kill(serve.pid, 'SIGHUP');
  await serve.waitFor(/reload failed, the running settings stay in force: .*exports:1:/, 10_000);
  t.equal((await run(progs['nfs-cat'], [url], { ns, timeoutMs: 10_000 })).stdout, 'still here\n', 'the old exports still serve');
  t.equal(await serve.stop(5000), 0);
});

t.test('a config file mistake names file, line and column', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'netboot-serve-conf-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'bad.conf'), '# settings\nlisten 127.0.0.1\n  tftp-rooot /srv/tftp\n');
  const r = await run(process.execPath, [netbootCli, 'serve', '--config', join(dir, 'bad.conf')], { timeoutMs: 10_000 });
  t.equal(r.code, 1);
  t.match(r.stderr, /bad\.conf:3:3: unknown setting "tftp-rooot"/);
});
