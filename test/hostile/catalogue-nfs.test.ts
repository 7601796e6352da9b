import t from 'tap';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NfsStat } from '@netboot/nfs3';
import { createLink } from '../support/netns.js';
import { start } from '../support/processes.js';
import { netbootCli } from '../support/paths.js';
import { nodeIn } from './ns-node.js';
import { requireNetns } from '../support/programs.js';

// "Nobody gets in", NFS and MOUNT, against `netboot nfs` in a test
// namespace. The client namespace has two addresses: 198.18.83.2, which the
// exports list, and 198.18.83.3, which they do not; calls to the server's
// second address 198.18.83.11 leave from .3 (a route with `src`), so both
// identities are real peers on the link.

const SUBNET = 83;
const MNT3ERR_ACCES = 13;

if (requireNetns(t)) {
  t.test('NFS and MOUNT refusals', async (t) => {
    const link = createLink(t, { subnet: SUBNET, label: 'hnf' });
    const ip = (ns: string, ...a: string[]) => execFileSync('ip', ['-n', ns, ...a]);
    ip(link.server, 'addr', 'add', `198.18.${SUBNET}.11/32`, 'dev', link.serverIf);
    ip(link.client, 'addr', 'add', `198.18.${SUBNET}.3/24`, 'dev', link.clientIf);
    ip(link.client, 'route', 'add', `198.18.${SUBNET}.11/32`, 'dev', link.clientIf, 'src', `198.18.${SUBNET}.3`);

    const base = mkdtempSync(join(tmpdir(), 'hostile-nfs-'));
    t.teardown(() => rmSync(base, { recursive: true, force: true }));
    const dirs = Object.fromEntries(['a', 'b', 'squash', 'secure', 'gone'].map((n) => [n, join(base, n)]));
    for (const d of Object.values(dirs)) {
      mkdirSync(d);
      chmodSync(d, 0o777);
    }
    symlinkSync('/etc', join(dirs.a, 'out'));
    symlinkSync('/etc/passwd', join(dirs.a, 'passwd'));
    writeFileSync(join(dirs.squash, 'root-only'), 'secret');
    chmodSync(join(dirs.squash, 'root-only'), 0o600);
    writeFileSync(join(dirs.a, 'owned-by-1000'), 'x');
    chownSync(join(dirs.a, 'owned-by-1000'), 1000, 1000);
    const client = `198.18.${SUBNET}.2`;
    const exportsFile = join(base, 'exports');
    const lines = [
      `${dirs.a} ${client}(rw,no_root_squash,insecure)`,
      `${dirs.b} ${client}(rw,no_root_squash,insecure)`,
      `${dirs.squash} ${client}(rw,root_squash,insecure)`,
      `${dirs.secure} ${client}(rw,no_root_squash,secure)`,
    ];
    writeFileSync(exportsFile, [...lines, `${dirs.gone} ${client}(rw,no_root_squash,insecure)`].join('\n') + '\n');
    const server = start(t, process.execPath, [netbootCli, 'nfs', '--exports', exportsFile, '--state-dir', join(base, 'state')], { ns: link.server });
    await server.waitFor(/nlm: lock manager .* on port \d+/); // the last service it starts

    type Results = Record<string, unknown> & { goneHandle: string };
    const r = await nodeIn<Results>(
      link.client,
      `
      import { MountClient } from '@netboot/mountd';
      import { NfsClient } from '@netboot/nfs3';
      const { server, other, dirs } = JSON.parse(process.argv[1]);
      const as = (uid, gid = uid) => ({ flavor: 1, stamp: 1, machine: 'probe', uid, gid, gids: [] });
      const out = {};
      const mount = async (path, opts = {}) => {
        const m = await MountClient.connect({ host: opts.host ?? server, port: 20048, transport: 'tcp', reservedPort: opts.reserved ?? true, timeoutMs: 5000 });
        const res = await m.mnt(path);
        m.close();
        return res;
      };
      const nfs = (opts = {}) => NfsClient.connect({ host: opts.host ?? server, port: 2049, transport: opts.transport ?? 'tcp', reservedPort: opts.reserved ?? true, cred: opts.cred ?? as(0), timeoutMs: 5000 });
      const root = {};
      for (const k of ['a', 'b', 'squash', 'secure', 'gone']) {
        const m = await mount(dirs[k]);
        if (m.status !== 0) throw new Error('mount ' + k + ' failed: ' + m.status);
        root[k] = m.fhandle;
      }
      out.goneHandle = Buffer.from(root.gone).toString('hex');
      const c = await nfs();

      const up = await c.lookup(root.a, '..');
      out.dotdot = { status: up.status, isRoot: up.status === 0 && Buffer.compare(up.object, root.a) === 0 };
      const dotdotB = await c.lookup(root.b, '..');
      out.dotdotNotSibling = dotdotB.status !== 0 || Buffer.compare(dotdotB.object, root.a) !== 0;

      const link = await c.lookup(root.a, 'out');
      out.symlinkType = link.status === 0 ? link.attributes?.type : -1;
      out.throughSymlink = (await c.lookup(link.object, 'passwd')).status;
      const pw = await c.lookup(root.a, 'passwd');
      out.readSymlink = (await c.read(pw.object, 0n, 4096)).status;
      out.writeSymlink = (await c.write(pw.object, 0n, Buffer.from('x'), 2)).status;
      out.setattrSymlink = (await c.setattr(pw.object, { size: 0n })).status;
      out.readdirSymlink = (await c.readdir(link.object)).status;

      const f = await c.create(root.a, 'moved');
      out.renameXdev = (await c.rename(root.a, 'moved', root.b, 'moved')).status;
      out.linkXdev = (await c.link(f.object, root.b, 'linked')).status;

      const flips = [];
      // Bits spread over the whole handle, whatever its length (a bit past the end would flip nothing).
      const bits = root.a.length * 8;
      for (const bit of [0, 9, 17, 40, 100, 200, bits - 9, bits - 1]) {
        const h = Buffer.from(root.a);
        h[bit >> 3] ^= 1 << (bit & 7);
        flips.push((await c.getattr(h)).status);
      }
      flips.push((await c.getattr(root.a.subarray(0, root.a.length - 1))).status);
      flips.push((await c.getattr(Buffer.alloc(64, 0xab))).status);
      out.flipped = flips;

      const sq = await nfs({ cred: as(0) });
      const made = await sq.create(root.squash, 'by-root');
      out.squashedUid = made.status === 0 ? made.attributes?.uid : -made.status;
      const secret = await sq.lookup(root.squash, 'root-only');
      out.squashedRead = (await sq.read(secret.object, 0n, 10)).status;
      out.squashedChown = (await sq.setattr(made.object, { uid: 0 })).status;

      const insecure = await nfs({ reserved: false });
      out.insecurePort = (await insecure.getattr(root.secure)).status;
      out.insecurePortWrite = (await insecure.create(root.secure, 'x')).status;
      out.securePort = (await c.getattr(root.secure)).status;
      out.insecureMount = (await mount(dirs.secure, { reserved: false })).status;

      const user = await nfs({ cred: as(1000) });
      const mine = await user.lookup(root.a, 'owned-by-1000');
      out.chownByUser = (await user.setattr(mine.object, { uid: 0 })).status;
      out.chgrpByUser = (await user.setattr(mine.object, { gid: 0 })).status;
      out.chownControl = (await user.setattr(mine.object, { mode: 0o600 })).status;

      const viaLink = await mount(dirs.a + '/out');
      out.mountThroughSymlink = viaLink.status;
      if (viaLink.status === 0) {
        const l = await c.readdir(viaLink.fhandle);
        out.mountThroughSymlinkUse = l.status === 0 ? l.entries.map((e) => Buffer.from(e.name).toString()).join(',') : l.status;
      }
      out.mountDotDot = (await mount(dirs.a + '/../../../etc')).status;
      out.mountEtc = (await mount('/etc')).status;
      out.forgedLogLine = (await mount(dirs.a + '/nope\\nmount request from 198.18.83.66:700 for /: granted (rw, export /)\\u001b[2J')).status;
      out.unlistedMount = (await mount(dirs.a, { host: other })).status;
      const stranger = await nfs({ host: other });
      out.unlistedNfs = (await stranger.getattr(root.a)).status;
      console.log(JSON.stringify(out));
      process.exit(0);
      `,
      { server: link.serverAddr, other: `198.18.${SUBNET}.11`, dirs },
    );
    const out = server.output();
    const from = (addr: string) => addr.replace(/\./g, '\\.');

    t.same(r.dotdot, { status: 0, isRoot: true }, 'LOOKUP .. at an export root is the root itself');
    t.ok(r.dotdotNotSibling, 'and never another export or the directory above');

    t.equal(r.symlinkType, 5, 'a symlink to /etc is seen as a symlink');
    t.equal(r.throughSymlink, NfsStat.NOTDIR, 'LOOKUP through it: NFS3ERR_NOTDIR (never followed)');
    t.equal(r.readdirSymlink, NfsStat.NOTDIR, 'READDIR of it: NFS3ERR_NOTDIR');
    t.equal(r.readSymlink, NfsStat.INVAL, 'READ of a symlink to /etc/passwd: NFS3ERR_INVAL');
    t.equal(r.writeSymlink, NfsStat.INVAL, 'WRITE of it: NFS3ERR_INVAL');
    t.equal(r.setattrSymlink, NfsStat.INVAL, 'SETATTR size of it: NFS3ERR_INVAL');

    t.equal(r.renameXdev, NfsStat.XDEV, 'RENAME between exports: NFS3ERR_XDEV');
    t.equal(r.linkXdev, NfsStat.XDEV, 'LINK between exports: NFS3ERR_XDEV');
    t.match(out, new RegExp(`nfs: RENAME from ${from(client)}:\\d+ refused \\(NFS3ERR_XDEV\\)`), 'RENAME refusal logged');
    t.match(out, new RegExp(`nfs: LINK from ${from(client)}:\\d+ refused \\(NFS3ERR_XDEV\\)`), 'LINK refusal logged');

    t.same(r.flipped, Array(10).fill(NfsStat.BADHANDLE), 'flipped bits, a truncated handle, a forged one: NFS3ERR_BADHANDLE');
    t.match(out, new RegExp(`nfs: GETATTR from ${from(client)}:\\d+ refused \\(NFS3ERR_BADHANDLE\\)`), 'logged');
    t.ok((out.match(/refused \(NFS3ERR_BADHANDLE\)/g) ?? []).length <= 6, 'rate-limited, not one line per bad handle');

    t.equal(r.squashedUid, 65534, 'root on a root_squash export creates as 65534');
    t.equal(r.squashedRead, NfsStat.ACCES, 'and cannot read a root-only file');
    t.equal(r.squashedChown, NfsStat.PERM, 'nor give a file to root');
    t.match(out, new RegExp(`nfs: SETATTR from ${from(client)}:\\d+ refused \\(NFS3ERR_PERM\\): only root may change the owner`), 'logged');

    t.equal(r.insecurePort, NfsStat.PERM, 'a call from port >= 1024 on a secure export: NFS3ERR_PERM');
    t.equal(r.insecurePortWrite, NfsStat.PERM, 'also for a CREATE');
    t.equal(r.securePort, 0, 'control: the same call from a reserved port works');
    t.match(out, new RegExp(`nfs: GETATTR from ${from(client)}:\\d+ refused \\(NFS3ERR_PERM\\): request from an insecure port`), 'logged');
    t.equal(r.insecureMount, MNT3ERR_ACCES, 'MNT of a secure export from port >= 1024: MNT3ERR_ACCES');
    t.match(out, new RegExp(`mount request from ${from(client)}:\\d+ for ${dirs.secure}: refused`), 'logged');

    t.equal(r.chownByUser, NfsStat.PERM, 'SETATTR uid by a non-root caller: NFS3ERR_PERM');
    t.equal(r.chgrpByUser, NfsStat.PERM, 'SETATTR gid to a group the caller is not in: NFS3ERR_PERM');
    t.equal(r.chownControl, 0, 'control: the owner may change the mode');

    t.notMatch(out, /^mount request from 198\.18\.83\.66/m, 'a newline in a MNT path cannot forge a log line');
    t.notMatch(out, /\u001b/, 'nor put a terminal escape into the log');
    t.match(out, /nope\\x0amount request from 198\.18\.83\.66[^\n]*\\x1b\[2J/, 'control characters are logged as \\xNN');
    t.not(r.mountThroughSymlink, 0, `MNT of a symlink to /etc inside an export: refused (status ${r.mountThroughSymlink})`);
    t.equal(r.mountThroughSymlinkUse, undefined, 'so no handle lists /etc');
    t.not(r.mountDotDot, 0, `MNT of export/../../../etc: refused (status ${r.mountDotDot})`);
    t.not(r.mountEtc, 0, `MNT of /etc: refused (status ${r.mountEtc})`);
    t.equal(r.unlistedMount, MNT3ERR_ACCES, `MNT from 198.18.${SUBNET}.3 (not listed): MNT3ERR_ACCES`);
    t.match(out, new RegExp(`mount request from 198\\.18\\.${SUBNET}\\.3:\\d+ for ${dirs.a}: refused`), 'logged');
    t.equal(r.unlistedNfs, NfsStat.ACCES, 'an NFS call with a valid handle from the unlisted address: NFS3ERR_ACCES');
    t.match(out, new RegExp(`nfs: GETATTR from 198\\.18\\.${SUBNET}\\.3:\\d+ refused \\(NFS3ERR_ACCES\\)`), 'logged');

    // The export goes away (the file is edited, SIGHUP): its handles are dead.
    writeFileSync(exportsFile, lines.join('\n') + '\n');
    server.child.kill('SIGHUP');
    await server.waitFor(/reloaded [^\n]*: 4 exports/);
    const after = await nodeIn<{ gone: number; kept: number }>(
      link.client,
      `
      import { NfsClient } from '@netboot/nfs3';
      const { server, gone } = JSON.parse(process.argv[1]);
      const c = await NfsClient.connect({ host: server, port: 2049, transport: 'tcp', reservedPort: true, cred: { flavor: 1, stamp: 1, machine: 'p', uid: 0, gid: 0, gids: [] }, timeoutMs: 5000 });
      const r = await c.getattr(Buffer.from(gone, 'hex'));
      console.log(JSON.stringify({ gone: r.status }));
      process.exit(0);
      `,
      { server: link.serverAddr, gone: r.goneHandle },
    );
    t.equal(after.gone, NfsStat.STALE, 'a handle from a removed export: NFS3ERR_STALE');
    t.match(server.output(), new RegExp(`nfs: GETATTR from ${from(client)}:\\d+ refused \\(NFS3ERR_STALE\\): export \\d+ is no longer exported`), 'logged');
  });
}
