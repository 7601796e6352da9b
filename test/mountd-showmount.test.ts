import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createLink } from './support/netns.js';
import { repoRoot } from './support/paths.js';
import { run, start } from './support/processes.js';
import { requirePrograms, requireNetns } from './support/programs.js';

/*
 * Debian's showmount, rpcinfo and libnfs' nfs-ls against our mountd,
 * registered with our portmapper on port 111. Both run in a server
 * namespace the test creates; the Debian clients run in a client namespace
 * on the other end of a veth link, so they ask portmap for mountd's port
 * as they would on a real network.
 */

// One process in the server namespace: portmap on 111, mountd on a port it picks, registered for v1 and v3.
const SERVER = `
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { RpcServer } from '@netboot/oncrpc-xdr';
import { PortmapClient, PortmapServer } from '@netboot/portmap';
import { loadExports, Mountd, MOUNT_PROGRAM } from '@netboot/mountd';
const [exportsFile, stateDir] = process.argv.slice(1);
const log = (l) => console.log(l);
const portmap = new PortmapServer({ log });
await portmap.listen({ host: '0.0.0.0', port: 111 });
const rpc = new RpcServer({ log });
const mountd = new Mountd({
  exports: await loadExports(exportsFile, { warn: (w) => log('warning: ' + w.message) }),
  stateDir,
  log,
  rootHandle: async (exp) => {
    try {
      return statSync(exp.path).isDirectory() ? createHash('sha256').update(exp.path).digest() : undefined;
    } catch {
      return undefined;
    }
  },
});
mountd.register(rpc);
const port = await rpc.listen({ host: '0.0.0.0', port: 0 });
const pm = await PortmapClient.connect({});
await pm.registerService(MOUNT_PROGRAM, [1, 3], port);
pm.close();
log('mountd ready on port ' + port);
`;

t.test('showmount, rpcinfo and nfs-ls against our portmap + mountd', async (t) => {
  const progs = requirePrograms(t, { showmount: 'nfs-common', rpcinfo: 'rpcbind', 'nfs-ls': 'libnfs-utils' });
  if (!progs) return;
  if (!requireNetns(t)) return;
  const link = createLink(t, { subnet: 41, label: 'md' });
  const dir = mkdtempSync(join(tmpdir(), 'mountd-showmount-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const node = link.clientAddr;
  const srv = join(dir, 'srv');
  for (const d of [`diskless/${node}`, 'usr', 'other']) mkdirSync(join(srv, d), { recursive: true });
  const exportsFile = join(dir, 'exports');
  writeFileSync(
    exportsFile,
    [
      '# a diskless master',
      `${srv}/diskless/${node} ${node}(rw,sync,no_root_squash,no_subtree_check)`,
      `${srv}/usr ${link.serverAddr}/24(ro,sync) *.example.org(ro)`,
      `${srv}/other 198.18.1.21(rw)`,
      '',
    ].join('\n'),
  );
  const stateDir = join(dir, 'state');
  const launch = async () => {
    const p = start(t, process.execPath, ['--input-type=module', '-e', SERVER, exportsFile, stateDir], { ns: link.server, cwd: repoRoot });
    await p.waitFor(/mountd ready on port \d+/);
    return p;
  };
  let server = await launch();
  const inClient = (cmd: string, args: string[]) => run(cmd, args, { ns: link.client, timeoutMs: 20_000 });
  const host = link.serverAddr;

  const rpcinfo = await inClient(progs.rpcinfo, ['-p', host]);
  t.equal(rpcinfo.code, 0, rpcinfo.stderr);
  for (const vers of [1, 3]) {
    for (const proto of ['udp', 'tcp']) {
      t.match(rpcinfo.stdout, new RegExp(`100005\\s+${vers}\\s+${proto}\\s+\\d+\\s+mountd`), `rpcinfo -p lists mountd v${vers} ${proto}`);
    }
  }
  for (const [flag, vers] of [['-u', '1'], ['-u', '3'], ['-t', '1'], ['-t', '3']]) {
    const ping = await inClient(progs.rpcinfo, [flag, host, '100005', vers]);
    t.match(ping.stdout, new RegExp(`program 100005 version ${vers} ready and waiting`), `rpcinfo ${flag} NULL v${vers}`);
  }

  const exportsOut = await inClient(progs.showmount, ['-e', host]);
  t.equal(exportsOut.code, 0, exportsOut.stderr);
  t.match(exportsOut.stdout, `Export list for ${host}:`);
  t.match(exportsOut.stdout, new RegExp(`^${srv}/diskless/${node}\\s+${node}$`, 'm'), 'showmount -e lists the node root with its client');
  t.match(exportsOut.stdout, new RegExp(`^${srv}/usr\\s+${host}/24,\\*\\.example\\.org$`, 'm'), 'and every client spec of /usr');
  t.match(exportsOut.stdout, new RegExp(`^${srv}/other\\s+198\\.18\\.1\\.21$`, 'm'));

  // libnfs mounts (MNT v3, from a reserved port as root), then fails at NFS, which this test does not serve.
  const granted = await inClient(progs['nfs-ls'], [`nfs://${host}${srv}/diskless/${node}`]);
  t.not(granted.code, 0);
  await server.waitFor(new RegExp(`mount request from ${node}:\\d+ for ${srv}/diskless/${node}: granted \\(rw`));
  const refused = await inClient(progs['nfs-ls'], [`nfs://${host}${srv}/other`]);
  t.match(refused.stderr + refused.stdout, /MNT3ERR_ACCES/, 'nfs-ls reports MNT3ERR_ACCES for an export that does not list it');
  await server.waitFor(new RegExp(`mount request from ${node}:\\d+ for ${srv}/other: refused \\(client not listed`));
  const missing = await inClient(progs['nfs-ls'], [`nfs://${host}${srv}/nowhere`]);
  t.match(missing.stderr + missing.stdout, /MNT3ERR_NOENT/, 'and MNT3ERR_NOENT for a path not exported');

  const all = await inClient(progs.showmount, ['-a', host]);
  t.equal(all.code, 0, all.stderr);
  t.match(all.stdout, new RegExp(`^${node}:${srv}/diskless/${node}$`, 'm'), 'showmount -a lists the granted mount (DUMP)');
  t.notMatch(all.stdout, `${srv}/other`);

  // Restart: the mount list comes back from the state directory.
  await server.stop();
  server = await launch();
  const after = await inClient(progs.showmount, ['-d', host]);
  t.equal(after.code, 0, after.stderr);
  t.match(after.stdout, new RegExp(`^${srv}/diskless/${node}$`, 'm'), 'showmount -d after a restart still lists the mounted directory');
  await server.stop();
});
