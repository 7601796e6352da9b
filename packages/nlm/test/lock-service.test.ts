import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { AcceptStat, RpcClient, RpcServer, empty, type RpcCall, type XdrCodec } from '@netboot/oncrpc-xdr';
import { PortmapClient, PortmapServer } from '@netboot/portmap';
import {
  LockService,
  mon,
  monId,
  myId,
  NLM_PROGRAM,
  NLM_V4,
  Nlm4Stat,
  nlm4CancArgs,
  nlm4LockArgs,
  nlm4Notify,
  nlm4Res,
  nlm4ShareArgs,
  nlm4ShareRes,
  nlm4TestArgs,
  nlm4TestRes,
  nlm4UnlockArgs,
  NlmProc,
  NSM_PROGRAM,
  NSM_V1,
  NsmProc,
  ShareAccess,
  ShareMode,
  smName,
  smStat,
  smStatRes,
  smStatus,
  statChge,
  type Nlm4Lock,
  type Nlm4Res,
  type Nlm4TestArgs,
  type Nlm4TestRes,
  type SmStatus,
  type StatChge,
} from '@netboot/nlm';
import { until } from '../../../test/support/until.js';

/** A program number of the private range for the test's SM_MON callbacks. */
const WATCHER_PROG = 0x20000123;

/**
 * The client host's side, all on loopback: its portmapper, its lock manager
 * (receiving GRANTED callbacks and _RES answers) and its statd (receiving
 * reboot notices), plus a local program that asked our statd to watch a peer.
 */
async function clientHost(t: Test) {
  const pmap = new PortmapServer({ log: () => {} });
  const pmapPort = await pmap.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => pmap.close());
  const granted: Nlm4TestArgs[] = [];
  const answers: { proc: number; res: Nlm4Res | Nlm4TestRes }[] = [];
  const notices: StatChge[] = [];
  const statuses: SmStatus[] = [];
  let grantedReply: Nlm4Stat = Nlm4Stat.GRANTED;
  const rpc = new RpcServer({ log: () => {} });
  const answer = (codec: XdrCodec<any>) => (c: RpcCall) => {
    answers.push({ proc: c.proc, res: codec.read(c.args) });
    return { stat: 0 as const, body: [] };
  };
  rpc.register(NLM_PROGRAM, NLM_V4, {
    [NlmProc.GRANTED]: (c) => {
      const a = nlm4TestArgs.read(c.args);
      granted.push(a);
      return { stat: 0, body: [nlm4Res.encode({ cookie: a.cookie, stat: grantedReply })] };
    },
    [NlmProc.TEST_RES]: answer(nlm4TestRes),
    [NlmProc.LOCK_RES]: answer(nlm4Res),
    [NlmProc.CANCEL_RES]: answer(nlm4Res),
    [NlmProc.UNLOCK_RES]: answer(nlm4Res),
    [NlmProc.GRANTED_RES]: answer(nlm4Res),
  });
  rpc.register(NSM_PROGRAM, NSM_V1, {
    [NsmProc.NOTIFY]: (c) => {
      notices.push(statChge.read(c.args));
      return { stat: 0, body: [] };
    },
  });
  rpc.register(WATCHER_PROG, 1, {
    1: (c) => {
      statuses.push(smStatus.read(c.args));
      return { stat: 0, body: [] };
    },
  });
  const port = await rpc.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => rpc.close());
  const reg = await PortmapClient.connect({ port: pmapPort });
  await reg.registerService(NLM_PROGRAM, [NLM_V4], port);
  await reg.registerService(NSM_PROGRAM, [NSM_V1], port);
  await reg.registerService(WATCHER_PROG, [1], port);
  reg.close();
  return {
    pmapPort,
    granted,
    answers,
    notices,
    statuses,
    refuseGrants: () => {
      grantedReply = Nlm4Stat.DENIED;
    },
  };
}

async function startServer(t: Test, stateDir: string, pmapPort: number, lines: string[], graceMs = 60_000) {
  const service = await LockService.start({ stateDir, peerPortmapPort: pmapPort, name: 'master', graceMs, callbackTimeoutMs: 2000, notifyAttempts: 2, log: (l) => lines.push(l) });
  const rpc = new RpcServer({ log: (l) => lines.push(l) });
  service.register(rpc);
  const port = await rpc.listen({ host: '127.0.0.1', port: 0 });
  service.announceRestart();
  const stop = async () => {
    await rpc.close();
    await service.close();
  };
  t.teardown(stop);
  return { service, port, stop };
}

