/**
 * The same diskless boots as pxe-boot.test.ts, served by Debian's reference
 * servers instead of netboot: dnsmasq (DHCP + TFTP) and NFS-Ganesha (NFSv3)
 * with rpcbind. It proves the guest and the harness, so a failure of the
 * real test is netboot's. Not part of `npm test` (it needs dnsmasq-base,
 * nfs-ganesha and nfs-ganesha-vfs); run it by hand:
 *
 *   TS_NODE_PROJECT=tsconfig.test.json npx tap --timeout=900 test/e2e/reference-boot.ts
 *
 * E2E_BOOTS=N runs only the first N boots; E2E_JOBS=N boots N guests at once (default 2).
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePrograms } from '../support/programs.js';
import { run, start } from '../support/processes.js';
import { prepareGuest } from './guest.js';
import { bootAll, PARALLEL_BOOTS, writeScenario, type BootCase } from './scenario.js';
import { startReferenceDnsmasq } from './reference-dnsmasq.js';
import { createVmNetwork, type VmNetwork } from './vm.js';

t.setTimeout(900_000);

function ganeshaConfig(net: VmNetwork, cases: BootCase[]): string {
  const exports = cases.map(
    (c, i) => `EXPORT {
  Export_Id = ${i + 1};
  Path = ${c.root.dir};
  Pseudo = ${c.root.dir};
  Protocols = 3;
  Transports = TCP, UDP;
  Access_Type = NONE;
  Squash = No_Root_Squash;
  SecType = sys;
  FSAL { Name = VFS; }
  CLIENT { Clients = ${c.ip}; Access_Type = RW; }
}
`,
  );
  return `NFS_CORE_PARAM {
  Protocols = 3;
  Bind_addr = ${net.serverAddr};
  NFS_Port = 2049;
  MNT_Port = 20048;
  Enable_NLM = false;
  Enable_RQUOTA = false;
}
NFSV4 { Graceless = true; }
NFS_KRB5 { Active_krb5 = false; }
LOG { Default_Log_Level = EVENT; }
${exports.join('')}`;
}

const progs = requirePrograms(t, {
  'qemu-system-x86_64': 'qemu-system-x86',
  dnsmasq: 'dnsmasq-base',
  'ganesha.nfsd': 'nfs-ganesha',
  rpcbind: 'rpcbind',
  rpcinfo: 'rpcbind',
  'apt-get': 'apt',
  dpkg: 'dpkg',
  unshare: 'util-linux',
});

if (progs) {
  const guest = await prepareGuest((l) => t.comment(l));
  t.comment(`guest: ${guest.packages.join(' ')}; modules ${guest.modules.join(' ')}`);
  const net = createVmNetwork(t, { subnet: 1, guests: PARALLEL_BOOTS });
  const work = mkdtempSync(join(tmpdir(), 'nb-e2e-ref-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const scenario = writeScenario(work, guest, net);

  const { running: dnsmasq, log: dnsmasqLog } = await startReferenceDnsmasq(t, progs.dnsmasq, net, scenario, work);

  // Ganesha registers MOUNT and NFS with rpcbind through rpcbind's socket
  // under /run, which is not per namespace: both get a private /run.
  const ganeshaConf = join(work, 'ganesha.conf');
  writeFileSync(ganeshaConf, ganeshaConfig(net, scenario.cases));
  const script = [
    'set -e',
    'mount -t tmpfs tmpfs /run',
    'mkdir -p /run/ganesha',
    // -d keeps rpcbind's complaints on stderr rather than in a syslog nobody reads.
    `${progs.rpcbind} -f -d > /dev/null &`,
    'for i in $(seq 50); do [ -S /run/rpcbind.sock ] && break; sleep 0.1; done',
    '[ -S /run/rpcbind.sock ] || { echo "rpcbind did not start" >&2; exit 1; }',
    'echo "rpcbind is up"',
    `exec ${progs['ganesha.nfsd']} -F -L STDERR -f ${ganeshaConf} -p /run/ganesha/ganesha.pid -N NIV_EVENT`,
  ].join('\n');
  const ganesha = start(t, progs.unshare, ['-m', '--propagation', 'private', 'sh', '-c', script], { ns: net.ns });
  await ganesha.waitFor(/NFS SERVER INITIALIZED/, 30_000);
  // Ganesha carries on when it can't register; a boot would then fail at the portmapper.
  const registered = await run(progs.rpcinfo, ['-p', net.serverAddr], { ns: net.ns, timeoutMs: 10_000 });
  t.match(registered.stdout, /100005\s+3\s+tcp\s+20048\s+mountd/, 'Ganesha registered MOUNT v3 with rpcbind');
  t.match(registered.stdout, /100003\s+3\s+tcp\s+2049\s+nfs/, 'Ganesha registered NFS v3 with rpcbind');

  const server = {
    log: dnsmasqLog,
    ack: (ip: string) => new RegExp(`DHCPACK\\(${net.iface}\\) ${ip.replace(/\./g, '\\.')} `),
    output: () => `--- dnsmasq:\n${dnsmasq.output()}\n--- ganesha:\n${ganesha.output()}`,
  };
  const only = process.env.E2E_BOOTS ? Number(process.env.E2E_BOOTS) : scenario.cases.length;
  await t.test('boots served by dnsmasq and Ganesha', { jobs: PARALLEL_BOOTS }, (t) =>
    bootAll(t, net, scenario.cases.slice(0, only), server),
  );
}
