import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MountClient } from '@netboot/mountd';
import { NfsClient, NfsStat, NfsWorkers, StableHow, createNfsService } from '@netboot/nfs3';
import { NodeRoots, nodeRootsBackend, pinnedNodeRoots } from '@netboot/image-store';
import { native } from '@netboot/platform';

/*
 * Image-backed node roots on NFS worker threads, as `netboot nfs` serves
 * them: each node's root on the worker its address maps to, so its layer
 * keeps one writer. Two nodes on two workers; pipelined WRITEs to an image
 * file copy it up once, with no write lost; a node's MOUNT (its boot)
 * switches its generation on its worker.
 */

const root = { flavor: 1 as const, stamp: 1, machine: 't', uid: 0, gid: 0, gids: [] };

function ok<T extends { status: number }>(r: T): Extract<T, { status: 0 }> {
  if (r.status !== 0) throw new Error(`status ${r.status}`);
  return r as Extract<T, { status: 0 }>;
}

t.test('two image-backed nodes on two NFS workers: copy-up and boots on the worker of each node', { skip: native ? false : 'worker threads need the platform module' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nfs-image-workers-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const src = join(dir, 'rootfs');
  mkdirSync(join(src, 'etc'), { recursive: true });
  writeFileSync(join(src, 'etc/motd'), `${'.'.repeat(63)}\n`);
  const state = join(dir, 'state');
  const roots = new NodeRoots(state);
  await roots.store.import('deb', { kind: 'directory', path: src });
  // Two loopback addresses the pool's two workers own one each.
  const candidates = Array.from({ length: 30 }, (_, i) => `127.0.0.${i + 2}`);
  const nodes = [0, 1].map((w) => candidates.find((x) => NfsWorkers.ownerOf(x, 2) === w)!);
  const rootOf = (ip: string) => join(dir, 'diskless', ip);
  for (const ip of nodes) {
    mkdirSync(rootOf(ip), { recursive: true });
    await roots.add({ ip, image: 'deb', root: rootOf(ip) });
  }
  const exportsFile = join(dir, 'exports');
  writeFileSync(exportsFile, nodes.map((ip) => `${rootOf(ip)} ${ip}(rw,no_root_squash,insecure)\n`).join(''));
  const lines: string[] = [];
  const log = (l: string) => lines.push(l);
  const svc = await createNfsService({
    exportsFile,
    listen: '127.0.0.1',
    nfsPort: 0,
    mountdPort: 0,
    portmapPort: 0,
    log,
    workers: 2,
    backend: await nodeRootsBackend(state, { log }),
    pinnedExports: (exports) => pinnedNodeRoots(state, exports),
    workerBackend: { module: import.meta.resolve('@netboot/image-store'), name: 'nodeRootsBackend', arg: state },
  });
  t.teardown(() => svc.close());
  t.equal(svc.workers?.count, 2, 'NFS on two workers, image-backed roots and all');
  t.equal(lines.filter((l) => /is an image-backed node root/.test(l)).length, 2, 'each root opened once (by its worker), not on the main thread too');

  const clients: NfsClient[] = [];
  t.teardown(() => clients.forEach((c) => c.close()));
  const boot = async (ip: string) => {
    const m = await MountClient.connect({ host: '127.0.0.1', port: svc.mountdPort, transport: 'udp', localAddress: ip });
    try {
      return Buffer.from(ok(await m.mnt(rootOf(ip))).fhandle);
    } finally {
      m.close();
    }
  };
  const connect = async (ip: string, transport: 'tcp' | 'udp') => {
    const c = await NfsClient.connect({ host: '127.0.0.1', port: svc.nfsPort, transport, cred: root, localAddress: ip });
    clients.push(c);
    await c.null();
    return c;
  };
  const [a, b] = nodes as [string, string];
  const rootA = await boot(a);
  const rootB = await boot(b);
  const c = { a: await connect(a, 'tcp'), b: await connect(b, 'tcp') };
  t.same(svc.workers!.handed(), [1, 1], 'each node on its own worker');

  const motd = ok(await c.a.lookup(ok(await c.a.lookup(rootA, 'etc')).object, 'motd')).object;
  const fileid = ok(await c.a.getattr(motd)).attributes.fileid;
  const parts = Array.from({ length: 16 }, (_, i) => Buffer.from(`${i}`.padStart(4, '-')));
  const writes = await Promise.all(parts.map((p, i) => c.a.write(motd, BigInt(i * 4), p, StableHow.UNSTABLE)));
  t.same(writes.map((w) => w.status), parts.map(() => 0), '16 pipelined WRITEs to an image file all succeed');
  const expected = Buffer.concat(parts).toString();
  t.equal(ok(await c.a.read(motd, 0n, 100)).data.toString(), expected, 'one copy-up, no write lost to a copy racing it');
  t.equal(ok(await c.a.getattr(motd)).attributes.fileid, fileid, 'the handle and fileid kept across the copy-up');
  t.equal(readFileSync(join(state, 'nodes', a, 'upper/etc/motd'), 'utf8'), expected, "in a's layer");
  const udpA = await connect(a, 'udp');
  t.equal(ok(await udpA.read(motd, 0n, 100)).data.toString(), expected, "a's UDP calls are answered on its worker too");
  const motdB = ok(await c.b.lookup(ok(await c.b.lookup(rootB, 'etc')).object, 'motd')).object;
  t.equal(ok(await c.b.read(motdB, 0n, 100)).data.toString(), `${'.'.repeat(63)}\n`, 'b still reads the image');

  // A new generation: a's MOUNT (its boot, made on its worker) switches a; b runs on.
  writeFileSync(join(src, 'etc/new-in-2'), 'two\n');
  const two = (await roots.store.import('deb', { kind: 'directory', path: src })).generation;
  await roots.store.promote('deb', two);
  const rootA2 = await boot(a);
  t.equal((await roots.get(a)).booted, two, "a's boot recorded the new generation");
  t.equal((await c.a.getattr(motd)).status, NfsStat.STALE, "a's handle from before its boot is STALE on its worker");
  t.equal(ok(await c.a.lookup(ok(await c.a.lookup(rootA2, 'etc')).object, 'new-in-2')).object.length > 0, true, 'a sees the new generation');
  t.equal((await c.b.lookup(ok(await c.b.lookup(rootB, 'etc')).object, 'new-in-2')).status, NfsStat.NOENT, 'b keeps the generation it booted');
  t.equal((await roots.get(b)).booted, 1);
});
