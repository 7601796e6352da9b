import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLink, type Link } from './netns.js';
import { netbootCli, repoRoot } from './paths.js';
import { run, start, type Running } from './processes.js';
import { requireNetns, requirePrograms } from './programs.js';

/*
 * A node's boot driven by real clients, for the boot-monitoring tests:
 * netboot serve (DHCP, TFTP, MOUNT, NFS, the status port) in one namespace,
 * and in the other the steps a diskless node takes, each by a real program:
 * udhcpc with a PXE vendor class, curl over TFTP for the loader, its config,
 * the kernel and the initrd, then nfs-cat reading the init its pxelinux
 * config names (MOUNT, LOOKUP, READ) until the node is up.
 */

export const NODE_MAC = '00:40:63:c2:ca:c9';
export const NODE_IP = '198.18.21.21';
const SUBNET = 21;
const NFS_PORT = 12049;
const MOUNTD_PORT = 12048;
export const STATUS_PORT = 19469;

interface Teardown {
  teardown(fn: () => unknown): void;
}
type T = Teardown & Parameters<typeof requirePrograms>[0];

export interface BootLab {
  link: Link;
  dir: string;
  exportRoot: string;
  serve: Running;
  /** Where the status port answers, inside `link.server`. */
  statusUrl: string;
  progs: { udhcpc: string; curl: string; 'nfs-cat': string };
}

/** Starts netboot serve with a status port; undefined (skipped, or failed in CI) when the machine lacks what it needs. */
export async function startBootLab(t: T, opts: { token?: string; label?: string; extraFlags?: string[] } = {}): Promise<BootLab | undefined> {
  if (!requireNetns(t)) return undefined;
  const progs = requirePrograms(t, { udhcpc: 'udhcpc', curl: 'curl', 'nfs-cat': 'libnfs-utils' });
  if (!progs) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'boot-lab-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tftp = join(dir, 'tftp');
  mkdirSync(join(tftp, 'pxelinux.cfg'), { recursive: true });
  writeFileSync(join(tftp, 'pxelinux.0'), Buffer.alloc(40_000, 1));
  writeFileSync(join(tftp, 'pxelinux.cfg', 'default'), 'DEFAULT linux\nLABEL linux\n  KERNEL vmlinuz\n  APPEND initrd=initrd.img root=/dev/nfs init=/init rw\n');
  writeFileSync(join(tftp, 'vmlinuz'), Buffer.alloc(300_000, 2));
  writeFileSync(join(tftp, 'initrd.img'), Buffer.alloc(200_000, 3));
  const exportRoot = join(dir, 'root');
  mkdirSync(exportRoot);
  writeFileSync(join(exportRoot, 'init'), '#!/bin/sh\nexec /bin/sh\n');
  const exportsFile = join(dir, 'exports');
  writeFileSync(exportsFile, `${exportRoot} ${NODE_IP}(rw,no_root_squash,insecure)\n`);
  const conf = join(dir, 'dhcpd.conf');
  writeFileSync(conf, readFileSync(join(repoRoot, 'packages/dhcp-wire/test/fixtures/gentoo-dhcpd.conf'), 'utf8'));

  const link = createLink(t, { subnet: SUBNET, label: opts.label ?? 'bl' });
  const ip = (...a: string[]) => execFileSync('ip', ['-n', link.client, ...a]);
  ip('addr', 'flush', 'dev', link.clientIf);
  ip('link', 'set', link.clientIf, 'down');
  ip('link', 'set', link.clientIf, 'address', NODE_MAC);
  ip('link', 'set', link.clientIf, 'up');

  const flags = [
    'serve',
    '--dhcp-conf', conf,
    '--interface', link.serverIf,
    '--tftp-root', tftp,
    '--exports', exportsFile,
    '--nfs-port', String(NFS_PORT),
    '--mountd-port', String(MOUNTD_PORT),
    '--portmap-port', '0',
    '--no-lock',
    '--state-dir', join(dir, 'state'),
    '--status-port', String(STATUS_PORT),
    ...(opts.token ? ['--status-token', opts.token] : []),
    ...(opts.extraFlags ?? []),
  ];
  const serve = start(t, process.execPath, [netbootCli, ...flags], { ns: link.server });
  await serve.waitFor(/netboot serve: running/, 30_000);
  return { link, dir, exportRoot, serve, statusUrl: `http://127.0.0.1:${STATUS_PORT}`, progs };
}

