// NLM locks as locks on the served file: a process on this host (python's
// fcntl.lockf, a POSIX lock) sees a client's lock, and a client's blocking
// request waits for the process's lock and is granted by callback when it
// goes. The table stays the judge between clients.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { RpcClient, RpcServer } from '@netboot/oncrpc-xdr';
import { PortmapClient, PortmapServer } from '@netboot/portmap';
import { native } from '@netboot/platform';
import { LockService, NLM_PROGRAM, NLM_V4, Nlm4Stat, nlm4LockArgs, nlm4Res, nlm4TestArgs, nlm4TestRes, nlm4UnlockArgs, NlmProc, type Nlm4Lock, type Nlm4TestArgs } from '@netboot/nlm';
import { until } from '../../../test/support/until.js';

// Tries a POSIX lock on bytes [start, start+len) of the file: "free" or "held".
const PROBE = `
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, int(sys.argv[3]), int(sys.argv[2]))
    print("free")
except OSError:
    print("held")
`;

const python = spawnSync('python3', ['-c', 'import fcntl'], { stdio: 'ignore' }).status === 0;

if (!native || !python) {
  const why = !native ? 'the platform module did not load' : 'python3 is missing';
  if (process.env.CI === 'true') t.fail(`${why}: CI runs with both`);
  else t.skip(why, () => {});
} else {
  const dir = mkdtempSync(join(tmpdir(), 'nlm-host-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'locked');
  writeFileSync(file, 'x'.repeat(100));
  // The handle is the file's name here; netboot's NFS server opens its handles the same way.
  const openForLock = async (fh: Buffer) => openSync(join(dir, fh.toString()), 'r+');
  const fh = Buffer.from('locked');
  const probe = (start: number, len: number) => spawnSync('python3', ['-c', PROBE, file, String(start), String(len)], { encoding: 'utf8' }).stdout.trim();

  async function setup(t: Test) {
    const pmap = new PortmapServer({ log: () => {} });
    const pmapPort = await pmap.listen({ host: '127.0.0.1', port: 0 });
    t.teardown(() => pmap.close());
    const granted: Nlm4TestArgs[] = [];
    const clientRpc = new RpcServer({ log: () => {} });
    clientRpc.register(NLM_PROGRAM, NLM_V4, {
      [NlmProc.GRANTED]: (c) => {
        const a = nlm4TestArgs.read(c.args);
        granted.push(a);
        return { stat: 0, body: [nlm4Res.encode({ cookie: a.cookie, stat: Nlm4Stat.GRANTED })] };
      },
    });
    const clientPort = await clientRpc.listen({ host: '127.0.0.1', port: 0 });
    t.teardown(() => clientRpc.close());
    const reg = await PortmapClient.connect({ port: pmapPort });
    await reg.registerService(NLM_PROGRAM, [NLM_V4], clientPort);
    reg.close();

    const lines: string[] = [];
    const service = await LockService.start({ peerPortmapPort: pmapPort, name: 'master', graceMs: 0, callbackTimeoutMs: 2000, log: (l) => lines.push(l), openForLock });
    const rpc = new RpcServer({ log: (l) => lines.push(l) });
    service.register(rpc);
    const port = await rpc.listen({ host: '127.0.0.1', port: 0 });
    const client = await RpcClient.connect({ host: '127.0.0.1', port, transport: 'tcp' });
    t.teardown(async () => {
      client.close();
      await rpc.close();
      await service.close();
    });
    const cookie = Buffer.from('c00k1e');
    const alock = (svid: number, offset: number, length: number): Nlm4Lock => ({ callerName: 'node1', fh, oh: Buffer.from(`${svid}@node1`), svid, offset: BigInt(offset), length: BigInt(length) });
    const call = async (proc: number, body: Buffer) => client.call(NLM_PROGRAM, NLM_V4, proc, body);
    return {
      lines,
      granted,
      alock,
      lock: async (l: Nlm4Lock, block = false) =>
        nlm4Res.read(await call(NlmProc.LOCK, nlm4LockArgs.encode({ cookie, block, exclusive: true, alock: l, reclaim: false, state: 1 }))).stat,
      unlock: async (l: Nlm4Lock) => nlm4Res.read(await call(NlmProc.UNLOCK, nlm4UnlockArgs.encode({ cookie, alock: l }))).stat,
      test: async (l: Nlm4Lock) => nlm4TestRes.read(await call(NlmProc.TEST, nlm4TestArgs.encode({ cookie, exclusive: true, alock: l }))).stat,
    };
  }

  t.test('a process on this host sees a client\'s lock, and sees it go', async (t) => {
    const s = await setup(t);
    t.ok(s.lines.some((l) => l.includes('also an OFD lock on the served file')), 'says it locks the files');
    t.equal(await s.lock(s.alock(1, 10, 20)), Nlm4Stat.GRANTED);
    t.equal(probe(15, 1), 'held', 'fcntl in another process finds the range locked');
    t.equal(probe(40, 5), 'free', 'and the rest free');
    t.equal(await s.unlock(s.alock(1, 10, 20)), Nlm4Stat.GRANTED);
    t.equal(probe(15, 1), 'free', 'UNLOCK releases it on the file too');
  });

  t.test('a client waits for the master\'s lock and is granted by callback when it goes', async (t) => {
    const s = await setup(t);
    // The process on the master locks bytes 0..49 and holds them until its stdin closes.
    const holder = spawn('python3', ['-c', 'import fcntl,os,sys\nfd=os.open(sys.argv[1],os.O_RDWR)\nfcntl.lockf(fd,fcntl.LOCK_EX,50,0)\nprint("locked",flush=True)\nsys.stdin.read()\n', file], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    t.teardown(() => {
      if (holder.exitCode === null && holder.signalCode === null) holder.kill();
    });
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    const test = await s.test(s.alock(2, 0, 10));
    t.equal(test.stat, Nlm4Stat.DENIED, 'TEST names the master\'s lock as the holder');
    t.equal(await s.lock(s.alock(2, 0, 10)), Nlm4Stat.DENIED, 'a non-blocking LOCK is denied');
    t.equal(await s.lock(s.alock(2, 0, 10), true), Nlm4Stat.BLOCKED, 'a blocking LOCK waits');
    t.equal(s.granted.length, 0, 'no GRANTED while the master holds it');
    holder.stdin.end();
    await until(() => s.granted.length === 1, 'the GRANTED callback');
    t.equal(s.granted[0].alock.svid, 2, 'granted to the waiting owner');
    t.equal(probe(5, 1), 'held', 'and it now holds the range on the file');
    t.equal(await s.unlock(s.alock(2, 0, 10)), Nlm4Stat.GRANTED);
    t.equal(probe(5, 1), 'free');
  });
}
