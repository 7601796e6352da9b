import { lstat, readFile, stat } from 'node:fs/promises';
import { join, dirname, posix } from 'node:path';
import { findPxelinuxConfig } from '@netboot/tftp-wire';
import { matchClient, type Export } from '@netboot/mountd';
import { checkBootFiles, fileUnderRoot, type Finding, type HttpRoot } from './boot-files.js';
import type { NodeDecl } from './node-decl.js';
import { parsePxelinuxConfig, nfsRootOf } from './pxelinux-config.js';

export interface DoctorContext {
  tftpRoot: string;
  exports: Export[];
  exportsFile: string;
  http: HttpRoot;
}

/** The directories the diskless guide gives every node root. */
const ROOT_DIRS = ['dev', 'etc', 'home', 'mnt', 'proc', 'root', 'sys', 'tmp', 'var', 'usr', 'opt'];

/** The export that holds `path` (the longest exported prefix), as mountd would choose it. */
function exportFor(exports: Export[], path: string): Export | undefined {
  const norm = posix.normalize(path).replace(/\/+$/, '') || '/';
  let best: Export | undefined;
  for (const e of exports) {
    const p = e.path.replace(/\/+$/, '') || '/';
    if (norm === p || norm.startsWith(p === '/' ? '/' : `${p}/`)) {
      if (!best || p.length > best.path.length) best = e;
    }
  }
  return best;
}

/**
 * Everything one node needs to boot, checked in boot order: the boot file of
 * each kind of client (BIOS, UEFI, iPXE, UEFI HTTP Boot), then from the BIOS one:
 * pxelinux config, kernel and initrd, the NFS root export and its options,
 * the root's skeleton and console, and the fstab's mounts.
 */
export async function checkNode(ctx: DoctorContext, node: NodeDecl): Promise<Finding[]> {
  const out: Finding[] = [];
  const ok = (what: string) => out.push({ ok: true, what });
  const bad = (what: string, fix: string) => out.push({ ok: false, what, fix });

  out.push(...(await checkBootFiles(ctx.tftpRoot, ctx.http, node.bootFiles)));

  let cmdline = '';
  const cfgName = await findPxelinuxConfig(ctx.tftpRoot, node.mac, node.ip).catch(() => undefined);
  if (!cfgName) {
    bad('pxelinux finds no config for this node', `write ${join(ctx.tftpRoot, 'pxelinux.cfg', `01-${node.mac.toLowerCase().replaceAll(':', '-')}`)} or ${join(ctx.tftpRoot, 'pxelinux.cfg/default')} (netboot pxelinux ${node.mac} ${node.ip} --root ${ctx.tftpRoot} lists the names)`);
  } else {
    ok(`pxelinux will use ${cfgName}`);
    const cfgBase = dirname(cfgName) === 'pxelinux.cfg' ? '' : dirname(cfgName);
    const boot = parsePxelinuxConfig(await readFile(join(ctx.tftpRoot, cfgName), 'utf8'));
    cmdline = boot.append;
    if (!boot.kernel) {
      bad(`${cfgName} names no kernel for its default label`, 'add KERNEL <file> under the label DEFAULT names');
    } else if (await fileUnderRoot(ctx.tftpRoot, posix.join(cfgBase, boot.kernel))) {
      ok(`kernel ${boot.kernel} exists`);
    } else {
      bad(`kernel ${boot.kernel} named by ${cfgName} is not under ${ctx.tftpRoot}`, `copy the kernel to ${join(ctx.tftpRoot, boot.kernel)}`);
    }
    for (const initrd of boot.initrds) {
      if (await fileUnderRoot(ctx.tftpRoot, posix.join(cfgBase, initrd))) ok(`initrd ${initrd} exists`);
      else bad(`initrd ${initrd} named by ${cfgName} is not under ${ctx.tftpRoot}`, `copy the initrd to ${join(ctx.tftpRoot, initrd)}`);
    }
  }

  const nfsroot = nfsRootOf(cmdline, node.ip);
  const rootPath = nfsroot?.path ?? node.rootPath?.replace(/^[^:/]*:/, '');
  if (!rootPath) {
    bad('neither the kernel command line (nfsroot=) nor dhcpd.conf (option root-path) names an NFS root', `add nfsroot=<server>:/diskless/${node.ip},vers=3,tcp to the APPEND line`);
    return out;
  }
  const exp = exportFor(ctx.exports, rootPath);
  const grant = exp ? matchClient(exp, node.ip) : undefined;
  if (!exp) {
    bad(`the NFS root ${rootPath} is not exported`, `add to ${ctx.exportsFile}: ${rootPath} ${node.ip}(rw,sync,no_root_squash,no_subtree_check)`);
  } else if (!grant) {
    bad(`${exp.path} is exported, but not to ${node.ip}`, `add ${node.ip}(rw,sync,no_root_squash,no_subtree_check) to the ${exp.path} line in ${ctx.exportsFile}`);
  } else {
    if (grant.rw) ok(`${exp.path} is exported read-write to ${node.ip}`);
    else bad(`${exp.path} is exported read-only to ${node.ip}; a root file system must be writable`, `change ro to rw for ${node.ip} in ${ctx.exportsFile}`);
    if (!grant.rootSquash && !grant.allSquash) ok(`${exp.path} has no_root_squash for ${node.ip}`);
    else bad(`${exp.path} squashes root for ${node.ip}; the node's root user could not own its files`, `add no_root_squash for ${node.ip} in ${ctx.exportsFile}`);
  }

  const missingDirs: string[] = [];
  for (const d of ROOT_DIRS) {
    const isDir = await stat(join(rootPath, d)).then((s) => s.isDirectory(), () => false);
    if (!isDir) missingDirs.push(d);
  }
  if (missingDirs.length === 0) ok(`${rootPath} has ${ROOT_DIRS.join(' ')}`);
  else bad(`${rootPath} lacks ${missingDirs.join(', ')}`, `mkdir -p ${missingDirs.map((d) => join(rootPath, d)).join(' ')}`);
  const con = await lstat(join(rootPath, 'dev/console')).catch(() => undefined);
  if (con?.isCharacterDevice() && con.rdev === ((5 << 8) | 1)) ok('dev/console is the character device 5,1');
  else bad(`${join(rootPath, 'dev/console')} is ${con ? 'not the character device 5,1' : 'missing'}: the kernel opens it for init's console`, `mknod -m 600 ${join(rootPath, 'dev/console')} c 5 1`);

  const fstab = await readFile(join(rootPath, 'etc/fstab'), 'utf8').catch(() => undefined);
  if (fstab !== undefined) {
    for (const line of fstab.split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f.length < 3 || f[0].startsWith('#') || !/^nfs4?$/.test(f[2])) continue;
      const colon = f[0].indexOf(':');
      if (colon < 0) continue;
      const path = f[0].slice(colon + 1);
      const e = exportFor(ctx.exports, path);
      if (e && matchClient(e, node.ip)) ok(`fstab mounts ${path} on ${f[1]}, exported to ${node.ip}`);
      else bad(`fstab mounts ${path} on ${f[1]}, but ${path} is not exported to ${node.ip}`, `export it to ${node.ip} in ${ctx.exportsFile}, or remove the line from ${join(rootPath, 'etc/fstab')}`);
    }
  }
  return out;
}
