/**
 * Our file-system check suite (fs-checks/fscheck.c) on a root served by
 * NFS-Ganesha (Debian's, VFS FSAL) instead of netboot, with dnsmasq for DHCP
 * and TFTP: it shows which checks an NFSv3 server other than ours fails
 * (NFS3_CANNOT names those no NFSv3 server can pass). Ganesha runs without
 * NLM here, so the lock checks do not run. Not part of `npm test` (it needs
 * nfs-ganesha and nfs-ganesha-vfs); run it by hand:
 *
 *   TS_NODE_PROJECT=tsconfig.test.json npx tap --timeout=900 test/e2e/guest-fscheck-ganesha.ts
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePrograms } from '../support/programs.js';
import { prepareGuest } from './guest.js';
import { checkResults, CHECK_IDS, compileChecker, installChecker, NFS3_CANNOT } from './fs-checks/suite.js';
import { startReferenceDnsmasq } from './reference-dnsmasq.js';
import { startReferenceGanesha } from './reference-ganesha.js';
import { bootAndCheck, writeScenario } from './scenario.js';
import { createVmNetwork } from './vm.js';

t.setTimeout(900_000);

const progs = requirePrograms(t, {
  'qemu-system-x86_64': 'qemu-system-x86',
  dnsmasq: 'dnsmasq-base',
  'ganesha.nfsd': 'nfs-ganesha',
  rpcbind: 'rpcbind',
  rpcinfo: 'rpcbind',
  'apt-get': 'apt',
  dpkg: 'dpkg',
  unshare: 'util-linux',
  gcc: 'gcc',
});

if (progs) {
  t.test('the check suite on a root served by NFS-Ganesha', async (t) => {
    const guest = await prepareGuest((l) => t.comment(l));
    const net = createVmNetwork(t, { subnet: 84, guests: 1 });
    const work = mkdtempSync(join(tmpdir(), 'nb-e2e-fscheck-ganesha-'));
    t.teardown(() => rmSync(work, { recursive: true, force: true }));
    const scenario = writeScenario(work, guest, net);
    const node = scenario.cases[0]!;
    const checker = join(work, 'fscheck');
    compileChecker(progs.gcc, checker);
    installChecker(node.root.dir, checker);

    const { running: dnsmasq, log: dnsmasqLog } = await startReferenceDnsmasq(t, progs.dnsmasq, net, scenario, work);
    const ganesha = await startReferenceGanesha(t, progs, net, [{ dir: node.root.dir, ip: node.ip }], work);

    const server = {
      log: dnsmasqLog,
      ack: (ip: string) => new RegExp(`DHCPACK\\(${net.iface}\\) ${ip.replace(/\./g, '\\.')} `),
      output: () => `--- dnsmasq:\n${dnsmasq.output()}\n--- ganesha:\n${ganesha.output()}`,
    };
    const result = await bootAndCheck(t, net, net.taps[0]!, node, server, 800_000);
    t.match(result.serial, /FSCHECK-END ok=\d+ fail=\d+/, 'the checker ran to its end');
    const { passed, failed } = checkResults(result.serial);
    const ran = CHECK_IDS.filter((id) => passed.has(id) || failed.has(id));
    for (const [id, what] of failed) t.comment(`${id} fails on Ganesha: ${what}${NFS3_CANNOT[id] ? ` (no NFSv3 server can pass it: ${NFS3_CANNOT[id]})` : ''}`);
    process.stderr.write(`e2e fscheck on NFS-Ganesha: ${passed.size} of ${ran.length} run pass (lock checks not run); failing: ${[...failed.keys()].join(' ')}\n`);
  });
}