const FH = Buffer.alloc(32, 0x11);
const lockOf = (host: string, svid: number, offset: number, length: number, fh = FH): Nlm4Lock => ({
  callerName: host,
  fh,
  oh: Buffer.from(`${svid}@${host}`),
  svid,
  offset: BigInt(offset),
  length: BigInt(length),
});

function caller(client: RpcClient) {
  const call = async <A, R>(proc: number, args: XdrCodec<A>, value: A, res: XdrCodec<R>): Promise<R> => res.read(await client.call(NLM_PROGRAM, NLM_V4, proc, args.encode(value)));
  const cookie = Buffer.from('c00k1e');
  return {
    lock: (alock: Nlm4Lock, o: { block?: boolean; exclusive?: boolean; reclaim?: boolean } = {}) =>
      call(NlmProc.LOCK, nlm4LockArgs, { cookie, block: o.block ?? false, exclusive: o.exclusive ?? true, alock, reclaim: o.reclaim ?? false, state: 1 }, nlm4Res),
    test: (alock: Nlm4Lock, exclusive = true) => call(NlmProc.TEST, nlm4TestArgs, { cookie, exclusive, alock }, nlm4TestRes),
    unlock: (alock: Nlm4Lock) => call(NlmProc.UNLOCK, nlm4UnlockArgs, { cookie, alock }, nlm4Res),
    cancel: (alock: Nlm4Lock, exclusive = true) => call(NlmProc.CANCEL, nlm4CancArgs, { cookie, block: true, exclusive, alock }, nlm4Res),
    share: (proc: number, callerName: string, mode: number, access: number) =>
      call(proc, nlm4ShareArgs, { cookie, share: { callerName, fh: FH, oh: Buffer.from(callerName), mode: mode as 0, access: access as 0 }, reclaim: false }, nlm4ShareRes),
    freeAll: (name: string) => call(NlmProc.FREE_ALL, nlm4Notify, { name, state: 3 }, empty),
    nsm: <A, R>(proc: number, args: XdrCodec<A>, value: A, res: XdrCodec<R>) => client.call(NSM_PROGRAM, NSM_V1, proc, args.encode(value)).then((r) => res.read(r)),
    raw: (prog: number, vers: number, proc: number, args: Buffer) => client.call(prog, vers, proc, args),
  };
}

