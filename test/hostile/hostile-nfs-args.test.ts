import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RpcServer } from '@netboot/oncrpc-xdr';
import { NfsClient, NfsServer, NfsStat, type AccessOptions } from '@netboot/nfs3';

// Arguments no real client sends: counts of 4 GiB, offsets at the end of the
// 64-bit range, a WRITE whose count disagrees with its data, names with '/'
// or over 255 bytes, an overlong UTF-8 '/', a symlink target with NUL, a time of 2^32-1 nanoseconds, a SETATTR to an 8 EiB size, READs of a FIFO. Each gets a status, the
// server allocates nothing sized by them, and it keeps serving.

const rw: AccessOptions = { rw: true, rootSquash: false, allSquash: false, anonuid: 65534, anongid: 65534, secure: false };
const root = { flavor: 1 as const, stamp: 1, machine: 'hostile', uid: 0, gid: 0, gids: [] };
const MAX32 = 0xffffffff;
const MAX64 = (1n << 64n) - 1n;

t.test('hostile NFS arguments', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hostile-nfs-args-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'file'), 'twelve bytes');
  // Opening a FIFO blocks until the other end opens: READs of one must not tie up the server's I/O threads.
  execFileSync('mkfifo', [join(dir, 'pipe')]);
  const server = await NfsServer.create({ exports: [{ id: 1, path: dir, optionsFor: () => rw }], handleKey: Buffer.alloc(32, 5), log: () => {} });
  const rpc = new RpcServer({ log: () => {} });
  server.register(rpc);
  const port = await rpc.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(async () => {
    server.close();
    await rpc.close();
  });
  const rootFh = server.rootHandle(dir)!;
  const before = process.memoryUsage();
  for (const transport of ['tcp', 'udp'] as const) {
    const c = await NfsClient.connect({ host: '127.0.0.1', port, transport, cred: root, timeoutMs: 10_000 });
    t.teardown(() => c.close());
    const file = await c.lookup(rootFh, 'file');
    if (file.status !== 0) throw new Error('lookup failed');
    const fh = file.object;

    const big = await c.read(fh, 0n, MAX32);
    t.equal(big.status, 0, `${transport}: READ count 4 GiB: answered`);
    if (big.status === 0) t.equal(big.data.length, 12, 'with the 12 bytes there are');
    const far = await c.read(fh, MAX64, 4096);
    t.ok(far.status === 0 ? far.data.length === 0 && far.eof : far.status !== NfsStat.SERVERFAULT, `${transport}: READ at offset 2^64-1: ${far.status === 0 ? 'empty, eof' : `status ${far.status}`}`);
    const rd = await c.readdir(rootFh, 0n, undefined, MAX32);
    t.equal(rd.status, 0, `${transport}: READDIR count 4 GiB: answered`);
    const rdp = await c.readdirplus(rootFh, 0n, undefined, MAX32, MAX32);
    t.equal(rdp.status, 0, `${transport}: READDIRPLUS dircount/maxcount 4 GiB: answered`);
    const lying = await c.call('WRITE', { file: fh, offset: 0n, count: MAX32, stable: 2, data: Buffer.from('abc') });
    t.not(lying.status, NfsStat.SERVERFAULT, `${transport}: WRITE count 4 GiB with 3 bytes of data: status ${lying.status}`);
    const end = await c.write(fh, MAX64 - 1n, Buffer.from('xy'), 2);
    t.ok(end.status !== 0 && end.status !== NfsStat.SERVERFAULT, `${transport}: WRITE at 2^64-2: refused with status ${end.status}`);
    const huge = await c.setattr(fh, { size: 1n << 63n });
    t.ok(huge.status !== 0 && huge.status !== NfsStat.SERVERFAULT, `${transport}: SETATTR size 8 EiB: refused with status ${huge.status}`);
    const slash = await c.lookup(rootFh, '../etc');
    t.ok(slash.status !== 0, `${transport}: LOOKUP "../etc": status ${slash.status}`);
    const long = await c.create(rootFh, 'n'.repeat(256));
    t.equal(long.status, NfsStat.NAMETOOLONG, `${transport}: CREATE of a 256-byte name: NFS3ERR_NAMETOOLONG`);
    const nul = await c.create(rootFh, Buffer.from('a\0b'));
    t.ok(nul.status !== 0, `${transport}: CREATE of a name with NUL: status ${nul.status}`);
    // Names are bytes: an overlong UTF-8 "/" (c0 af) is just two bytes of one name, never a separator.
    const overlong = await c.lookup(rootFh, Buffer.from([0x2e, 0x2e, 0xc0, 0xaf, 0x65, 0x74, 0x63]));
    t.equal(overlong.status, NfsStat.NOENT, `${transport}: LOOKUP "..<c0 af>etc": NFS3ERR_NOENT`);
    const dotsNul = await c.lookup(rootFh, Buffer.from('..\0'));
    t.ok(dotsNul.status !== 0 && dotsNul.status !== NfsStat.SERVERFAULT, `${transport}: LOOKUP "..\\0": status ${dotsNul.status}`);
    const nulTarget = await c.symlink(rootFh, `nul-${transport}`, Buffer.from('a\0/etc/passwd'));
    t.equal(nulTarget.status, NfsStat.INVAL, `${transport}: SYMLINK to a target holding NUL: NFS3ERR_INVAL`);
    const nsec = await c.setattr(fh, { mtime: { how: 2, time: { seconds: MAX32, nseconds: MAX32 } } });
    t.ok(nsec.status !== 0 && nsec.status !== NfsStat.SERVERFAULT, `${transport}: SETATTR mtime with 2^32-1 nseconds: refused with status ${nsec.status}`);
    const pipe = await c.lookup(rootFh, 'pipe');
    if (pipe.status !== 0) throw new Error('lookup of the FIFO failed');
    const pipeReads = await Promise.all([1, 2, 3, 4, 5, 6].map(() => c.read(pipe.object, 0n, 10)));
    t.same(pipeReads.map((r) => r.status), Array(6).fill(NfsStat.INVAL), `${transport}: 6 READs of a FIFO at once: NFS3ERR_INVAL, none blocks`);
    t.equal((await c.write(pipe.object, 0n, Buffer.from('x'), 2)).status, NfsStat.INVAL, `${transport}: WRITE to a FIFO: NFS3ERR_INVAL`);
    const cm = await c.commit(fh, MAX64, MAX32);
    t.not(cm.status, NfsStat.SERVERFAULT, `${transport}: COMMIT offset 2^64-1 count 4 GiB: status ${cm.status}`);
  }
  const after = process.memoryUsage();
  t.ok(statSync(join(dir, 'file')).size < 1 << 20, `the file was not grown (${statSync(join(dir, 'file')).size} bytes)`);
  t.ok(after.arrayBuffers - before.arrayBuffers < 64 << 20, `no allocation sized by the arguments: ArrayBuffers ${(before.arrayBuffers / 1048576).toFixed(1)} -> ${(after.arrayBuffers / 1048576).toFixed(1)} MiB`);
});
