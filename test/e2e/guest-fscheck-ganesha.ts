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
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePrograms } from '../support/programs.js';
import { run, start } from '../support/processes.js';
import { prepareGuest } from './guest.js';
import { checkResults, CHECK_IDS, compileChecker, installChecker, NFS3_CANNOT } from './fs-checks/suite.js';
import { startReferenceDnsmasq } from './reference-dnsmasq.js';
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
    const conf = join(work, 'ganesha.conf');
    writeFileSync(
      conf,
      `NFS_CORE_PARAM { Protocols = 3; Bind_addr = ${net.serverAddr}; NFS_Port = 2049; MNT_Port = 20048; Enable_NLM = false; Enable_RQUOTA = false; }
NFSV4 { Graceless = true; }
NFS_KRB5 { Active_krb5 = false; }
LOG { Default_Log_Level = EVENT; }
EXPORT {
  Export_Id = 1; Path = ${node.root.dir}; Pseudo = ${node.root.dir}; Protocols = 3; Transports = TCP, UDP;
  Access_Type = NONE; Squash = No_Root_Squash; SecType = sys; FSAL { Name = VFS; }
  CLIENT { Clients = ${node.ip}; Access_Type = RW; }
}
`,
    );
    // Ganesha registers with rpcbind through its socket under /run, which is not per namespace: both get a private /run.
    const script = [
      'set -e',
      'mount -t tmpfs tmpfs /run',
      'mkdir -p /run/ganesha',
      `${progs.rpcbind} -f -d > /dev/null &`,
      'for i in $(seq 50); do [ -S /run/rpcbind.sock ] && break; sleep 0.1; done',
      `exec ${progs['ganesha.nfsd']} -F -L STDERR -f ${conf} -p /run/ganesha/ganesha.pid -N NIV_EVENT`,
    ].join('\n');
    const ganesha = start(t, progs.unshare, ['-m', '--propagation', 'private', 'sh', '-c', script], { ns: net.ns });
    await ganesha.waitFor(/NFS SERVER INITIALIZED/, 60_000);
    const registered = await run(progs.rpcinfo, ['-p', net.serverAddr], { ns: net.ns, timeoutMs: 10_000 });
    t.match(registered.stdout, /100003\s+3\s+tcp\s+2049\s+nfs/, 'Ganesha registered NFS v3 with rpcbind');

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
