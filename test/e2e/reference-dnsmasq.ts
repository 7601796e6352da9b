import type { Test } from 'tap';
import { join } from 'node:path';
import { start, type Running } from '../support/processes.js';
import type { Scenario } from './scenario.js';
import { StampedLog, type VmNetwork } from './vm.js';

/**
 * dnsmasq as the reference DHCP and TFTP server of a boot scenario, for the
 * hand-run boots that put netboot's pieces beside Debian's: each node's fixed
 * address by MAC, pxelinux.0 from the scenario's TFTP root, every exchange
 * logged. Resolves once its TFTP server is up; stopped by the test.
 */
export async function startReferenceDnsmasq(
  t: Test,
  dnsmasq: string,
  net: VmNetwork,
  scenario: Scenario,
  work: string,
): Promise<{ running: Running; log: StampedLog }> {
  const running = start(
    t,
    dnsmasq,
    [
      '--no-daemon',
      '--conf-file=/dev/null',
      '--port=0',
      '--user=root',
      '--group=root',
      `--interface=${net.iface}`,
      '--bind-interfaces',
      `--dhcp-range=${net.address(100)},${net.address(200)},255.255.255.0,1h`,
      ...scenario.cases.map((c) => `--dhcp-host=${c.mac},${c.ip}`),
      `--dhcp-boot=pxelinux.0,,${net.serverAddr}`,
      `--dhcp-leasefile=${join(work, 'dnsmasq.leases')}`,
      '--pid-file=',
      '--enable-tftp',
      `--tftp-root=${scenario.tftpRoot}`,
      '--log-dhcp',
      '--log-facility=-',
    ],
    { ns: net.ns },
  );
  const log = new StampedLog(running);
  await running.waitFor(/TFTP root is/);
  return { running, log };
}
