import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createLink } from './support/netns.js';
import { netbootCli, repoRoot } from './support/paths.js';
import { run, start } from './support/processes.js';
import { requirePrograms, requireNetns } from './support/programs.js';

/*
 * `netboot nfs` serves locking: Debian's rpcinfo finds NLM v4 and NSM v1
 * through its portmapper, and a client host made of our own pieces (its
 * portmapper on 111, its lock manager taking GRANTED callbacks, its statd
 * taking reboot notices) in a second namespace locks, waits, is called
 * back, lives through a kill -9 and restart of the server, is told of it
 * and reclaims its lock in the grace period while others are held off.
 */

const CLIENT_HOST = `
import { RpcClient, RpcServer } from '@netboot/oncrpc-xdr';
import { PortmapClient, PortmapServer } from '@netboot/portmap';
import * as nlm from '@netboot/nlm';
const [server] = process.argv.slice(1);
const out = (o) => console.log(JSON.stringify(o));
const pmap = new PortmapServer({ log: () => {} });
await pmap.listen({ host: '0.0.0.0', port: 111 });
const granted = [];
const notices = [];
// Settled by the handlers; the test's waitFor on this script's output bounds how long they may take.
let onGranted, onNotice;
const firstGrant = new Promise((r) => (onGranted = r));
const firstNotice = new Promise((r) => (onNotice = r));
const rpc = new RpcServer({ log: (l) => console.error(l) });
rpc.register(nlm.NLM_PROGRAM, nlm.NLM_V4, {
  [nlm.NlmProc.GRANTED]: (c) => {
    const a = nlm.nlm4TestArgs.read(c.args);
    granted.push(a.alock.callerName + '/' + a.alock.svid);
    onGranted();
    return { stat: 0, body: [nlm.nlm4Res.encode({ cookie: a.cookie, stat: nlm.Nlm4Stat.GRANTED })] };
  },
});
rpc.register(nlm.NSM_PROGRAM, nlm.NSM_V1, {
  [nlm.NsmProc.NOTIFY]: (c) => {
    notices.push(nlm.statChge.read(c.args));
    onNotice();
    return { stat: 0, body: [] };
  },
});
const port = await rpc.listen({ host: '0.0.0.0', port: 0 });
const reg = await PortmapClient.connect({});
await reg.registerService(nlm.NLM_PROGRAM, [4], port);
await reg.registerService(nlm.NSM_PROGRAM, [1], port);
reg.close();

async function connect() {
  const pm = await PortmapClient.connect({ host: server, transport: 'udp', timeoutMs: 5000 });
  const p = await pm.getport(nlm.NLM_PROGRAM, 4, 'tcp');
  pm.close();
  return RpcClient.connect({ host: server, port: p, transport: 'tcp', timeoutMs: 5000 });
}
const fh = Buffer.alloc(32, 7);
const alock = (host, svid) => ({ callerName: host, fh, oh: Buffer.from(svid + '@' + host), svid, offset: 0n, length: 10n });
const lock = async (c, host, svid, o = {}) =>
  nlm.nlm4Res.read(await c.call(nlm.NLM_PROGRAM, 4, nlm.NlmProc.LOCK, nlm.nlm4LockArgs.encode({
    cookie: Buffer.from('k'), block: o.block ?? false, exclusive: true, alock: alock(host, svid), reclaim: o.reclaim ?? false, state: 1,
  }))).stat;
const unlock = async (c, host, svid) =>
  nlm.nlm4Res.read(await c.call(nlm.NLM_PROGRAM, 4, nlm.NlmProc.UNLOCK, nlm.nlm4UnlockArgs.encode({ cookie: Buffer.from('k'), alock: alock(host, svid) }))).stat;

let c = await connect();
const r = {};
r.lockA = await lock(c, 'node-a', 1);
r.blockedB = await lock(c, 'node-b', 2, { block: true });
r.unlockA = await unlock(c, 'node-a', 1);
await firstGrant;
r.granted = granted.slice();
c.close();
out({ stage: 'held', ...r });

await firstNotice;
r.notice = notices[0];
c = await connect();
r.newInGrace = await lock(c, 'node-c', 3);
r.reclaimB = await lock(c, 'node-b', 2, { reclaim: true });
c.close();
out({ stage: 'reclaimed', ...r });
await rpc.close();
await pmap.close();
`;