for (const transport of ['udp', 'tcp'] as const) {
  t.test(`NLM v4 over ${transport}: every status`, async (t) => {
    const host = await clientHost(t);
    const stateDir = mkdtempSync(join(tmpdir(), 'nlm-'));
    t.teardown(() => rmSync(stateDir, { recursive: true, force: true }));
    const lines: string[] = [];
    const { port, service } = await startServer(t, stateDir, host.pmapPort, lines);
    t.match(lines[0], /^nlm: NSM state 1; no grace period/);
    const client = await RpcClient.connect({ host: '127.0.0.1', port, transport, timeoutMs: 5000 });
    t.teardown(() => client.close());
    const nlm = caller(client);
    await client.call(NLM_PROGRAM, NLM_V4, NlmProc.NULL);

    const a = lockOf('node-a', 100, 0, 10);
    t.same(await nlm.lock(a), { cookie: Buffer.from('c00k1e'), stat: Nlm4Stat.GRANTED }, 'LOCK: NLM4_GRANTED, the cookie echoed');
    t.ok(readdirSync(join(stateDir, 'nsm', 'sm')).includes('node-a'), 'the client is monitored, on disk before it heard GRANTED');
    const test = await nlm.test(lockOf('node-b', 200, 5, 1));
    t.same(test.stat, { stat: Nlm4Stat.DENIED, holder: { exclusive: true, svid: 100, oh: Buffer.from('100@node-a'), offset: 0n, length: 10n } }, 'TEST: DENIED with the holder');
    t.same((await nlm.test(lockOf('node-b', 200, 10, 0))).stat, { stat: Nlm4Stat.GRANTED }, 'TEST past the lock: GRANTED');
    t.equal((await nlm.lock(lockOf('node-b', 200, 5, 1))).stat, Nlm4Stat.DENIED, 'LOCK without block: NLM4_DENIED');

    // BLOCKED, then GRANTED by callback when node-a unlocks.
    const b = lockOf('node-b', 200, 5, 1);
    t.equal((await nlm.lock(b, { block: true })).stat, Nlm4Stat.BLOCKED, 'LOCK with block: NLM4_BLOCKED');
    t.equal((await nlm.unlock(a)).stat, Nlm4Stat.GRANTED, 'UNLOCK');
    await until(() => host.granted.length === 1, 'the GRANTED callback');
    t.match(host.granted[0], { exclusive: true, alock: { callerName: 'node-b', svid: 200, offset: 5n, length: 1n } }, 'the GRANTED callback names the lock');
    t.same(Buffer.from(host.granted[0]!.alock.fh), FH);
    t.match((await nlm.test(lockOf('node-c', 300, 0, 0))).stat, { stat: Nlm4Stat.DENIED, holder: { svid: 200 } }, 'node-b holds it now');

    // DEADLCK: b holds 5, a holds 20; a waits for 5; b asks for 20.
    t.equal((await nlm.lock(lockOf('node-a', 100, 20, 1))).stat, Nlm4Stat.GRANTED);
    t.equal((await nlm.lock(lockOf('node-a', 100, 5, 1), { block: true })).stat, Nlm4Stat.BLOCKED);
    t.equal((await nlm.lock(lockOf('node-b', 200, 20, 1), { block: true })).stat, Nlm4Stat.DEADLCK, 'NLM4_DEADLCK');

    // CANCEL: a's blocked request goes; b's unlock grants nothing.
    t.equal((await nlm.cancel(lockOf('node-a', 100, 5, 1))).stat, Nlm4Stat.GRANTED, 'CANCEL');
    await nlm.unlock(b);
    t.same(service.table.waitersOf(FH), [], 'no blocked request left');
    t.equal(host.granted.length, 1, 'no GRANTED callback for the cancelled request');

    // A client that refuses the callback (its process gave up) does not keep the lock.
    t.equal((await nlm.lock(lockOf('node-b', 200, 20, 1), { block: true })).stat, Nlm4Stat.BLOCKED);
    host.refuseGrants();
    await nlm.unlock(lockOf('node-a', 100, 0, 0));
    await until(() => host.granted.length >= 2, 'the second GRANTED callback');
    // A callback for the cancelled request would have been sent at the UNLOCK before, ahead of this one.
    t.match(host.granted.slice(1), [{ alock: { callerName: 'node-b', svid: 200, offset: 20n } }], 'the next callback is for the later request: none came for the cancelled one');
    await until(() => service.table.locksOf(FH).length === 0, 'the refused lock to be released');
    t.pass('a refused GRANTED releases the lock');

    // SHARE / UNSHARE
    t.same(await nlm.share(NlmProc.SHARE, 'pc1', ShareMode.DW, ShareAccess.R), { cookie: Buffer.from('c00k1e'), stat: Nlm4Stat.GRANTED, sequence: 0 }, 'SHARE');
    t.equal((await nlm.share(NlmProc.SHARE, 'pc2', ShareMode.DN, ShareAccess.W)).stat, Nlm4Stat.DENIED, 'a conflicting SHARE: DENIED');
    t.equal((await nlm.share(NlmProc.UNSHARE, 'pc1', ShareMode.DN, ShareAccess.NONE)).stat, Nlm4Stat.GRANTED, 'UNSHARE');
    t.equal((await nlm.share(NlmProc.SHARE, 'pc2', ShareMode.DN, ShareAccess.W)).stat, Nlm4Stat.GRANTED, 'then it is granted');

    // FREE_ALL
    t.equal((await nlm.lock(lockOf('node-c', 300, 0, 0))).stat, Nlm4Stat.GRANTED);
    await nlm.freeAll('node-c');
    t.same(service.table.locksOf(FH), [], 'FREE_ALL released node-c');
    t.match(lines.join('\n'), /released the locks of node-c \(FREE_ALL from 127\.0\.0\.1\)/);

    // NM_LOCK: granted or denied, never blocks.
    const nm = await nlm.raw(NLM_PROGRAM, NLM_V4, NlmProc.NM_LOCK, nlm4LockArgs.encode({ cookie: Buffer.alloc(0), block: true, exclusive: true, alock: lockOf('pc9', 1, 0, 1), reclaim: false, state: 0 }));
    t.equal(nlm4Res.read(nm).stat, Nlm4Stat.GRANTED, 'NM_LOCK');
    const nm2 = await nlm.raw(NLM_PROGRAM, NLM_V4, NlmProc.NM_LOCK, nlm4LockArgs.encode({ cookie: Buffer.alloc(0), block: true, exclusive: true, alock: lockOf('pc8', 1, 0, 1), reclaim: false, state: 0 }));
    t.equal(nlm4Res.read(nm2).stat, Nlm4Stat.DENIED, 'NM_LOCK does not block');

    // Faults
    await t.rejects(nlm.raw(NLM_PROGRAM, NLM_V4, NlmProc.LOCK, Buffer.from('00000000 00000007'.replace(/ /g, ''), 'hex')), { name: 'RpcAcceptError', stat: AcceptStat.GARBAGE_ARGS }, 'garbage arguments');
    await t.rejects(nlm.raw(NLM_PROGRAM, 1, NlmProc.NULL, Buffer.alloc(0)), { name: 'RpcAcceptError', stat: AcceptStat.PROG_MISMATCH, low: 4, high: 4 }, 'NLM v1 (NFSv2 clients): PROG_MISMATCH');
  });
}

