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
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePrograms } from '../support/programs.js';
import { prepareGuest } from './guest.js';
import { bootAll, PARALLEL_BOOTS, writeScenario } from './scenario.js';
import { startReferenceDnsmasq } from './reference-dnsmasq.js';
import { startReferenceGanesha } from './reference-ganesha.js';
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
});

if (progs) {
  const guest = await prepareGuest((l) => t.comment(l));
  t.comment(`guest: ${guest.packages.join(' ')}; modules ${guest.modules.join(' ')}`);
  const net = createVmNetwork(t, { subnet: 1, guests: PARALLEL_BOOTS });
  const work = mkdtempSync(join(tmpdir(), 'nb-e2e-ref-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const scenario = writeScenario(work, guest, net);

  const { running: dnsmasq, log: dnsmasqLog } = await startReferenceDnsmasq(t, progs.dnsmasq, net, scenario, work);

  const ganesha = await startReferenceGanesha(t, progs, net, scenario.cases.map((c) => ({ dir: c.root.dir, ip: c.ip })), work);

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
