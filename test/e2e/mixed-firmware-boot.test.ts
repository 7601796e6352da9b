/**
 * BIOS, UEFI PXE, iPXE-over-HTTP and UEFI HTTP Boot nodes booting from one
 * `netboot serve`, in the namespace and bridge the diskless test uses. The
 * dhcpd.conf gives each firmware its own boot file by client architecture
 * (option 93, pxe-system-type): a BIOS node (SeaBIOS, iPXE's legacy ROM)
 * gets pxelinux.0, a UEFI node (OVMF, iPXE's EFI driver) gets syslinux.efi,
 * which reads the same pxelinux.cfg/ names and loads the same kernel and
 * initrd over TFTP. A third node's host block, with ISC's `if exists
 * user-class and option user-class = "iPXE"` idiom, hands iPXE an http://
 * URL to a script that fetches kernel and initrd over HTTP from the same
 * process (after fetching them once over TFTP, so the two transports are
 * timed by the same client in the same boot). A fourth, OVMF with no option
 * ROM, does UEFI HTTP Boot with the firmware's own network stack: vendor
 * class HTTPClient gets iPXE's snponly.efi as a URL, and that iPXE gets its
 * script. A fifth, OVMF with no option ROM and its PXE left on, boots by
 * the firmware's own PXE: syslinux.efi over TFTP, after the tsize probe
 * EDK2's TFTP client sends and aborts on purpose. Every node mounts its own
 * root over NFSv3, reads the file the test wrote and writes its reply, then
 * keeps writing for a few seconds, so its row in `netboot status` reaches
 * `up`.
 */
import t, { type Test } from 'tap';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePrograms, requireNetns, requireThat } from '../support/programs.js';
import { run, start } from '../support/processes.js';
import type { StatusNode } from '../support/boot-lab.js';
import { netbootCli } from '../support/paths.js';
import { prepareGuest } from './guest.js';
import { readReply, writeNodeRoot, type NodeRoot } from './node-root.js';
import { IPXE_ROM, PARALLEL_BOOTS } from './scenario.js';
import { writePxelinuxConfig, writeTftpRoot } from './tftp-root.js';
import { IPXE_EFI_ROM, OVMF_CODE, OVMF_VARS, prepareUefiLoader } from './uefi-loader.js';
import { createVmNetwork, startVm, StampedLog, waitForBoot, type BootResult, type Vm, type VmNetwork } from './vm.js';
import { takeVmSlot } from './vm-slots.js';

// Five TCG boots, two at a time (each allowed 300 s: a loaded machine slows TCG several times over),
// plus fetching the guest and the loaders on a cold cache.
t.setTimeout(1_500_000);

const HTTP_PORT = 8080;
/** The status port, on the loopback of the test's own namespace. */
const STATUS_PORT = 19470;

/**
 * bios: SeaBIOS + iPXE's legacy ROM, PXE. uefi: OVMF + iPXE's EFI driver, PXE.
 * ipxe-http: like bios, but iPXE is sent to a script over HTTP. uefi-http:
 * OVMF's own network stack (no option ROM), UEFI HTTP Boot. uefi-pxe: OVMF's
 * own network stack, PXE.
 */
type Kind = 'bios' | 'uefi' | 'ipxe-http' | 'uefi-http' | 'uefi-pxe';

interface Node {
  name: string;
  kind: Kind;
  mac: string;
  ip: string;
  root: NodeRoot;
  /** The first file its DHCP answer points it at. */
  bootFile: string;
  /** What `e2e.config=` on its kernel command line says. */
  label: string;
  /** The iPXE script's URL, for the nodes that run one. */
  script?: string;
}