t.test('the asynchronous _MSG forms answer with _RES calls to the client', async (t) => {
  const host = await clientHost(t);
  const stateDir = mkdtempSync(join(tmpdir(), 'nlm-'));
  t.teardown(() => rmSync(stateDir, { recursive: true, force: true }));
  const { port } = await startServer(t, stateDir, host.pmapPort, []);
  const client = await RpcClient.connect({ host: '127.0.0.1', port, transport: 'udp', timeoutMs: 5000 });
  t.teardown(() => client.close());
  const send = async (proc: number, body: Buffer) => {
    const r = await client.call(NLM_PROGRAM, NLM_V4, proc, body);
    t.equal(r.remaining, 0, `procedure ${proc}: an empty reply`);
  };
  const a = lockOf('node-a', 1, 0, 10);
  const b = lockOf('node-b', 2, 0, 10);
  await send(NlmProc.LOCK_MSG, nlm4LockArgs.encode({ cookie: Buffer.from('1'), block: false, exclusive: true, alock: a, reclaim: false, state: 1 }));
  await until(() => host.answers.length === 1, 'LOCK_RES');
  await send(NlmProc.TEST_MSG, nlm4TestArgs.encode({ cookie: Buffer.from('2'), exclusive: true, alock: b }));
  await until(() => host.answers.length === 2, 'TEST_RES');
  await send(NlmProc.CANCEL_MSG, nlm4CancArgs.encode({ cookie: Buffer.from('3'), block: true, exclusive: true, alock: b }));
  await until(() => host.answers.length === 3, 'CANCEL_RES');
  await send(NlmProc.UNLOCK_MSG, nlm4UnlockArgs.encode({ cookie: Buffer.from('4'), alock: a }));
  await until(() => host.answers.length === 4, 'UNLOCK_RES');
  await send(NlmProc.GRANTED_MSG, nlm4TestArgs.encode({ cookie: Buffer.from('5'), exclusive: true, alock: b }));
  await until(() => host.answers.length === 5, 'GRANTED_RES');
  const byProc = new Map(host.answers.map((x) => [x.proc, x.res]));
  t.same(byProc.get(NlmProc.LOCK_RES), { cookie: Buffer.from('1'), stat: Nlm4Stat.GRANTED }, 'LOCK_MSG -> LOCK_RES GRANTED');
  t.match(byProc.get(NlmProc.TEST_RES), { cookie: Buffer.from('2'), stat: { stat: Nlm4Stat.DENIED, holder: { svid: 1 } } }, 'TEST_MSG -> TEST_RES DENIED with the holder');
  t.same(byProc.get(NlmProc.CANCEL_RES), { cookie: Buffer.from('3'), stat: Nlm4Stat.GRANTED }, 'CANCEL_MSG -> CANCEL_RES');
  t.same(byProc.get(NlmProc.UNLOCK_RES), { cookie: Buffer.from('4'), stat: Nlm4Stat.GRANTED }, 'UNLOCK_MSG -> UNLOCK_RES');
  t.same(byProc.get(NlmProc.GRANTED_RES), { cookie: Buffer.from('5'), stat: Nlm4Stat.DENIED }, 'GRANTED_MSG to a server: nothing blocked here');
  for (const proc of [NlmProc.LOCK_RES, NlmProc.CANCEL_RES, NlmProc.UNLOCK_RES, NlmProc.GRANTED_RES]) {
    await send(proc, nlm4Res.encode({ cookie: Buffer.alloc(0), stat: Nlm4Stat.GRANTED }));
  }
  await send(NlmProc.TEST_RES, nlm4TestRes.encode({ cookie: Buffer.alloc(0), stat: { stat: Nlm4Stat.GRANTED } }));
});

