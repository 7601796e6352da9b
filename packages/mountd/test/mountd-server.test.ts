import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import fc from 'fast-check';
import { AcceptStat, RpcAcceptError, RpcServer } from '@netboot/oncrpc-xdr';
import { MOUNT_PROGRAM, MountClient, MountProc, MountStat, Mountd, parseExports, type Export } from '@netboot/mountd';
import { requireThat } from '../../../test/support/programs.js';

const isRoot = process.getuid?.() === 0;

function fixture(t: Test) {
  const root = mkdtempSync(join(tmpdir(), 'mountd-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  for (const d of ['diskless/127.0.0.1/etc', 'usr', 'other', 'long', 'pub']) mkdirSync(join(root, d), { recursive: true });
  const exportsText = [
    `${root}/diskless/127.0.0.1 127.0.0.1(rw,sync,no_root_squash,no_subtree_check)`,
    `${root}/usr 127.0.0.0/8(ro,sync)`,
    `${root}/other 198.18.1.21(rw)`,
    `${root}/missing 127.0.0.1(rw)`,
    `${root}/long 127.0.0.1(ro)`,
    `${root}/pub *(ro,insecure)`,
  ].join('\n');
  const exports = parseExports(exportsText, 'exports');
  const stateDir = join(root, 'state');
  return { root, exports, stateDir };
}

/** A stand-in for nfs3's handle lookup: a digest of the directory's path, 40 bytes for /long (too big for v1). */
async function handleFor(exp: Export, subpath?: Buffer): Promise<Buffer | undefined> {
  const dir = subpath ? join(exp.path, subpath.toString('utf8')) : exp.path;
  try {
    if (!statSync(dir).isDirectory()) return undefined;
  } catch {
    return undefined;
  }
  const digest = createHash('sha256').update(dir).digest();
  return exp.path.endsWith('/long') ? Buffer.concat([digest, digest.subarray(0, 8)]) : digest.subarray(0, 24);
}

async function startMountd(t: Test, exports: Export[], stateDir: string, lines: string[]) {
  const server = new RpcServer({ log: (l) => lines.push(`rpc: ${l}`) });
  const mountd = new Mountd({ exports, rootHandle: handleFor, subdirectoryMounts: true, stateDir, log: (l) => lines.push(l) });
  mountd.register(server);
  const port = await server.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => server.close());
  return { server, mountd, port };
}

for (const transport of ['udp', 'tcp'] as const) {
  t.test(`MOUNT v3 over ${transport}`, async (t) => {
    const { root, exports, stateDir } = fixture(t);
    const lines: string[] = [];
    const { mountd, port } = await startMountd(t, exports, stateDir, lines);
    const client = await MountClient.connect({ host: '127.0.0.1', port, transport, reservedPort: true, timeoutMs: 5000 });
    t.teardown(() => client.close());
    const secureOk = isRoot; // only root can send from a port below 1024

    await client.null();

    const disk = `${root}/diskless/127.0.0.1`;
    const granted = await client.mnt(disk);
    if (secureOk) {
      t.match(granted, { status: MountStat.OK, authFlavors: [1] }, 'MNT of a listed client gives the handle and AUTH_SYS');
      t.same(granted.status === 0 && Buffer.from(granted.fhandle), await handleFor(exports[0]), 'the handle is the one from the rootHandle callback');
      t.match(lines.at(-1), new RegExp(`^mount request from 127\\.0\\.0\\.1:\\d+ for ${disk}: granted \\(rw, export ${disk}\\)$`));
    }

    t.same(await client.mnt(`${root}/other`), { status: MountStat.ACCES }, 'a client the export does not list gets ACCES');
    t.match(lines.at(-1), /for .*\/other: refused \(client not listed for .*\/other\)$/);
    t.same(await client.mnt(`${root}/nowhere`), { status: MountStat.NOENT }, 'a path not exported gets NOENT');
    t.match(lines.at(-1), /: refused \(not exported\)$/);
    t.same(await client.mnt(`${root}/missing`), { status: MountStat.NOENT }, 'an exported path that does not exist gets NOENT');
    t.match(lines.at(-1), /: refused \(no directory .*\/missing\)$/);

    if (secureOk) {
      t.match(await client.mnt(`${disk}/etc`), { status: MountStat.OK }, 'a directory inside an export can be mounted');
      t.same(await client.mnt(`${disk}/nope`), { status: MountStat.NOENT });
      t.match(await client.mnt(`${root}/usr/`), { status: MountStat.OK }, 'a trailing slash names the same export');
    }

    const insecure = await MountClient.connect({ host: '127.0.0.1', port, transport, reservedPort: false, timeoutMs: 5000 });
    t.teardown(() => insecure.close());
    t.same(await insecure.mnt(disk), { status: MountStat.ACCES }, 'a secure export refuses a source port >= 1024');
    t.match(lines.at(-1), new RegExp(`^mount request from 127\\.0\\.0\\.1:${insecure.rpc.localPort} for ${disk}: refused \\(source port ${insecure.rpc.localPort} is not below 1024`));
    t.match(await insecure.mnt(`${root}/pub`), { status: MountStat.OK }, 'an insecure export takes any port');

    const dump = await client.dump();
    t.same(
      dump.map((e) => e.directory).sort(),
      (secureOk ? [disk, `${disk}/etc`, `${root}/pub`, `${root}/usr`] : [`${root}/pub`]).sort(),
      'DUMP lists each granted mount once',
    );
    t.ok(dump.every((e) => e.hostname === '127.0.0.1'));

    t.same(
      await client.exports(),
      exports.map((e) => ({ dir: e.path, groups: e.clients.map((c) => c.text) })),
      'EXPORT lists every export with its client specs',
    );

    // Restart: a new server on the same state directory answers DUMP with the same list.
    await mountd.flush();
    const again = await startMountd(t, exports, stateDir, lines);
    const client2 = await MountClient.connect({ host: '127.0.0.1', port: again.port, transport, reservedPort: true, timeoutMs: 5000 });
    t.teardown(() => client2.close());
    t.same((await client2.dump()).map((e) => e.directory).sort(), dump.map((e) => e.directory).sort(), 'the mount list survives a restart');

    await client2.umnt(`${root}/pub`);
    t.match(lines.at(-1), new RegExp(`^unmount request from 127\\.0\\.0\\.1:\\d+ for ${root}/pub: removed$`));
    t.notOk((await client2.dump()).some((e) => e.directory === `${root}/pub`), 'UMNT removes the entry');
    await client2.umnt(`${root}/pub`);
    t.match(lines.at(-1), /: was not mounted$/);
    await client2.umntall();
    t.same(await client2.dump(), [], 'UMNTALL removes every entry of the client');
    await again.mountd.flush();
    t.same(new Mountd({ exports, rootHandle: handleFor, stateDir }).mountList(), [], 'and the removal is on disk');

    const garbage = client2.rpc.call(MOUNT_PROGRAM, 3, MountProc.MNT, Buffer.from([0, 0, 0, 9, 0x2f]));
    await t.rejects(garbage, new RpcAcceptError(AcceptStat.GARBAGE_ARGS), 'a truncated dirpath gets GARBAGE_ARGS');
    await t.rejects(client2.rpc.call(MOUNT_PROGRAM, 3, 6), new RpcAcceptError(AcceptStat.PROC_UNAVAIL));
    await t.rejects(client2.rpc.call(MOUNT_PROGRAM, 2, 0), { name: 'RpcAcceptError', stat: AcceptStat.PROG_MISMATCH, low: 1, high: 3 });
  });
}

t.test('MOUNT v1: 32-byte handles', async (t) => {
  if (!requireThat(t, isRoot, 'secure exports need a reserved source port (root)')) return;
  const { root, exports, stateDir } = fixture(t);
  const lines: string[] = [];
  const { port } = await startMountd(t, exports, stateDir, lines);
  const v1 = await MountClient.connect({ host: '127.0.0.1', port, transport: 'udp', reservedPort: true, version: 1, timeoutMs: 5000 });
  t.teardown(() => v1.close());
  await v1.null();
  const r = await v1.mnt1(`${root}/usr`);
  t.equal(r.status, 0);
  const expected = Buffer.alloc(32);
  expected.set((await handleFor(exports[1]))!);
  t.same('fhandle' in r && Buffer.from(r.fhandle), expected, 'a shorter NFS handle is padded with zeros to 32 bytes');
  t.same(await v1.mnt1(`${root}/long`), { status: MountStat.NOTSUPP }, 'a handle longer than 32 bytes cannot be given over v1');
  t.match(lines.at(-1), /refused \(the file handle is 40 bytes; MOUNT v1 carries 32/);
  t.same(await v1.mnt1(`${root}/other`), { status: MountStat.ACCES });
  t.same((await v1.dump()).map((e) => e.directory), [`${root}/usr`]);
  t.same((await v1.exports()).length, exports.length);
});

t.test('subdirectory mounts are refused unless nfs3 resolves them', async (t) => {
  const { root, exports } = fixture(t);
  const mountd = new Mountd({ exports, rootHandle: handleFor, log: () => {} });
  t.match(await mountd.decide(`${root}/usr/lib`, '127.0.0.1', 700), { granted: false, status: MountStat.NOENT, why: /mounting subdirectories is off/ });
  t.match(await mountd.decide(`${root}/usr`, '127.0.0.1', 700), { granted: true });
});

t.test('named hosts and wildcards use the hostnames resolver', async (t) => {
  const { root } = fixture(t);
  const exports = parseExports(`${root}/usr node1.lab(rw) *.cluster(ro)`, 'exports');
  const asked: string[] = [];
  const mountd = new Mountd({
    exports,
    rootHandle: handleFor,
    log: () => {},
    hostnames: async (address) => {
      asked.push(address);
      return address === '198.18.1.21' ? ['node1.lab'] : address === '198.18.1.22' ? ['n22.cluster'] : [];
    },
  });
  t.match(await mountd.decide(`${root}/usr`, '198.18.1.21', 700), { granted: true, options: { rw: true } });
  t.match(await mountd.decide(`${root}/usr`, '198.18.1.22', 700), { granted: true, options: { rw: false } });
  t.match(await mountd.decide(`${root}/usr`, '198.18.1.23', 700), { granted: false, status: MountStat.ACCES });
  t.same(asked, ['198.18.1.21', '198.18.1.22', '198.18.1.23']);
});

t.test('a corrupt mount list does not stop a restart', async (t) => {
  const { exports, stateDir } = fixture(t);
  mkdirSync(stateDir, { recursive: true });
  const { writeFileSync } = await import('node:fs');
  writeFileSync(join(stateDir, 'rmtab'), 'garbage\n198.18.1.21:/diskless/198.18.1.21:0x00000001\n2001:db8::1:/a\\040b:0x00000002\n198.18.1.2');
  const mountd = new Mountd({ exports, rootHandle: handleFor, stateDir, log: () => {} });
  t.same(mountd.mountList(), [
    { hostname: '198.18.1.21', directory: '/diskless/198.18.1.21' },
    { hostname: '2001:db8::1', directory: '/a b' },
  ]);
});

t.test('random argument bytes get a reply or GARBAGE_ARGS, and the server keeps answering', async (t) => {
  const { exports, stateDir } = fixture(t);
  const lines: string[] = [];
  const { port } = await startMountd(t, exports, stateDir, lines);
  const client = await MountClient.connect({ host: '127.0.0.1', port, transport: 'tcp', timeoutMs: 5000 });
  t.teardown(() => client.close());
  const outcomes = new Set<string>();
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(1, 3), fc.integer({ min: 0, max: 5 }), fc.uint8Array({ maxLength: 64 }), async (vers, proc, args) => {
      try {
        await client.rpc.call(MOUNT_PROGRAM, vers, proc, Buffer.from(args));
        outcomes.add('reply');
      } catch (e) {
        if (!(e instanceof RpcAcceptError) || e.stat !== AcceptStat.GARBAGE_ARGS) throw e;
        outcomes.add('garbage');
      }
      return true;
    }),
    { seed: 42, numRuns: 150 },
  );
  await client.null();
  t.same([...outcomes].sort(), ['garbage', 'reply']);
});
