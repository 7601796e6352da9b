import t from 'tap';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLink } from '../support/netns.js';
import { start } from '../support/processes.js';
import { netbootCli, repoRoot } from '../support/paths.js';
import { nodeIn } from './ns-node.js';
import { requireNetns } from '../support/programs.js';

// kill -9 of `netboot nfs` while a client writes: every WRITE the server
// acknowledged as FILE_SYNC, and every UNSTABLE write a COMMIT covered (with
// an unchanged verifier), is on disk after the restart; the restarted
// server's write verifier is new (so clients know to resend what was not
// committed); handles obtained before the crash still work.

const SUBNET = 85;
const CHUNK = 32 * 1024;

// The same data pattern in the writer and in the checker: a pure function of file, offset and length.
const PATTERN = `
const pattern = (f, off, len) => {
  const b = Buffer.alloc(len);
  let x = (f * 7919 + off / 4) >>> 0;
  for (let i = 0; i < len; i += 4) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b.writeUInt32BE(x, i);
  }
  return b;
};
const cred = { flavor: 1, stamp: 1, machine: 'crash', uid: 0, gid: 0, gids: [] };
`;

const WRITER = `
import { MountClient } from '@netboot/mountd';
import { NfsClient } from '@netboot/nfs3';
${PATTERN}
const { server, path, chunk } = JSON.parse(process.argv[1]);
const say = (o) => console.log(JSON.stringify(o));
const m = await MountClient.connect({ host: server, port: 20048, transport: 'tcp', reservedPort: true, timeoutMs: 5000 });
const root = (await m.mnt(path)).fhandle;
const c = await NfsClient.connect({ host: server, port: 2049, transport: 'tcp', reservedPort: true, cred, timeoutMs: 3000 });
const files = [];
for (let i = 0; i < 4; i++) {
  const r = await c.create(root, 'file-' + i);
  files.push(r.object);
}
say({ root: Buffer.from(root).toString('hex'), files: files.map((h) => Buffer.from(h).toString('hex')) });
const pending = files.map(() => []);
try {
  for (let round = 0; round < 100000; round++) {
    for (let i = 0; i < files.length; i++) {
      const off = round * chunk;
      if (i % 2 === 0) {
        const r = await c.write(files[i], BigInt(off), pattern(i, off, chunk), 2);
        if (r.status === 0 && r.committed === 2) say({ ack: [i, off, chunk], how: 'FILE_SYNC', verf: Buffer.from(r.verf).toString('hex') });
      } else {
        const r = await c.write(files[i], BigInt(off), pattern(i, off, chunk), 0);
        if (r.status !== 0) continue;
        if (r.committed === 2) say({ ack: [i, off, chunk], how: 'FILE_SYNC', verf: Buffer.from(r.verf).toString('hex') });
        else pending[i].push({ off, verf: Buffer.from(r.verf).toString('hex') });
        if (pending[i].length === 4) {
          const cm = await c.commit(files[i]);
          const verf = cm.status === 0 ? Buffer.from(cm.verf).toString('hex') : '';
          for (const p of pending[i]) if (p.verf === verf) say({ ack: [i, p.off, chunk], how: 'COMMIT', verf });
          pending[i] = [];
        }
      }
    }
  }
} catch (e) {
  say({ end: String(e.message ?? e) });
}
process.exit(0);
`;

const CHECKER = `
import { NfsClient } from '@netboot/nfs3';
${PATTERN}
const { server, root, files, acks } = JSON.parse(process.argv[1]);
const c = await NfsClient.connect({ host: server, port: 2049, transport: 'tcp', reservedPort: true, cred, timeoutMs: 10000 });
const fh = files.map((h) => Buffer.from(h, 'hex'));
const out = { handles: [], mismatches: [], checked: 0 };
out.handles.push((await c.getattr(Buffer.from(root, 'hex'))).status);
for (const h of fh) out.handles.push((await c.getattr(h)).status);
for (const [f, off, len] of acks) {
  const r = await c.read(fh[f], BigInt(off), len);
  out.checked++;
  if (r.status !== 0 || !Buffer.from(r.data).equals(pattern(f, off, len))) out.mismatches.push({ f, off, status: r.status, got: r.status === 0 ? r.data.length : -1 });
}
const w = await c.write(fh[1], 0n, pattern(1, 0, 4096), 0);
out.verfAfter = w.status === 0 ? Buffer.from(w.verf).toString('hex') : 'status ' + w.status;
const made = await c.create(Buffer.from(root, 'hex'), 'after-restart');
out.createAfter = made.status;
console.log(JSON.stringify(out));
process.exit(0);
`;