function dhcpdConf(net: VmNetwork, nodes: Node[]): string {
  const host = (n: Node, extra = '') => `
  host ${n.name} {
    hardware ethernet ${n.mac};
    fixed-address     ${n.ip};
    option root-path  "${n.root.dir}";${extra}
  }
`;
  return `# One network, five kinds of boot client: the boot file follows option 93 (RFC 4578),
# and for two hosts the user class (iPXE) and vendor class (HTTPClient).
ddns-update-style none;
option routers ${net.serverAddr};
next-server ${net.serverAddr};

subnet ${net.address(0)} netmask 255.255.255.0 {
  class "pxe-bios" {
    match if option pxe-system-type = 00:00;
    filename "pxelinux.0";
  }
  class "pxe-uefi-x64" {
    match if option pxe-system-type = 00:07;
    filename "syslinux.efi";
  }
${nodes.map((n) => host(n, hostBoot(n))).join('')}}
`;
}

/** The host-scoped boot statements of the HTTP nodes, in ISC's idioms. */
function hostBoot(n: Node): string {
  if (n.kind === 'ipxe-http') {
    return `
    # ISC's chainloading idiom: iPXE (whatever ROM it came from) gets its script over
    # HTTP; a plain PXE ROM would first get iPXE itself.
    if exists user-class and option user-class = "iPXE" {
      filename "${n.bootFile}";
    } else {
      filename "undionly.kpxe";
    }`;
  }
  if (n.kind === 'uefi-http') {
    return `
    # UEFI HTTP Boot firmware gets iPXE as a URL; iPXE then gets its script.
    if exists user-class and option user-class = "iPXE" {
      filename "${n.script}";
    } elsif substring(option vendor-class-identifier, 0, 10) = "HTTPClient" {
      filename "${n.bootFile}";
    }`;
  }
  return '';
}

/**
 * The iPXE node's script: kernel and initrd over TFTP first (timed, then
 * dropped), then over HTTP, which it boots. Markers on the serial console
 * bracket each fetch.
 */
function ipxeScript(net: VmNetwork, n: Node): string {
  const args = `console=ttyS0 ip=dhcp root=/dev/nfs nfsroot=${net.serverAddr}:${n.root.dir},vers=3,tcp rw e2e.config=${n.label}`;
  const http = `http://${net.serverAddr}:${HTTP_PORT}`;
  return `#!ipxe
echo E2E-FETCH-TFTP
imgfetch tftp://${net.serverAddr}/vmlinuz || goto failed
imgfetch tftp://${net.serverAddr}/initrd.gz || goto failed
echo E2E-FETCHED-TFTP
imgfree
echo E2E-FETCH-HTTP
kernel ${http}/vmlinuz ${args} || goto failed
initrd ${http}/initrd.gz || goto failed
echo E2E-FETCHED-HTTP
boot || goto failed
:failed
echo E2E-FAIL the iPXE script stopped
`;
}