/** The node's DHCP, with a PXE vendor class and BIOS architecture, then its address set by hand (udhcpc -q sets none). */
export async function nodeDhcp(lab: BootLab): Promise<void> {
  const r = await run(lab.progs.udhcpc, ['-i', lab.link.clientIf, '-V', 'PXEClient:Arch:00000:UNDI:002001', '-f', '-q', '-n', '-t', '5', '-T', '2', '-s', '/bin/true'], {
    ns: lab.link.client,
    timeoutMs: 30_000,
  });
  if (r.code !== 0) throw new Error(`udhcpc failed: ${r.stderr}`);
  execFileSync('ip', ['-n', lab.link.client, 'addr', 'replace', `${NODE_IP}/24`, 'dev', lab.link.clientIf]);
}

/** One file over TFTP as the loader fetches it. */
export async function nodeTftp(lab: BootLab, file: string): Promise<number> {
  const r = await run(lab.progs.curl, ['-s', '-o', '/dev/null', '-w', '%{size_download}', `tftp://${lab.link.serverAddr}/${file}`], { ns: lab.link.client, timeoutMs: 20_000 });
  return Number(r.stdout);
}

/** MOUNT of the node's root, then LOOKUP and READ of `path` in it. */
export async function nodeNfsRead(lab: BootLab, path: string, root = lab.exportRoot): Promise<string> {
  const url = `nfs://${lab.link.serverAddr}${root}${path}?version=3&nfsport=${NFS_PORT}&mountport=${MOUNTD_PORT}`;
  const r = await run(lab.progs['nfs-cat'], [url], { ns: lab.link.client, timeoutMs: 20_000 });
  return r.stdout;
}

export interface StatusNode {
  mac: string | null;
  ip: string | null;
  name: string | null;
  firmware: string;
  stage: string;
  stages: { name: string; start: number; end: number | null }[];
  bootCount: number;
  lastError: { text: string } | null;
  diagnosis: { code: string; text: string }[];
  boot: { timeline: { what: string; label: string; start: number; end: number | null; outcome?: string }[] } | null;
}

/** `netboot status --json` run where the status port is. */
export async function statusJson(lab: BootLab, token?: string): Promise<{ nodes: StatusNode[] }> {
  const r = await run(process.execPath, [netbootCli, 'status', '--json', '--url', lab.statusUrl, ...(token ? ['--token', token] : [])], { ns: lab.link.server, timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(`netboot status failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as { nodes: StatusNode[] };
}

/** The node's NFS reads repeated until the server calls it up: bounded in count and time. */
export async function untilUp(lab: BootLab, token?: string): Promise<StatusNode> {
  const deadline = Date.now() + 60_000;
  for (let i = 0; i < 60 && Date.now() < deadline; i++) {
    const node = (await statusJson(lab, token)).nodes.find((n) => n.mac === NODE_MAC);
    if (node?.stage === 'up') return node;
    await nodeNfsRead(lab, '/init');
  }
  throw new Error('the node did not reach up within 60 NFS reads and 60 s');
}

/** The whole boot: DHCP, loader, its config, kernel, initrd, MOUNT and init, until up. */
export async function bootNode(lab: BootLab, token?: string): Promise<StatusNode> {
  await nodeDhcp(lab);
  for (const f of ['pxelinux.0', 'pxelinux.cfg/01-00-40-63-c2-ca-c9', 'pxelinux.cfg/default', 'vmlinuz', 'initrd.img']) await nodeTftp(lab, f);
  return untilUp(lab, token);
}
