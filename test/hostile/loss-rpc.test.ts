import t, { type Test } from 'tap';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RpcServer, credentialToOpaqueAuth, decodeRpcMessage, encode, encodeRpcMessage } from '@netboot/oncrpc-xdr';
import { NfsClient, NfsServer, NfsStat, NFS_PROGRAM, NFS_V3, Proc, procedures, type AccessOptions } from '@netboot/nfs3';
import { until } from '../support/until.js';
import { LossyRelay } from './lossy-relay.js';

// RPC over UDP through a link that drops, duplicates and reorders: the
// client retransmits with the same xid, and the server's duplicate request
// cache answers a retransmission of a call that already ran with the first
// reply, so non-idempotent calls (CREATE, REMOVE, MKDIR, RENAME, LINK) take
// effect exactly once and never fail the second time.

const rw: AccessOptions = { rw: true, rootSquash: false, allSquash: false, anonuid: 65534, anongid: 65534, secure: false };
const root = { flavor: 1 as const, stamp: 1, machine: 'hostile', uid: 0, gid: 0, gids: [] };

async function nfsServer(t: Pick<Test, 'teardown'>) {
  const dir = mkdtempSync(join(tmpdir(), 'hostile-drc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const server = await NfsServer.create({ exports: [{ id: 1, path: dir, optionsFor: () => rw }], handleKey: Buffer.alloc(32, 3), log: () => {} });
  const rpc = new RpcServer({ log: () => {} });
  server.register(rpc);
  const port = await rpc.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(async () => {
    server.close();
    await rpc.close();
  });
  return { dir, port, rootFh: server.rootHandle(dir)! };
}

t.test('a datagram sent twice runs once; both copies get the same answer', async (t) => {
  const { dir, port, rootFh } = await nfsServer(t);
  writeFileSync(join(dir, 'victim'), 'x');
  const sock = dgram.createSocket('udp4');
  t.teardown(() => sock.close());
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const replies: Buffer[] = [];
  sock.on('message', (m) => replies.push(m));
  const call = (proc: number, args: Buffer, xid: number) =>
    Buffer.concat([
      encodeRpcMessage({ type: 0, xid, rpcvers: 2, prog: NFS_PROGRAM, vers: NFS_V3, proc, cred: credentialToOpaqueAuth(root), verf: { flavor: 0, body: Buffer.alloc(0) } }),
      args,
    ]);
  const statusOf = (reply: Buffer) => {
    const { bodyOffset } = decodeRpcMessage(reply);
    return reply.readUInt32BE(bodyOffset); // nfsstat3, the first word of every result
  };
  const replied = (n: number) => until(() => replies.length >= n, `reply ${n}`);
  const remove = call(Proc.REMOVE, encode(procedures.REMOVE.args, { dir: rootFh, name: Buffer.from('victim') }), 0x5eed0001);
  sock.send(remove, port, '127.0.0.1');
  await replied(1);
  sock.send(remove, port, '127.0.0.1');
  await replied(2);
  t.equal(replies.length, 2, 'both copies answered');
  t.equal(statusOf(replies[0]), NfsStat.OK, 'REMOVE: NFS3_OK');
  t.equal(statusOf(replies[1]), NfsStat.OK, 'the retransmission: NFS3_OK again, not NOENT');
  t.ok(replies[0].equals(replies[1]), 'the cached reply, byte for byte');
  t.notOk(existsSync(join(dir, 'victim')), 'removed');

  const create = call(Proc.CREATE, encode(procedures.CREATE.args, { where: { dir: rootFh, name: Buffer.from('made') }, how: { mode: 1, attributes: { mode: 0o644, uid: undefined, gid: undefined, size: undefined, atime: { how: 0 }, mtime: { how: 0 } } } }), 0x5eed0002);
  replies.length = 0;
  sock.send(create, port, '127.0.0.1');
  await replied(1);
  sock.send(create, port, '127.0.0.1');
  await replied(2);
  t.same(replies.map(statusOf), [NfsStat.OK, NfsStat.OK], 'a GUARDED CREATE sent twice: NFS3_OK twice, not EXIST');
  const other = call(Proc.CREATE, encode(procedures.CREATE.args, { where: { dir: rootFh, name: Buffer.from('made') }, how: { mode: 1, attributes: { mode: 0o644, uid: undefined, gid: undefined, size: undefined, atime: { how: 0 }, mtime: { how: 0 } } } }), 0x5eed0003);
  replies.length = 0;
  sock.send(other, port, '127.0.0.1');
  await replied(1);
  t.same(replies.map(statusOf), [NfsStat.EXIST], 'control: the same CREATE under a new xid is a new call: EXIST');
});

t.test('non-idempotent calls through 30% loss with duplicates and reordering', async (t) => {
  const { dir, port, rootFh } = await nfsServer(t);
  const relay = await LossyRelay.start({ host: '127.0.0.1', port }, { drop: 0.3, duplicate: 0.2, reorder: 0.1, delayMs: 3 }, 8);
  t.teardown(() => relay.close());
  const c = await NfsClient.connect({ host: '127.0.0.1', port: relay.port, transport: 'udp', cred: root, retransmitMs: 40, retries: 40, timeoutMs: 30_000 });
  t.teardown(() => c.close());
  const N = Number(process.env.HOSTILE_DRC_ROUNDS ?? 6);
  const failures: string[] = [];
  const check = (what: string, status: number) => {
    if (status !== 0) failures.push(`${what}: status ${status}`);
  };
  const handles: Buffer[] = [];
  for (let i = 0; i < N; i++) {
    const verf = Buffer.alloc(8);
    verf.writeUInt32BE(i + 1);
    const r = await c.create(rootFh, `excl-${i}`, { mode: 2, verf });
    check(`CREATE EXCLUSIVE excl-${i}`, r.status);
    const g = await c.create(rootFh, `guarded-${i}`, { mode: 1, attributes: { mode: 0o644, uid: undefined, gid: undefined, size: undefined, atime: { how: 0 }, mtime: { how: 0 } } });
    check(`CREATE GUARDED guarded-${i}`, g.status);
    if (g.status === 0 && g.object) handles.push(g.object);
    check(`MKDIR dir-${i}`, (await c.mkdir(rootFh, `dir-${i}`)).status);
    check(`SYMLINK sym-${i}`, (await c.symlink(rootFh, `sym-${i}`, `excl-${i}`)).status);
    if (g.status === 0 && g.object) check(`LINK hard-${i}`, (await c.link(g.object, rootFh, `hard-${i}`)).status);
    check(`RENAME guarded-${i}`, (await c.rename(rootFh, `guarded-${i}`, rootFh, `renamed-${i}`)).status);
    check(`REMOVE excl-${i}`, (await c.remove(rootFh, `excl-${i}`)).status);
    check(`RMDIR dir-${i}`, (await c.rmdir(rootFh, `dir-${i}`)).status);
  }
  t.same(failures, [], `${N * 8} non-idempotent calls, none failed`);
  const names = readdirSync(dir).sort();
  const expected = [...Array(N).keys()].flatMap((i) => [`hard-${i}`, `renamed-${i}`, `sym-${i}`]).sort();
  t.same(names, expected, 'the directory holds exactly what the calls made, once each');
  const s = relay.stats;
  t.ok(s.dropped > 0 && s.duplicated > 0, 'the relay did drop and duplicate');
  t.comment(`drc: ${N * 8} calls exactly once through ${s.received} datagrams (dropped ${s.dropped}, duplicated ${s.duplicated}, reordered ${s.reordered})`);
});