if (requireNetns(t)) {
  t.test('kill -9 during NFS writes', async (t) => {
    const link = createLink(t, { subnet: SUBNET, label: 'hnk' });
    const base = mkdtempSync(join(tmpdir(), 'hostile-nfs-crash-'));
    t.teardown(() => rmSync(base, { recursive: true, force: true }));
    const exp = join(base, 'export');
    mkdirSync(exp);
    chmodSync(exp, 0o777);
    const exportsFile = join(base, 'exports');
    writeFileSync(exportsFile, `${exp} ${link.clientAddr}(rw,sync,no_root_squash)\n`);
    const serverArgs = [netbootCli, 'nfs', '--exports', exportsFile, '--state-dir', join(base, 'state')];
    const server = start(t, process.execPath, serverArgs, { ns: link.server });
    await server.waitFor(/nlm: lock manager .* on port \d+/); // the last service it starts

    const writer = start(t, process.execPath, ['--input-type=module', '-e', WRITER, JSON.stringify({ server: link.serverAddr, path: exp, chunk: CHUNK })], {
      ns: link.client,
      cwd: repoRoot,
    });
    await writer.waitForOutput((out) => out.split('"ack"').length > 120, '120 acknowledged writes');
    await server.kill();
    await writer.waitFor(/"end"/).catch(() => undefined); // asserted below, with what the writer saw
    await writer.stop();

    const lines = writer
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { root?: string; files?: string[]; ack?: [number, number, number]; how?: string; verf?: string; end?: string });
    const head = lines.find((l) => l.files)!;
    const acked = lines.filter((l) => l.ack);
    const byHow = (h: string) => acked.filter((l) => l.how === h).length;
    t.ok(acked.length >= 20, `${acked.length} writes acknowledged before the crash (${byHow('FILE_SYNC')} FILE_SYNC, ${byHow('COMMIT')} committed)`);
    t.ok(lines.some((l) => l.end), `the writer saw the crash: ${lines.find((l) => l.end)?.end}`);
    const verfBefore = new Set(acked.map((l) => l.verf));

    const again = start(t, process.execPath, serverArgs, { ns: link.server });
    await again.waitFor(/nlm: lock manager .* on port \d+/);
    const r = await nodeIn<{ handles: number[]; mismatches: unknown[]; checked: number; verfAfter: string; createAfter: number }>(
      link.client,
      CHECKER,
      { server: link.serverAddr, root: head.root, files: head.files, acks: acked.map((l) => l.ack) },
      60_000,
    );
    t.same(r.handles, [0, 0, 0, 0, 0], 'the root and file handles from before the crash still work (GETATTR NFS3_OK)');
    t.equal(r.checked, acked.length, 'every acknowledged write was read back');
    t.same(r.mismatches, [], 'and every one is on disk, byte for byte');
    t.equal(verfBefore.size, 1, 'one write verifier before the crash');
    t.notOk(verfBefore.has(r.verfAfter), `the verifier changed (${[...verfBefore][0]} -> ${r.verfAfter})`);
    t.equal(r.createAfter, 0, 'the export takes new files after the restart');
    t.comment(`nfs crash: ${acked.length} acknowledged writes of ${CHUNK} bytes (${byHow('FILE_SYNC')} FILE_SYNC, ${byHow('COMMIT')} by COMMIT) all on disk after kill -9; verifier ${[...verfBefore][0]} -> ${r.verfAfter}`);
  });
}