/** The UEFI HTTP node's script: kernel and initrd over HTTP (the EFI stub takes the initrd by name). */
function uefiHttpScript(net: VmNetwork, n: Node): string {
  const http = `http://${net.serverAddr}:${HTTP_PORT}`;
  return `#!ipxe
kernel ${http}/vmlinuz initrd=initrd.gz console=ttyS0 ip=dhcp root=/dev/nfs nfsroot=${net.serverAddr}:${n.root.dir},vers=3,tcp rw e2e.config=${n.label} || goto failed
initrd ${http}/initrd.gz || goto failed
boot || goto failed
:failed
echo E2E-FAIL the iPXE script stopped
`;
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

t.test('BIOS, UEFI PXE (iPXE and OVMF), iPXE-over-HTTP and UEFI HTTP Boot nodes boot from one netboot serve', { jobs: PARALLEL_BOOTS }, async (t) => {
  if (!requireNetns(t)) return;
  const progs = requirePrograms(t, { 'qemu-system-x86_64': 'qemu-system-x86', 'apt-get': 'apt', dpkg: 'dpkg' });
  if (!progs) return;
  for (const [file, pkg] of [[IPXE_ROM, 'ipxe-qemu'], [IPXE_EFI_ROM, 'ipxe-qemu'], [OVMF_CODE, 'ovmf'], [OVMF_VARS, 'ovmf']]) {
    if (!requireThat(t, existsSync(file), `missing ${file} (Debian package ${pkg}): apt-get install it to run this test`)) return;
  }
  const guest = await prepareGuest((line) => t.comment(line));
  const loader = await prepareUefiLoader((line) => t.comment(line));
  t.comment(`guest: ${guest.packages.join(' ')}; UEFI loader: ${loader.packages.join(' ')}`);

  const net = createVmNetwork(t, { subnet: 1, guests: PARALLEL_BOOTS });
  const work = mkdtempSync(join(tmpdir(), 'nb-e2e-mixed-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const tftpRoot = join(work, 'tftpboot');
  writeTftpRoot(tftpRoot, guest);
  copyFileSync(loader.syslinuxEfi, join(tftpRoot, 'syslinux.efi'));
  copyFileSync(loader.ldlinuxE64, join(tftpRoot, 'ldlinux.e64'));
  copyFileSync(loader.snponlyEfi, join(tftpRoot, 'snponly.efi'));

  const url = (file: string) => `http://${net.serverAddr}:${HTTP_PORT}/${file}`;
  const node = (i: number, name: string, kind: Kind, bootFile: string, script?: string): Node => {
    const ip = net.address(20 + i);
    const root = writeNodeRoot(join(work, 'diskless', ip), guest, randomBytes(8).toString('hex'));
    return { name, kind, mac: `52:54:00:e2:e1:${(i + 1).toString(16).padStart(2, '0')}`, ip, root, bootFile, label: kind, script };
  };
  const nodes = [
    node(0, 'bios1', 'bios', 'pxelinux.0'),
    node(1, 'uefi1', 'uefi', 'syslinux.efi'),
    node(2, 'ipxe1', 'ipxe-http', url('boot.ipxe')),
    node(3, 'uefihttp1', 'uefi-http', url('snponly.efi'), url('uefi-http.ipxe')),
    node(4, 'uefipxe1', 'uefi-pxe', 'syslinux.efi'),
  ];
  for (const n of nodes.filter((n) => n.kind === 'bios' || n.kind === 'uefi' || n.kind === 'uefi-pxe')) {
    writePxelinuxConfig(tftpRoot, { lookup: 'mac', mac: n.mac, ip: n.ip, server: net.serverAddr, rootPath: n.root.dir, nfsOptions: 'vers=3,tcp', label: n.label });
  }
  writeFileSync(join(tftpRoot, 'boot.ipxe'), ipxeScript(net, nodes[2]!));
  writeFileSync(join(tftpRoot, 'uefi-http.ipxe'), uefiHttpScript(net, nodes[3]!));
  const dhcpConf = join(work, 'dhcpd.conf');
  const exports = join(work, 'exports');
  writeFileSync(dhcpConf, dhcpdConf(net, nodes));
  writeFileSync(exports, nodes.map((n) => `${n.root.dir}   ${n.ip}(sync,rw,no_root_squash,no_subtree_check)\n`).join(''));

  const serve = start(
    t,
    process.execPath,
    [
      netbootCli, 'serve',
      '--dhcp-conf', dhcpConf,
      '--interface', net.iface,
      '--tftp-root', tftpRoot,
      '--http-port', String(HTTP_PORT),
      '--exports', exports,
      '--listen', net.serverAddr,
      '--state-dir', join(work, 'state'),
      '--status-port', String(STATUS_PORT),
      '--verbose',
    ],
    { ns: net.ns },
  );
  const log = new StampedLog(serve);
  try {
    await serve.waitFor(/netboot serve: running/, 30_000);
  } catch (e) {
    t.fail(`netboot serve did not start: ${(e as Error).message}`);
    return;
  }

  const free = [...net.taps];
  await Promise.all(
    nodes.map((n) =>
      t.test(`${n.name} (${n.kind}): boot file ${n.bootFile}`, async (t) => {
        const tap = free.shift();
        if (!tap) throw new Error(`more boots at once than the ${net.taps.length} tap devices`);
        try {
          await bootNode(t, net, tap, n, log, serve.output, work);
        } finally {
          free.push(tap);
        }
      }),
    ),
  );

  // Each node's whole timeline, in order, as `netboot status --json` gives it.
  const status = await run(process.execPath, [netbootCli, 'status', '--json', '--url', `http://127.0.0.1:${STATUS_PORT}`], { ns: net.ns, timeoutMs: 20_000 });
  t.equal(status.code, 0, `netboot status --json: ${status.stderr}`);
  const seen = status.code === 0 ? (JSON.parse(status.stdout) as { nodes: StatusNode[] }).nodes : [];
  for (const n of nodes) checkTimeline(t, n, seen.find((s) => s.mac === n.mac));
  t.equal(await serve.stop(10_000), 0, 'netboot serve exits 0 on SIGTERM');
});

/**
 * The firmware the model names for each kind: QEMU's iPXE ROMs (legacy and
 * EFI) do the DHCP themselves and say so in option 77; with no ROM, OVMF's
 * own stack asks as HTTPClient, and the iPXE it loads is part of that boot,
 * or as PXEClient with architecture 7: UEFI.
 */
const FIRMWARE: Record<Kind, string> = { bios: 'iPXE', uefi: 'iPXE', 'ipxe-http': 'iPXE', 'uefi-http': 'HTTP Boot', 'uefi-pxe': 'UEFI' };

/**
 * The files each firmware fetches, in the order it fetches them, as
 * `protocol file outcome` (others may come between). OVMF asks for the boot
 * file's size first, a probe, which is normal: HTTP Boot with a HEAD, its
 * PXE with an RRQ for tsize that it aborts (ERROR 8) once the OACK says it.
 */
const FILES: Record<Kind, string[]> = {
  bios: ['tftp pxelinux.0 complete', 'tftp ldlinux.c32 complete', 'tftp vmlinuz complete', 'tftp initrd.gz complete'],
  uefi: ['tftp syslinux.efi complete', 'tftp ldlinux.e64 complete', 'tftp vmlinuz complete', 'tftp initrd.gz complete'],
  'ipxe-http': ['http boot.ipxe complete', 'tftp vmlinuz complete', 'tftp initrd.gz complete', 'http vmlinuz complete', 'http initrd.gz complete'],
  'uefi-http': ['http snponly.efi probe', 'http snponly.efi complete', 'http uefi-http.ipxe complete', 'http vmlinuz complete', 'http initrd.gz complete'],
  'uefi-pxe': ['tftp syslinux.efi probe', 'tftp syslinux.efi complete', 'tftp ldlinux.e64 complete', 'tftp vmlinuz complete', 'tftp initrd.gz complete'],
};

/** Whether `want` appears in `got` in order, other entries allowed between. */
function inOrder(got: string[], want: string[]): boolean {
  let i = 0;
  for (const g of got) if (i < want.length && g === want[i]) i++;
  return i === want.length;
}

function checkTimeline(t: Test, n: Node, node: StatusNode | undefined): void {
  t.ok(node, `${n.name}: ${n.mac} is in the status`);
  if (!node) return;
  const secs = (ms: number) => (ms / 1000).toFixed(1);
  const origin = node.stages[0]?.start ?? 0;
  const stages = node.stages.map((s) => `${s.name} ${secs(s.start - origin)}-${s.end === null ? 'now' : secs(s.end - origin)} s`).join(', ');
  const files = (node.boot?.timeline ?? []).filter((x) => x.what === 'tftp' || x.what === 'http').map((x) => `${x.what} ${x.label.replace(/^\//, '')} ${x.outcome === 'unconfirmed' ? 'complete' : (x.outcome ?? 'open')}`);
  const line = `${n.name} (${n.kind}): firmware ${node.firmware}, stages ${stages}; files ${files.join(', ')}`;
  t.comment(line);
  process.stderr.write(`e2e ${line}\n`);
  t.equal(node.ip, n.ip, `${n.name}: its leased address`);
  t.equal(node.bootCount, 1, `${n.name}: one boot (the loaders' and the kernel's own DHCP are part of it)`);
  t.equal(node.firmware, FIRMWARE[n.kind], `${n.name}: firmware ${FIRMWARE[n.kind]}`);
  t.same(node.stages.map((s) => s.name), ['dhcp', 'loader', 'kernel', 'mounted', 'init', 'up'], `${n.name}: DHCP, loader, kernel and initrd, root mounted, init read, up (NFS activity)`);
  for (const [i, s] of node.stages.entries()) {
    t.ok(s.end === null ? i === node.stages.length - 1 : s.start <= s.end, `${n.name}: ${s.name} starts before it ends, and only the last stage is open`);
    if (i > 0) t.equal(s.start, node.stages[i - 1]!.end, `${n.name}: ${s.name} starts where ${node.stages[i - 1]!.name} ends`);
  }
  t.ok(node.stages.every((s) => s.end === null || s.end - s.start < 300_000), `${n.name}: no stage over 5 minutes`);
  t.ok(inOrder(files, FILES[n.kind]), `${n.name}: its files in the order its firmware fetches them (${FILES[n.kind].join(', ')})`);
  t.ok(node.boot?.timeline.some((x) => x.what === 'init' && x.label === 'READ /sbin/init'), `${n.name}: the first READ of /sbin/init`);
  t.equal(node.lastError, null, `${n.name}: no error`);
}

async function bootNode(t: Test, net: VmNetwork, tap: string, n: Node, log: StampedLog, output: () => string, work: string): Promise<void> {
  let uefi: { code: string; vars: string; httpBootOnly: boolean } | undefined;
  if (n.kind === 'uefi' || n.kind === 'uefi-http' || n.kind === 'uefi-pxe') {
    // Each UEFI guest writes its own variable store (boot entries); the package's copy stays pristine.
    uefi = { code: OVMF_CODE, vars: join(work, `${n.name}-OVMF_VARS.fd`), httpBootOnly: n.kind === 'uefi-http' };
    copyFileSync(OVMF_VARS, uefi.vars);
  }
  // No ROM for OVMF's own HTTP Boot and PXE: its own virtio-net driver and network stack do them.
  const rom = n.kind === 'uefi' ? IPXE_EFI_ROM : n.kind === 'uefi-http' || n.kind === 'uefi-pxe' ? '' : IPXE_ROM;
  const release = await takeVmSlot({ onWait: () => t.comment('waiting for a guest slot (another test file is booting guests)') });
  let vm: Vm;
  let result: BootResult;
  try {
    vm = startVm(t, { net, tap, mac: n.mac, rom, uefi });
    result = await waitForBoot(vm, { timeoutMs: 300_000, serverLog: log, serverAck: new RegExp(`DHCPACK on ${esc(n.ip)}\\b`) });
  } finally {
    release();
  }
  const at = (l: { at: number } | undefined) => (l ? (l.at - vm.startedAt) / 1000 : undefined);
  const server = (pattern: string) => at(log.first(new RegExp(pattern), vm.startedAt));
  const serial = (pattern: RegExp) => at(vm.serial.first(pattern));
  const ip = esc(n.ip);
  const viaHttp = n.kind === 'ipxe-http' || n.kind === 'uefi-http';
  const httpGot = (file: string, agent = '') => server(`http: ${ip} .*"GET /${esc(file)} HTTP/1\\.1" 200 \\d+ "-" "${agent}`);
  const bootFileAt = {
    bios: () => server(`RRQ from ${ip} filename pxelinux\\.0: sent`),
    uefi: () => server(`RRQ from ${ip} filename syslinux\\.efi: sent`),
    'ipxe-http': () => httpGot('boot.ipxe', 'iPXE'),
    // Fetched by the firmware itself: its user agent says so.
    'uefi-http': () => httpGot('snponly.efi', 'UefiHttpBoot'),
    'uefi-pxe': () => server(`RRQ from ${ip} filename syslinux\\.efi: sent`),
  }[n.kind]();
  const loadedAt = {
    bios: () => result.seconds.kernelLoaded,
    uefi: () => server(`RRQ from ${ip} filename initrd\\.gz: sent`),
    'ipxe-http': () => serial(/E2E-FETCHED-HTTP/),
    'uefi-http': () => httpGot('initrd.gz'),
    'uefi-pxe': () => server(`RRQ from ${ip} filename initrd\\.gz: sent`),
  }[n.kind]();
  const f = (v: number | undefined) => (v === undefined ? '-' : `${v.toFixed(1)} s`);
  const s = result.seconds;
  const line = `${n.name} (${n.kind}, ${n.bootFile}): DHCP ACK ${f(s.dhcpAck)}, ${n.bootFile.replace(/^.*\//, '')} loaded ${f(bootFileAt)}, kernel+initrd loaded ${f(loadedAt)}, root mounted ${f(s.rootMounted)}, marker ${f(s.marker)}`;
  t.comment(line);
  process.stderr.write(`e2e ${line}\n`);
  if (n.kind === 'ipxe-http') {
    const span = (from: RegExp, to: RegExp) => {
      const a = serial(from);
      const b = serial(to);
      return a !== undefined && b !== undefined ? b - a : undefined;
    };
    const tftp = span(/E2E-FETCH-TFTP/, /E2E-FETCHED-TFTP/);
    const http = span(/E2E-FETCH-HTTP/, /E2E-FETCHED-HTTP/);
    const cmp = `${n.name}: kernel+initrd fetched by iPXE over TFTP ${f(tftp)}, over HTTP ${f(http)}${tftp && http ? ` (HTTP ${(tftp / http).toFixed(1)}x faster)` : ''}`;
    t.comment(cmp);
    process.stderr.write(`e2e ${cmp}\n`);
  }
  if (result.outcome !== 'done' || process.env.E2E_TIMELINE) {
    const dump = join(tmpdir(), `nb-e2e-${n.name}-${n.ip}.log`);
    writeFileSync(dump, `${result.timeline}\nserver output:\n${output()}\n`);
    const failed = result.serial.match(/E2E-FAIL.*|Kernel panic.*|PXE-E.*|No more network devices|Failed to load.*/);
    t.comment(`boot ${result.outcome}${failed ? `: ${failed[0]}` : ''}; serial console and server log in ${dump}`);
  }
  t.equal(result.outcome, 'done', 'the guest reached its marker and powered off');
  t.match(result.serial, new RegExp(`E2E-DHCP ip=${ip} `), 'the second, plain DHCP got the fixed address');
  t.match(result.serial, `e2e.config=${n.label}`, `booted the ${n.label} command line`);
  t.ok(bootFileAt !== undefined, `the server sent it ${n.bootFile}`);
  if (viaHttp) {
    t.match(output(), new RegExp(`http: ${ip} .*"GET /vmlinuz HTTP/1\\.1" 200 \\d+`), 'kernel over HTTP');
    t.match(output(), new RegExp(`http: ${ip} .*"GET /initrd\\.gz HTTP/1\\.1" 200 \\d+`), 'initrd over HTTP');
  } else {
    t.match(output(), new RegExp(`RRQ from ${ip} filename vmlinuz: sent`), 'kernel over TFTP');
  }
  t.match(result.serial, `E2E-READ ${n.root.request}`, 'the node read the file the test wrote');
  t.equal(readReply(n.root), `reply:${n.root.request}\n`, 'the node wrote its reply into its root');
}
