// A plain JavaScript (ESM) user of the installed packages: each package's
// headline API once, for real, on loopback. Run by test/consumer.test.ts
// from a fresh project that installed the packed tarballs; it prints one
// "ok <package>" line per package and exits non-zero on the first failure.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Opt, MessageType, decode, encode, getOption } from '@netboot/dhcp-wire';
import { TftpServer, tftpGet } from '@netboot/tftp-wire';
import { HttpBootServer } from '@netboot/http-boot';
import { RpcClient, RpcServer } from '@netboot/oncrpc-xdr';
import { PortmapClient, PortmapServer } from '@netboot/portmap';
import { MountClient, loadExports, matchClient } from '@netboot/mountd';
import { NfsClient, createNfsService } from '@netboot/nfs3';
import { LockTable, Nlm4Stat, nlm4Res } from '@netboot/nlm';
import { commands } from 'netboot';

const dir = await mkdtemp(join(tmpdir(), 'netboot-consumer-js-'));
try {
  // DHCP: a PXE DISCOVER decoded and re-encoded byte for byte.
  const chaddr = Buffer.alloc(16);
  Buffer.from('525400abcdef', 'hex').copy(chaddr);
  const wire = encode({
    op: 1, htype: 1, hlen: 6, hops: 0, xid: 0x0badcafe, secs: 4, flags: 0x8000,
    ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: 0,
    chaddr, sname: Buffer.alloc(64), file: Buffer.alloc(128), cookie: true,
    options: [
      { code: Opt.MESSAGE_TYPE, data: Buffer.from([MessageType.DISCOVER]) },
      { code: Opt.VENDOR_CLASS, data: Buffer.from('PXEClient:Arch:00007:UNDI:003016') },
      { code: Opt.PXE_SYSTEM_TYPE, data: Buffer.from([0, 7]) },
      { code: Opt.PXE_CLIENT_NDI, data: Buffer.from([1, 3, 16]) },
      { code: Opt.PXE_CLIENT_ID, data: Buffer.alloc(17, 0x42) },
    ],
  });
  const discover = decode(wire);
  assert.equal(discover.xid, 0x0badcafe);
  assert.deepEqual([...getOption(discover, Opt.PXE_SYSTEM_TYPE)], [0, 7]);
  assert.ok(encode(discover).equals(wire), 'the DISCOVER re-encodes to the same bytes');
  console.log('ok @netboot/dhcp-wire');

  // TFTP: a served directory, a file fetched with options.
  const tftpRoot = join(dir, 'tftp');
  await mkdir(tftpRoot);
  const payload = Buffer.alloc(70_000);
  for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
  await writeFile(join(tftpRoot, 'pxelinux.0'), payload);
  const tftp = new TftpServer({ root: tftpRoot, address: '127.0.0.1', port: 0, threads: 0, log: () => {} });
  const { port: tftpPort } = await tftp.listen();
  try {
    const got = await tftpGet('pxelinux.0', { host: '127.0.0.1', port: tftpPort, blksize: 1468, windowsize: 4, tsize: true });
    assert.ok(got.data?.equals(payload), 'the fetched file is byte-identical');
  } finally {
    await tftp.close();
  }
  console.log('ok @netboot/tftp-wire');

  // HTTP boot files: the same root over HTTP, one range of the file, a symlink out of the root refused.
  await symlink('/etc', join(tftpRoot, 'etc-link'));
  const http = new HttpBootServer({ root: tftpRoot, address: '127.0.0.1', port: 0 });
  const { port: httpPort } = await http.listen();
  try {
    const part = await fetch(`http://127.0.0.1:${httpPort}/pxelinux.0`, { headers: { Range: 'bytes=1000-1999' } });
    assert.equal(part.status, 206);
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(payload.subarray(1000, 2000)), 'the range is byte-identical');
    const escape = await fetch(`http://127.0.0.1:${httpPort}/etc-link/passwd`);
    assert.equal(escape.status, 403);
    await escape.arrayBuffer();
  } finally {
    await http.close();
  }
  console.log('ok @netboot/http-boot');

  // ONC RPC: NULL over UDP and TCP.
  const rpc = new RpcServer();
  rpc.register(200199, 1, { 0: () => ({ stat: 0, body: [] }) });
  const rpcPort = await rpc.listen({ host: '127.0.0.1', port: 0 });
  try {
    for (const transport of ['udp', 'tcp']) {
      const client = await RpcClient.connect({ host: '127.0.0.1', port: rpcPort, transport });
      try {
        assert.equal((await client.call(200199, 1, 0)).remaining, 0);
      } finally {
        client.close();
      }
    }
  } finally {
    await rpc.close();
  }
  console.log('ok @netboot/oncrpc-xdr');

  // portmap: register and look up against the packaged portmapper.
  const portmapper = new PortmapServer({ log: () => {} });
  const pmPort = await portmapper.listen({ host: '127.0.0.1', port: 0 });
  try {
    const pm = await PortmapClient.connect({ port: pmPort, transport: 'udp' });
    try {
      await pm.registerService(200199, [1], 4242);
      assert.equal(await pm.getport(200199, 1, 'tcp'), 4242);
      assert.equal(await pm.getport(200199, 1, 'udp'), 4242);
      await pm.unregisterService(200199, [1]);
      assert.equal(await pm.getport(200199, 1, 'tcp'), 0);
    } finally {
      pm.close();
    }
  } finally {
    await portmapper.close();
  }
  console.log('ok @netboot/portmap');

  // mountd: an exports file parsed and matched.
  const exported = join(dir, 'export');
  await mkdir(exported);
  await writeFile(join(exported, 'motd'), 'served by the packed nfs3\n');
  const exportsFile = join(dir, 'exports');
  await writeFile(exportsFile, `${exported} 127.0.0.1(ro,insecure) 198.18.1.0/24(rw)\n`);
  const exportsList = await loadExports(exportsFile);
  assert.equal(exportsList.length, 1);
  assert.equal(matchClient(exportsList[0], '127.0.0.1')?.rw, false);
  assert.equal(matchClient(exportsList[0], '198.18.1.9')?.rw, true);
  assert.equal(matchClient(exportsList[0], '198.19.0.1'), undefined);
  console.log('ok @netboot/mountd');

  // NFS: createNfsService on the export, a file read with NfsClient.
  const service = await createNfsService({
    exportsFile, listen: '127.0.0.1', nfsPort: 0, mountdPort: 0, portmapPort: 0, stateDir: join(dir, 'state'), log: () => {},
  });
  try {
    const mount = await MountClient.connect({ host: '127.0.0.1', port: service.mountdPort, transport: 'tcp' });
    const mounted = await mount.mnt(exported);
    mount.close();
    assert.equal(mounted.status, 0, 'MNT granted');
    const nfs = await NfsClient.connect({ host: '127.0.0.1', port: service.nfsPort, transport: 'udp' });
    try {
      const found = await nfs.lookup(Buffer.from(mounted.fhandle), 'motd');
      assert.equal(found.status, 0, 'LOOKUP');
      const read = await nfs.read(found.object, 0n, 1024);
      assert.equal(read.status, 0, 'READ');
      assert.equal(read.data.toString(), 'served by the packed nfs3\n');
    } finally {
      nfs.close();
    }
  } finally {
    await service.close();
  }
  console.log('ok @netboot/nfs3');

  // NLM: the lock table refuses a conflicting lock and names its holder; an NLM result round-trips.
  const locks = new LockTable();
  const fh = Buffer.from('handle');
  const owner = (host) => ({ host, svid: 1, oh: Buffer.from(host) });
  assert.equal(locks.lock({ fh, owner: owner('node1'), exclusive: true, offset: 0n, length: 0n }, { block: false, reclaim: false, context: undefined }).stat, Nlm4Stat.GRANTED);
  const denied = locks.test({ fh, owner: owner('node2'), exclusive: false, offset: 10n, length: 1n });
  assert.equal(denied.stat, Nlm4Stat.DENIED);
  assert.equal(denied.holder.svid, 1);
  assert.deepEqual(nlm4Res.decode(nlm4Res.encode({ cookie: Buffer.from('c'), stat: Nlm4Stat.BLOCKED })).value.stat, Nlm4Stat.BLOCKED);
  console.log('ok @netboot/nlm');

  assert.ok(commands.some((c) => c.name === 'serve'), 'the netboot library lists its commands');
  console.log('ok netboot');
} finally {
  await rm(dir, { recursive: true, force: true });
}