t.test('NSM: STAT, MON, UNMON, UNMON_ALL, NOTIFY; restart: state, grace, reboot notices', async (t) => {
  const host = await clientHost(t);
  const stateDir = mkdtempSync(join(tmpdir(), 'nlm-'));
  t.teardown(() => rmSync(stateDir, { recursive: true, force: true }));
  const lines: string[] = [];
  const first = await startServer(t, stateDir, host.pmapPort, lines);
  t.equal(first.service.state, 1, 'the first start has state 1');
  t.equal(readFileSync(join(stateDir, 'nsm', 'state'), 'utf8'), '1\n', 'kept in the state directory');
  let client = await RpcClient.connect({ host: '127.0.0.1', port: first.port, transport: 'udp', timeoutMs: 5000 });
  let nlm = caller(client);

  t.same(await nlm.nsm(NsmProc.STAT, smName, { monName: 'node-a' }, smStatRes), { res: 0, state: 1 }, 'SM_STAT');
  const watcher = { myName: '127.0.0.1', myProg: WATCHER_PROG, myVers: 1, myProc: 1 };
  const priv = Buffer.alloc(16, 0x5a);
  t.same(await nlm.nsm(NsmProc.MON, mon, { monId: { monName: 'node-x', myId: watcher }, priv }, smStatRes), { res: 0, state: 1 }, 'SM_MON from loopback');
  t.same(await nlm.nsm(NsmProc.MON, mon, { monId: { monName: 'node-y', myId: watcher }, priv }, smStatRes), { res: 0, state: 1 });
  t.same(readdirSync(join(stateDir, 'nsm', 'sm')).sort(), ['node-x', 'node-y'], 'monitored peers are files in nsm/sm');
  t.same(await nlm.nsm(NsmProc.UNMON, monId, { monName: 'node-y', myId: watcher }, smStat), { state: 1 }, 'SM_UNMON');
  t.same(readdirSync(join(stateDir, 'nsm', 'sm')), ['node-x']);

  // node-x restarts: its statd tells ours; the watcher hears, with its priv.
  t.equal((await nlm.lock(lockOf('node-x', 9, 0, 0))).stat, Nlm4Stat.GRANTED);
  await nlm.nsm(NsmProc.NOTIFY, statChge, { monName: 'node-x', state: 7 }, empty);
  await until(() => host.statuses.length === 1, 'the SM_MON callback');
  t.same(host.statuses[0], { monName: 'node-x', state: 7, priv }, 'the watcher is told, with its priv');
  t.same(first.service.table.locksOf(FH), [], "the restarted client's locks are released");
  t.same(await nlm.nsm(NsmProc.UNMON_ALL, myId, watcher, smStat), { state: 1 }, 'SM_UNMON_ALL');

  // Locks held at a crash: the next start tells the client and opens the grace period.
  t.equal((await nlm.lock(lockOf('node-a', 1, 0, 10))).stat, Nlm4Stat.GRANTED);
  client.close();
  await first.stop();
  const second = await startServer(t, stateDir, host.pmapPort, lines, 60_000);
  t.equal(second.service.state, 3, 'the next start: state 3');
  t.equal(readFileSync(join(stateDir, 'nsm', 'state'), 'utf8'), '3\n');
  await until(() => host.notices.length >= 1, 'the reboot notice');
  t.same(host.notices[0], { monName: 'master', state: 3 }, 'SM_NOTIFY to the monitored client, with the new state');
  t.match(lines.join('\n'), /grace period of 60 s for 2 client\(s\)/);
  client = await RpcClient.connect({ host: '127.0.0.1', port: second.port, transport: 'tcp', timeoutMs: 5000 });
  t.teardown(() => client.close());
  nlm = caller(client);
  t.equal((await nlm.lock(lockOf('node-b', 2, 0, 1))).stat, Nlm4Stat.DENIED_GRACE_PERIOD, 'a new lock in the grace period: DENIED_GRACE_PERIOD');
  t.same((await nlm.test(lockOf('node-b', 2, 0, 1))).stat, { stat: Nlm4Stat.DENIED_GRACE_PERIOD }, 'TEST too');
  t.equal((await nlm.lock(lockOf('node-a', 1, 0, 10), { reclaim: true })).stat, Nlm4Stat.GRANTED, 'the reclaim is granted');
  second.service.endGrace();
  t.equal((await nlm.lock(lockOf('node-b', 2, 0, 1))).stat, Nlm4Stat.DENIED, 'after the grace period, the reclaimed lock holds');
  t.equal((await nlm.lock(lockOf('node-b', 2, 20, 1))).stat, Nlm4Stat.GRANTED);

  // SM_SIMU_CRASH: a new state, and the notices again.
  const before = host.notices.length;
  await nlm.nsm(NsmProc.SIMU_CRASH, empty, {}, empty);
  t.equal(second.service.state, 5);
  await until(() => host.notices.some((n) => n.state === 5), 'the notice of the simulated crash');
  t.ok(host.notices.length > before);
});