t.test('netboot nfs serves NLM and NSM: rpcinfo, callbacks, kill -9, reboot notice, grace, reclaim', async (t) => {
  const progs = requirePrograms(t, { rpcinfo: 'rpcbind' });
  if (!progs) return;
  if (!requireNetns(t)) return;
  const link = createLink(t, { subnet: 45, label: 'nl' });
  const dir = mkdtempSync(join(tmpdir(), 'nlm-nfs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'home'));
  const exportsFile = join(dir, 'exports');
  writeFileSync(exportsFile, `${join(dir, 'home')} ${link.clientAddr}(rw,sync,no_subtree_check)\n`);
  const args = [netbootCli, 'nfs', '--exports', exportsFile, '--listen', link.serverAddr, '--state-dir', join(dir, 'state')];
  let server = start(t, process.execPath, args, { ns: link.server, cwd: repoRoot });
  await server.waitFor(/nlm: lock manager \(NLM v4\) and status monitor \(NSM v1\) on port \d+/);
  t.match(server.output(), /nlm: NSM state 1; no grace period/);

  const host = link.serverAddr;
  const p = await run(progs.rpcinfo, ['-p', host], { ns: link.client, timeoutMs: 20_000 });
  t.equal(p.code, 0, p.stderr);
  for (const proto of ['udp', 'tcp']) {
    t.match(p.stdout, new RegExp(`100021\\s+4\\s+${proto}\\s+\\d+\\s+nlockmgr`), `rpcinfo -p lists nlockmgr v4 ${proto}`);
    t.match(p.stdout, new RegExp(`100024\\s+1\\s+${proto}\\s+\\d+\\s+status`), `rpcinfo -p lists status v1 ${proto}`);
  }
  for (const [flag, prog, vers] of [['-u', '100021', '4'], ['-t', '100021', '4'], ['-u', '100024', '1'], ['-t', '100024', '1']]) {
    const r = await run(progs.rpcinfo, [flag, host, prog, vers], { ns: link.client, timeoutMs: 20_000 });
    t.match(r.stdout, new RegExp(`program ${prog} version ${vers} ready and waiting`), `rpcinfo ${flag} ${prog} ${vers}`);
  }

  const client = start(t, process.execPath, ['--input-type=module', '-e', CLIENT_HOST, host], { ns: link.client, cwd: repoRoot });
  const held = JSON.parse((await client.waitFor(/^\{"stage":"held".*$/m, 30_000))[0]);
  t.same(held, { stage: 'held', lockA: 0, blockedB: 3, unlockA: 0, granted: ['node-b/2'] }, 'GRANTED, BLOCKED, then the GRANTED callback reaches the client host');

  await server.kill();
  server = start(t, process.execPath, args, { ns: link.server, cwd: repoRoot });
  await server.waitFor(/nlm: NSM state 3; grace period of 90 s for 2 client\(s\)/);
  const done = JSON.parse((await client.waitFor(/^\{"stage":"reclaimed".*$/m, 60_000))[0]);
  t.equal(done.notice.state, 3, "the client's statd is told of the restart, with the new state");
  t.equal(done.newInGrace, 4, 'a new lock in the grace period: NLM4_DENIED_GRACE_PERIOD');
  t.equal(done.reclaimB, 0, 'the reclaim is granted');
  await server.waitFor(/nsm: told node-[ab] \(198\.18\.45\.2\) of our restart, state 3/);
  t.equal(await client.exited, 0, client.output());
  await server.stop();
});

t.test('netboot nfs --no-lock registers no lock manager', async (t) => {
  const progs = requirePrograms(t, { rpcinfo: 'rpcbind' });
  if (!progs) return;
  if (!requireNetns(t)) return;
  const link = createLink(t, { subnet: 46, label: 'nn' });
  const dir = mkdtempSync(join(tmpdir(), 'nlm-nolock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'exports'), `${dir} ${link.clientAddr}(ro)\n`);
  const server = start(t, process.execPath, [netbootCli, 'nfs', '--no-lock', '--exports', join(dir, 'exports'), '--listen', link.serverAddr, '--state-dir', join(dir, 'state')], {
    ns: link.server,
    cwd: repoRoot,
  });
  await server.waitFor(/NFS v3 port 2049/);
  const p = await run(progs.rpcinfo, ['-p', link.serverAddr], { ns: link.client, timeoutMs: 20_000 });
  t.equal(p.code, 0, p.stderr);
  t.match(p.stdout, /100003\s+3\s+tcp/);
  t.notMatch(p.stdout, /100021|100024/, 'neither NLM nor NSM');
  await server.stop();
});
