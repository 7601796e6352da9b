import { readFile } from 'node:fs/promises';
import { parseConfig } from '@netboot/dhcp-wire';
import { loadExports } from '@netboot/mountd';
import { realRoot } from '@netboot/tftp-wire';
import { type Command, UsageError, parseFlags, stringFlag } from '../command.js';
import { checkNode } from '../doctor/node-checks.js';
import { nodesOf } from '../doctor/dhcp-nodes.js';
import { peerDifferences } from '../doctor/peer-config.js';
import { doctorLive, doctorLiveUsage } from './doctor-live.js';
import { platformLines } from '../platform-line.js';

const usage = `usage: netboot doctor --dhcp-conf FILE --tftp-root DIR --exports FILE [--http-root DIR] [--http-url-prefix URL]

Reads dhcpd.conf, the exports and the TFTP root the way netboot serve would,
and checks, for every host declaration, everything its boot needs: the boot
file it would get as a BIOS PXE node, a UEFI PXE node, an iPXE node and a UEFI
HTTP Boot node (the config's classes and if/else evaluated on the DISCOVER
each sends) and whether that file is under the TFTP root (or, for an http://
URL, under the HTTP root), the pxelinux config it gets, the kernel and initrd that config names,
that its nfsroot is exported to its fixed address read-write with
no_root_squash, that its root has the guide's directories and dev/console,
and that its etc/fstab mounts only paths exported to it. Each problem comes
with its fix; the exit status is 1 when a node can't boot. It says first
whether the native platform module is in use, and if not, what that costs.

flags:
  --dhcp-conf FILE   the ISC dhcpd.conf (default /etc/dhcp/dhcpd.conf)
  --tftp-root DIR    the TFTP root (default /diskless)
  --exports FILE     the exports file (default /etc/exports)
  --http-root DIR    where http:// boot file URLs are served from (default: the TFTP root, as netboot serve --http-port serves it)
  --http-url-prefix URL
                     the URL that maps to the HTTP root, e.g. http://198.18.0.1/ (default: a URL's path is looked up under the HTTP root)
  --peer-dhcp-conf FILE
                     the other master's dhcpd.conf, when two share one --lease-store:
                     checks both declare the same subnets, ranges and fixed hosts
  (other netboot serve flags are accepted and ignored, so the same line works for both)

${doctorLiveUsage}`;

export const doctor: Command = {
  name: 'doctor',
  summary: 'check that every node in dhcpd.conf can boot, and say how to fix what stops it',
  usage,
  async run(argv) {
    if (argv.includes('--live')) return doctorLive(argv);
    const flags = parseFlags(argv, {
      'dhcp-conf': { type: 'string' },
      'tftp-root': { type: 'string' },
      exports: { type: 'string' },
      config: { type: 'string' },
      interface: { type: 'string' },
      listen: { type: 'string' },
      'state-dir': { type: 'string' },
      'tftp-remap': { type: 'string' },
      leases: { type: 'string' },
      'http-port': { type: 'string' },
      'http-root': { type: 'string' },
      'http-url-prefix': { type: 'string' },
      'peer-dhcp-conf': { type: 'string' },
      'lease-store': { type: 'string' },
    });
    if (stringFlag(flags, 'config')) throw new UsageError('doctor reads --dhcp-conf, --tftp-root and --exports directly; --config is not supported here yet');
    const dhcpFile = stringFlag(flags, 'dhcp-conf') ?? '/etc/dhcp/dhcpd.conf';
    const exportsFile = stringFlag(flags, 'exports') ?? '/etc/exports';
    const tftpRootFlag = stringFlag(flags, 'tftp-root') ?? '/diskless';

    const config = parseConfig(await readFile(dhcpFile, 'utf8'), dhcpFile);
    const exports = await loadExports(exportsFile);
    const tftpRoot = await realRoot(tftpRootFlag).catch(() => {
      throw new Error(`the TFTP root ${tftpRootFlag} does not exist: create it, or point --tftp-root at it`);
    });
    const httpPortFlag = stringFlag(flags, 'http-port');
    const httpPort = httpPortFlag === undefined ? undefined : Number(httpPortFlag);
    if (httpPort !== undefined && !(Number.isInteger(httpPort) && httpPort > 0 && httpPort < 65536)) throw new UsageError(`--http-port must be a port number, not "${httpPortFlag}"`);
    const httpRootFlag = stringFlag(flags, 'http-root');
    const httpRoot = httpRootFlag === undefined ? tftpRoot : await realRoot(httpRootFlag).catch(() => {
      throw new Error(`the HTTP root ${httpRootFlag} does not exist: point --http-root at the directory your HTTP server serves`);
    });
    const urlPrefix = stringFlag(flags, 'http-url-prefix');
    if (urlPrefix !== undefined && !/^https?:\/\/[^/]+\//.test(urlPrefix)) throw new UsageError(`--http-url-prefix must be a URL ending in a path, e.g. http://198.18.0.1/, not "${urlPrefix}"`);
    const http = { root: httpRoot, urlPrefix, port: httpPort };
    const { nodes, problems } = nodesOf(config);
    for (const line of platformLines()) console.log(line);
    let broken = problems.length;
    for (const p of problems) console.log(`host ${p.name}\n  FAIL  ${p.what}\n        fix: ${p.fix}`);
    if (nodes.length === 0 && problems.length === 0) {
      console.log(`${dhcpFile} declares no hosts: add a host block with hardware ethernet and fixed-address for each node (netboot add-node does it)`);
      return 1;
    }
    for (const node of nodes) {
      const findings = await checkNode({ tftpRoot, exports, exportsFile, http }, node);
      const failed = findings.filter((f) => !f.ok).length;
      if (failed > 0) broken++;
      console.log(`host ${node.name} (${node.mac}, ${node.ip}): ${failed === 0 ? 'can boot' : `${failed} problem${failed > 1 ? 's' : ''}`}`);
      for (const f of findings) {
        console.log(`  ${f.note ? 'note' : f.ok ? 'ok  ' : 'FAIL'}  ${f.what}`);
        if (f.fix) console.log(`        fix: ${f.fix}`);
      }
    }
    console.log(broken === 0 ? `all ${nodes.length} nodes can boot` : `${broken} of ${nodes.length + problems.length} nodes can't boot`);
    const peerFile = stringFlag(flags, 'peer-dhcp-conf');
    let disagree = 0;
    if (peerFile) {
      const peer = parseConfig(await readFile(peerFile, 'utf8'), peerFile);
      const diffs = peerDifferences(config, peer);
      disagree = diffs.length;
      for (const d of diffs) console.log(`peer  FAIL  ${d}\n        fix: make both files say the same: two masters on one lease database must hand out the same pool`);
      console.log(diffs.length === 0 ? `${dhcpFile} and ${peerFile} agree on subnets, ranges and fixed hosts` : `${diffs.length} difference${diffs.length > 1 ? 's' : ''} between ${dhcpFile} and ${peerFile}`);
    }
    return broken === 0 && disagree === 0 ? 0 : 1;
  },
};
