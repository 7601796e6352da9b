/**
 * The same diskless boot as pxe-boot.test.ts, served by Debian's reference
 * servers instead of netboot: dnsmasq (DHCP + TFTP) and NFS-Ganesha (NFSv3)
 * with rpcbind. It proves the guest and the harness, so a failure of the
 * real test is netboot's. Not part of `npm test` (needs dnsmasq-base,
 * nfs-ganesha, nfs-ganesha-vfs); run it by hand:
 *
 *   TS_NODE_PROJECT=tsconfig.test.json npx tap --timeout=600 test/e2e/reference-boot.ts
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePrograms } from '../support/programs.js';
import { start } from '../support/processes.js';
import { prepareGuest } from './guest.js';
import { readReply, writeNodeRoot } from './node-root.js';
import { writePxelinuxConfig, writeTftpRoot, type ConfigLookup } from './tftp-root.js';
import { createVmNetwork, formatTimes, StampedLog, startVm, waitForBoot } from './vm.js';

const IPXE_ROM = '/usr/lib/ipxe/qemu/pxe-virtio.rom';
const MAC = '52:54:00:e2:e0:01';

t.setTimeout(600_000);

const progs = requirePrograms(t, {
  'qemu-system-x86_64': 'qemu-system-x86',
  dnsmasq: 'dnsmasq-base',
  'ganesha.nfsd': 'nfs-ganesha',
  rpcbind: 'rpcbind',
  'apt-get': 'apt',
  'dpkg': 'dpkg',
  unshare: 'util-linux',
});

if (progs) {
  const guest = await prepareGuest((l) => t.comment(l));
  t.comment(`guest: ${guest.packages.join(' ')}; modules ${guest.modules.join(' ')}`);
  const net = createVmNetwork(t, { subnet: 1 });
  const nodeIp = net.address(10);
  const work = mkdtempSync(join(tmpdir(), 'nb-e2e-ref-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const tftpRoot = join(work, 'tftpboot');
  writeTftpRoot(tftpRoot, guest);
  const rootPath = join(work, 'diskless', nodeIp);

  const dnsmasq = start(
    t,
    progs.dnsmasq,
    [
      '--no-daemon',
      '--conf-file=/dev/null',
      '--port=0',
      '--user=root',
      '--group=root',
      `--interface=${net.tap}`,
      '--bind-interfaces',
      `--dhcp-range=${net.address(100)},${net.address(200)},255.255.255.0,1h`,
      `--dhcp-host=${MAC},${nodeIp}`,
      `--dhcp-boot=pxelinux.0,,${net.serverAddr}`,
      `--dhcp-leasefile=${join(work, 'dnsmasq.leases')}`,
      '--pid-file=',
      '--enable-tftp',
      `--tftp-root=${tftpRoot}`,
      '--log-dhcp',
      '--log-facility=-',
    ],
    { ns: net.ns },
  );
  const dnsmasqLog = new StampedLog(dnsmasq);
  await dnsmasq.waitFor(/started, version|DHCP, IP range/);

  // Ganesha registers MOUNT and NFS with rpcbind over rpcbind's socket in
  // /run: both get one private /run of their own.
  mkdirSync(rootPath, { recursive: true });
  const ganeshaConf = join(work, 'ganesha.conf');
  writeFileSync(
    ganeshaConf,
    `NFS_CORE_PARAM {
  Protocols = 3;
  Bind_addr = ${net.serverAddr};
  NFS_Port = 2049;
  MNT_Port = 20048;
  Enable_NLM = false;
  Enable_RQUOTA = false;
}
NFSV4 { Graceless = true; }
NFS_KRB5 { Active_krb5 = false; }
EXPORT {
  Export_Id = 1;
  Path = ${rootPath};
  Pseudo = ${rootPath};
  Protocols = 3;
  Transports = TCP, UDP;
  Access_Type = NONE;
  Squash = No_Root_Squash;
  SecType = sys;
  FSAL { Name = VFS; }
  CLIENT { Clients = ${nodeIp}; Access_Type = RW; }
}
LOG { Default_Log_Level = EVENT; }
`,
  );
  const script = [
    'set -e',
    'mount -t tmpfs tmpfs /run',
    'mkdir -p /run/ganesha',
    `${progs.rpcbind} -f -w &`,
    'sleep 0.5',
    `exec ${progs['ganesha.nfsd']} -F -L STDERR -f ${ganeshaConf} -p /run/ganesha/ganesha.pid -N NIV_EVENT`,
  ].join('\n');
  const ganesha = start(t, progs.unshare, ['-m', '--propagation', 'private', 'sh', '-c', script], { ns: net.ns });
  await ganesha.waitFor(/NFS SERVER INITIALIZED|Startup complete|-------------------------------------------------/, 30_000);

  const boots: { lookup: ConfigLookup; nfsOptions: string }[] = [
    { lookup: 'mac', nfsOptions: 'vers=3,tcp' },
    { lookup: 'hexip', nfsOptions: 'vers=3,tcp' },
    { lookup: 'default', nfsOptions: 'vers=3,tcp' },
    { lookup: 'mac', nfsOptions: 'vers=3,tcp,mountproto=udp' },
  ];
  const only = process.env.E2E_BOOTS ? Number(process.env.E2E_BOOTS) : boots.length;
  for (const boot of boots.slice(0, only)) {
    const label = `${boot.lookup} ${boot.nfsOptions}`;
    await t.test(`reference boot: config by ${label}`, async (t) => {
      const request = randomBytes(8).toString('hex');
      const root = writeNodeRoot(rootPath, guest, request);
      const cfg = writePxelinuxConfig(tftpRoot, {
        lookup: boot.lookup,
        mac: MAC,
        ip: nodeIp,
        server: net.serverAddr,
        rootPath,
        nfsOptions: boot.nfsOptions,
      });
      const vm = startVm(t, { net, mac: MAC, rom: IPXE_ROM });
      const result = await waitForBoot(vm, { timeoutMs: 180_000, serverLog: dnsmasqLog, serverAck: /DHCPACK/ });
      t.comment(formatTimes(`${cfg}, ${boot.nfsOptions}`, result.seconds));
      if (result.outcome !== 'done') {
        const dump = join(tmpdir(), `nb-e2e-ref-${boot.lookup}.log`);
        writeFileSync(dump, `serial:\n${result.serial}\n--- dnsmasq:\n${dnsmasq.output()}\n--- ganesha:\n${ganesha.output()}`);
        t.comment(`boot ${result.outcome}; serial console and server logs in ${dump}`);
      }
      t.equal(result.outcome, 'done', 'the guest reached its marker and powered off');
      t.match(result.serial, new RegExp(`E2E-DHCP ip=${nodeIp.replace(/\./g, '\\.')} `), 'the second DHCP got the fixed address');
      t.match(result.serial, `e2e.config=${boot.lookup}`, 'booted with the config found by this lookup');
      t.match(result.serial, `E2E-READ ${request}`, 'the node read the file the test wrote');
      t.equal(readReply(root), `reply:${request}\n`, 'the node wrote its reply into its root');
      if (boot.nfsOptions.includes('mountproto=udp')) t.match(result.serial, /E2E-NFSROOT .*mountproto=udp/);
    });
  }
}
