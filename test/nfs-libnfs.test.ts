import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import t from 'tap';
import { native } from '@netboot/platform';
import { createLink } from './support/netns.js';
import { netbootCli, repoRoot } from './support/paths.js';
import { run, start } from './support/processes.js';
import { requirePrograms, requireNetns } from './support/programs.js';
import { startRpcbind } from './support/rpcbind.js';

/*
 * Debian's clients against `netboot nfs`: the command runs portmap on 111,
 * mountd and NFS on 2049 in a server namespace; rpcinfo, showmount and
 * libnfs' nfs-ls / nfs-cat / nfs-cp run in a client namespace across a veth
 * link, finding the ports through the portmapper as on a real network.
 */

async function writeRandomFile(path: string, bytes: number): Promise<void> {
  const chunk = 4 * 1024 * 1024;
  const out = createWriteStream(path);
  for (let done = 0; done < bytes; done += chunk) {
    if (!out.write(randomBytes(Math.min(chunk, bytes - done)))) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
}

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}

t.test('rpcinfo, showmount and libnfs against netboot nfs', async (t) => {
  if (!requireNetns(t)) return;
  const progs = requirePrograms(t, {
    rpcinfo: 'rpcbind',
    showmount: 'nfs-common',
    'nfs-ls': 'libnfs-utils',
    'nfs-cat': 'libnfs-utils',
    'nfs-cp': 'libnfs-utils',
    cmp: 'diffutils',
    setpriv: 'util-linux',
  });
  if (!progs) return;
  const link = createLink(t, { subnet: 43, label: 'nfs' });
  const dir = mkdtempSync(join(tmpdir(), 'nfs-libnfs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const exp = join(dir, 'export');
  const secure = join(dir, 'secure');
  const outside = join(dir, 'outside');
  mkdirSync(join(exp, 'etc', 'deep'), { recursive: true });
  mkdirSync(secure);
  mkdirSync(outside);
  writeFileSync(join(exp, 'etc', 'hostname'), 'node-1\n');
  writeFileSync(join(exp, 'etc', 'deep', 'file'), 'deep\n');
  writeFileSync(join(secure, 's.txt'), 'secure\n');
  writeFileSync(join(outside, 'secret'), 'secret\n');
  symlinkSync(join(outside, 'secret'), join(exp, 'escape'));
  const exportsFile = join(dir, 'exports');
  writeFileSync(
    exportsFile,
    [
      `${exp} ${link.clientAddr}(rw,sync,no_root_squash,insecure,no_subtree_check)`,
      `${secure} ${link.serverAddr}/24(ro,secure)`,
      '',
    ].join('\n'),
  );
  const server = start(
    t,
    process.execPath,
    // Two NFS threads whatever the machine's cores: consecutive connections alternate between them.
    [netbootCli, 'nfs', '--exports', exportsFile, '--listen', link.serverAddr, '--state-dir', join(dir, 'state'), '--nfs-workers', '2'],
    { ns: link.server, cwd: repoRoot },
  );
  await server.waitFor(/NFS v3 port 2049/);
  const host = link.serverAddr;
  const inClient = (cmd: string, args: string[], timeoutMs = 60_000) => run(cmd, args, { ns: link.client, timeoutMs });
  const url = (path: string) => `nfs://${host}${path}?version=3`;

  const rpcinfo = await inClient(progs.rpcinfo, ['-p', host]);
  t.equal(rpcinfo.code, 0, rpcinfo.stderr);
  for (const [prog, vers] of [
    [100003, 3],
    [100005, 1],
    [100005, 3],
  ]) {
    for (const proto of ['udp', 'tcp']) {
      const port = prog === 100003 ? '2049' : '\\d+';
      t.match(rpcinfo.stdout, new RegExp(`${prog}\\s+${vers}\\s+${proto}\\s+${port}`), `rpcinfo lists ${prog} v${vers} ${proto}`);
    }
  }
  const showmount = await inClient(progs.showmount, ['-e', host]);
  t.equal(showmount.code, 0, showmount.stderr);
  t.match(showmount.stdout, exp);
  t.match(showmount.stdout, secure);

  const ls = await inClient(progs['nfs-ls'], ['-R', url(exp)]);
  t.equal(ls.code, 0, ls.stderr);
  t.match(ls.stdout, /etc\/deep\/file/, 'nfs-ls -R walks the tree');
  t.match(ls.stdout, /escape/, 'the symlink is listed');
  t.notMatch(ls.stdout, /secret/, 'but never followed');
  const lss = await inClient(progs['nfs-ls'], ['-s', url(exp)]);
  t.equal(lss.code, 0, lss.stderr);
  t.match(lss.stdout, /\d+ of \d+ bytes free/, 'nfs-ls -s reports FSSTAT');
  const cat = await inClient(progs['nfs-cat'], [url(`${exp}/etc/hostname`)]);
  t.equal(cat.stdout, 'node-1\n', 'nfs-cat');
  const escape = await inClient(progs['nfs-cat'], [url(`${exp}/escape`)]);
  // The server hands out the link, never its target; libnfs itself refuses to follow a link out of the export.
  t.not(escape.stdout, 'secret\n', 'nfs-cat of a symlink out of the export does not read the target');
  const up = await inClient(progs['nfs-cat'], [url(`${exp}/../outside/secret`)]);
  t.not(up.stdout, 'secret\n', 'a path with .. does not leave the export');
  t.not(up.code, 0);

  const secureRoot = await inClient(progs['nfs-cat'], [url(`${secure}/s.txt`)]);
  t.equal(secureRoot.stdout, 'secure\n', 'a secure export serves root (reserved source port)');
  const insecureUser = await inClient(progs.setpriv, ['--reuid=65534', '--regid=65534', '--clear-groups', progs['nfs-cat'], url(`${secure}/s.txt`)]);
  t.not(insecureUser.stdout, 'secure\n', 'a secure export refuses an unprivileged source port');
  t.not(insecureUser.code, 0);
  t.match(server.output(), /refused \(source port \d+ is not below 1024/, 'mountd says why');

  const big = join(dir, 'big.bin');
  await writeRandomFile(big, 200 * 1024 * 1024);
  const cpUp = await inClient(progs['nfs-cp'], [big, url(`${exp}/big.bin`)], 240_000);
  t.equal(cpUp.code, 0, `nfs-cp up: ${cpUp.stderr}`);
  t.equal((await run(progs.cmp, [big, join(exp, 'big.bin')])).code, 0, '200 MiB copied to the server byte-identical');
  const back = join(dir, 'back.bin');
  const cpDown = await inClient(progs['nfs-cp'], [url(`${exp}/big.bin`), back], 240_000);
  t.equal(cpDown.code, 0, `nfs-cp down: ${cpDown.stderr}`);
  t.equal((await run(progs.cmp, [big, back])).code, 0, '200 MiB copied from the server byte-identical');
  t.equal(await sha256(back), await sha256(big));

  t.match(server.output(), /mount request from [\d.]+:\d+ for .*: granted/, 'mounts are logged');

  // SIGHUP re-reads the exports file: a node root added later is served without a restart.
  const later = join(dir, 'later');
  mkdirSync(later);
  writeFileSync(join(later, 'new.txt'), 'later\n');
  writeFileSync(exportsFile, `${exp} ${link.clientAddr}(rw,no_root_squash,insecure)\n${later} ${link.clientAddr}(ro,insecure)\n`);
  server.child.kill('SIGHUP');
  await server.waitFor(/reloaded .*: 2 exports/);
  // Without the platform module (portable mode, test/platform-portable.test.ts) there is no handing a connection to a thread.
  if (native) t.match(server.output(), /NFS over TCP on 2 worker threads/);
  else t.match(server.output(), /served on the main thread alone: worker threads need the platform module/);
  // Two connections, one after the other: one on each NFS thread.
  for (let i = 0; i < 2; i++) {
    const afterReload = await inClient(progs['nfs-cat'], [url(`${later}/new.txt`)]);
    t.equal(afterReload.stdout, 'later\n', `an export added to the file is served after SIGHUP (connection ${i + 1})`);
  }
  const gone = await inClient(progs['nfs-cat'], [url(`${secure}/s.txt`)]);
  t.not(gone.code, 0, 'an export removed from the file is no longer served');
  const code = await server.stop();
  t.equal(code, 0, 'stops cleanly on SIGTERM');
  t.match(server.output(), /unregistered program 100003 version 3/, 'unregistered on the way out');
});

t.test('netboot nfs registers with a portmapper already running (Debian rpcbind)', async (t) => {
  if (!requireNetns(t)) return;
  const progs = requirePrograms(t, { rpcbind: 'rpcbind', rpcinfo: 'rpcbind', 'nfs-cat': 'libnfs-utils', unshare: 'util-linux' });
  if (!progs) return;
  const link = createLink(t, { subnet: 44, label: 'nfsrb' });
  const dir = mkdtempSync(join(tmpdir(), 'nfs-rpcbind-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const exp = join(dir, 'export');
  mkdirSync(exp);
  writeFileSync(join(exp, 'f'), 'via rpcbind\n');
  const exportsFile = join(dir, 'exports');
  writeFileSync(exportsFile, `${exp} ${link.clientAddr}(ro,insecure)\n`);
  const rpcbind = await startRpcbind(t, link.server, progs);
  const host = link.serverAddr;
  const server = start(t, process.execPath, [netbootCli, 'nfs', '--exports', exportsFile, '--listen', host, '--state-dir', join(dir, 'state')], {
    ns: link.server,
    cwd: repoRoot,
  });
  await server.waitFor(/NFS v3 port 2049/);
  t.notMatch(server.output(), /\(our own\)/, 'it did not start a portmapper of its own');
  const listed = await run(progs.rpcinfo, ['-p', host], { ns: link.client, timeoutMs: 20_000 });
  t.match(listed.stdout, /100003\s+3\s+tcp\s+2049/, 'rpcbind lists NFS');
  t.match(listed.stdout, /100005\s+3\s+udp\s+\d+/, 'rpcbind lists MOUNT');
  const cat = await run(progs['nfs-cat'], [`nfs://${host}${exp}/f?version=3`], { ns: link.client, timeoutMs: 30_000 });
  t.equal(cat.stdout, 'via rpcbind\n');
  t.equal(await server.stop(), 0);
  const after = await run(progs.rpcinfo, ['-p', host], { ns: link.client, timeoutMs: 20_000 });
  t.notMatch(after.stdout, /10000[35]/, 'SIGTERM unregistered NFS and MOUNT from rpcbind');
  await rpcbind.stop();
});
