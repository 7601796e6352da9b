import { access, appendFile, copyFile, cp, mkdir, readFile, writeFile, chmod } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { isIPv4 } from 'node:net';
import { NodeRoots } from '@netboot/image-store';
import { type Command, UsageError, parseFlags, stringFlag, boolFlag } from '../command.js';

const exec = promisify(execFile);

const usage = `usage: netboot add-node IP --mac MAC [flags]

Does the diskless guide's per-node steps for one node: its root skeleton, the
exports line, the dhcpd.conf host block and its pxelinux config. Prints what it
changed and refuses to overwrite anything unless --force is given.

flags:
  --mac MAC              the node's Ethernet address (required)
  --hostname NAME        the node's host name (default: node-<last octet>)
  --from-root DIR        copy DIR/etc into the node's root (default: a minimal etc)
  --server IP            the master's address the node mounts from (default: next-server in dhcpd.conf)
  --diskless-root DIR    where node roots live (default /diskless)
  --exports FILE         the exports file to append to (default /etc/exports)
  --dhcp-conf FILE       the dhcpd.conf to append to (default /etc/dhcp/dhcpd.conf)
  --tftp-root DIR        the TFTP root holding pxelinux.cfg (default /diskless)
  --kernel NAME          the kernel file under the TFTP root (default vmlinuz)
  --initrd NAME          the initrd under the TFTP root (default initrd.img; "none" for none)
  --image NAME           the node's root is image NAME (see netboot image) under
                         its own writable layer, instead of a copied skeleton;
                         etc/hostname and etc/fstab go into that layer
  --state-dir DIR        where images and image-backed nodes live (default /var/lib/netboot);
                         give netboot nfs/serve the same
  --force                overwrite or add even where the node already appears`;

/** The directories the guide creates in every node root. */
const SKELETON = [
  'home', 'dev', 'proc', 'tmp', 'mnt', 'root', 'sys', 'usr', 'opt',
  'var/empty', 'var/lock', 'var/log', 'var/run', 'var/spool', 'var/tmp', 'etc',
];

function normaliseMac(mac: string): string {
  const parts = mac.toLowerCase().split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-f]{1,2}$/.test(p))) {
    throw new UsageError(`--mac must be an Ethernet address like 52:54:00:12:34:56, not "${mac}"`);
  }
  return parts.map((p) => p.padStart(2, '0')).join(':');
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function readOr(path: string, fallback: string): Promise<string> {
  return readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return fallback;
    throw err;
  });
}

export const addNode: Command = {
  name: 'add-node',
  summary: 'create a node: root skeleton, exports line, dhcpd.conf host, pxelinux config',
  usage,
  async run(argv) {
    const flags = parseFlags(
      argv,
      {
        mac: { type: 'string' },
        hostname: { type: 'string' },
        'from-root': { type: 'string' },
        server: { type: 'string' },
        'diskless-root': { type: 'string' },
        exports: { type: 'string' },
        'dhcp-conf': { type: 'string' },
        'tftp-root': { type: 'string' },
        kernel: { type: 'string' },
        initrd: { type: 'string' },
        force: { type: 'boolean' },
        image: { type: 'string' },
        'state-dir': { type: 'string' },
      },
      true,
    );
    const [ip, ...extra] = flags.positionals;
    if (!ip || extra.length > 0) throw new UsageError('give exactly one node address');
    if (!isIPv4(ip)) throw new UsageError(`the node address must be an IPv4 address, not "${ip}"`);
    const macFlag = stringFlag(flags, 'mac');
    if (!macFlag) throw new UsageError('--mac is required');
    const mac = normaliseMac(macFlag);
    const hostname = stringFlag(flags, 'hostname') ?? `node-${ip.split('.')[3]}`;
    if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/.test(hostname)) {
      throw new UsageError(`--hostname must be letters, digits and dashes, not "${hostname}"`);
    }
    const force = boolFlag(flags, 'force');
    const disklessRoot = stringFlag(flags, 'diskless-root') ?? '/diskless';
    const exportsFile = stringFlag(flags, 'exports') ?? '/etc/exports';
    const dhcpConf = stringFlag(flags, 'dhcp-conf') ?? '/etc/dhcp/dhcpd.conf';
    const tftpRoot = stringFlag(flags, 'tftp-root') ?? '/diskless';
    const kernel = stringFlag(flags, 'kernel') ?? 'vmlinuz';
    const initrd = stringFlag(flags, 'initrd') ?? 'initrd.img';
    const fromRoot = stringFlag(flags, 'from-root');

    const nodeRoot = join(disklessRoot, ip);
    const exportsText = await readOr(exportsFile, '');
    const dhcpText = await readOr(dhcpConf, '');
    const server = stringFlag(flags, 'server') ?? /^\s*next-server\s+([0-9.]+)\s*;/m.exec(dhcpText)?.[1];
    if (!server) throw new UsageError(`--server is needed: ${dhcpConf} names no next-server`);
    const pxeFile = join(tftpRoot, 'pxelinux.cfg', `01-${mac.replaceAll(':', '-')}`);

    // Every clash is found before anything is written, so a refusal changes nothing.
    const clashes: string[] = [];
    if (await exists(nodeRoot)) clashes.push(`${nodeRoot} exists`);
    const exportLine = new RegExp(`^\\s*"?${nodeRoot.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"?(\\s|$)`, 'm');
    if (exportLine.test(exportsText)) clashes.push(`${exportsFile} already exports ${nodeRoot}`);
    if (new RegExp(`hardware\\s+ethernet\\s+${mac.replaceAll(':', '[:]')}\\s*;`, 'i').test(dhcpText)) {
      clashes.push(`${dhcpConf} already has a host with hardware ethernet ${mac}`);
    }
    if (new RegExp(`fixed-address\\s+${ip.replaceAll('.', '\\.')}\\s*;`).test(dhcpText)) {
      clashes.push(`${dhcpConf} already gives fixed-address ${ip} to a host`);
    }
    if (await exists(pxeFile)) clashes.push(`${pxeFile} exists`);
    if (clashes.length > 0 && !force) {
      console.error(`netboot add-node: not changing anything:\n  ${clashes.join('\n  ')}\nRun again with --force to write over these.`);
      return 1;
    }

    const changed: string[] = [];
    const image = stringFlag(flags, 'image');
    const fstab = [
      '# <fs>                              <mountpoint> <type> <opts>',
      `${server}:${nodeRoot}  /  nfs  vers=3,tcp,rw,nolock  0 0`,
      'proc  /proc  proc  defaults  0 0',
      'sysfs  /sys  sysfs  defaults  0 0',
      '',
    ].join('\n');
    if (image) {
      const roots = new NodeRoots(stringFlag(flags, 'state-dir') ?? '/var/lib/netboot');
      await roots.add({ ip, image, root: nodeRoot, seed: { 'etc/hostname': `${hostname}\n`, 'etc/fstab': fstab } });
      // The exported directory stays empty: the NFS server serves the merged root in its place.
      await mkdir(nodeRoot, { recursive: true });
      await roots.seed(ip);
      changed.push(`made ${nodeRoot} image-backed: image ${image} under the layer ${roots.nodesDir}/${ip}/upper (etc/hostname ${hostname}; etc/fstab)`);
    } else {
      for (const dir of SKELETON) await mkdir(join(nodeRoot, dir), { recursive: true });
      await chmod(join(nodeRoot, 'tmp'), 0o1777);
      await chmod(join(nodeRoot, 'var/tmp'), 0o1777);
      if (fromRoot) {
        await cp(join(fromRoot, 'etc'), join(nodeRoot, 'etc'), { recursive: true, force, verbatimSymlinks: true });
      } else {
        await copyFile('/etc/passwd', join(nodeRoot, 'etc/passwd')).catch(() => {});
        await copyFile('/etc/group', join(nodeRoot, 'etc/group')).catch(() => {});
      }
      await writeFile(join(nodeRoot, 'etc/hostname'), `${hostname}\n`);
      await writeFile(join(nodeRoot, 'etc/fstab'), fstab);
      changed.push(`created ${nodeRoot} (${SKELETON.join(' ')}; tmp world-writable; etc/hostname ${hostname}; etc/fstab)`);
      const consolePath = join(nodeRoot, 'dev/console');
      if (!(await exists(consolePath))) {
        try {
          await exec('mknod', ['-m', '600', consolePath, 'c', '5', '1']);
          changed.push(`created ${consolePath} (character device 5,1)`);
        } catch (err) {
          console.error(`netboot add-node: could not create ${consolePath} (${(err as Error).message.trim()}); as root run: mknod -m 600 ${consolePath} c 5 1`);
        }
      }
    }

    await appendFile(exportsFile, `${exportsText === '' || exportsText.endsWith('\n') ? '' : '\n'}${nodeRoot} ${ip}(rw,sync,no_root_squash,no_subtree_check)\n`);
    changed.push(`appended to ${exportsFile}: ${nodeRoot} ${ip}(rw,sync,no_root_squash,no_subtree_check)`);

    const hostBlock = `host ${hostname} {\n  hardware ethernet ${mac};\n  fixed-address ${ip};\n}\n`;
    await appendFile(dhcpConf, `${dhcpText === '' || dhcpText.endsWith('\n') ? '' : '\n'}\n${hostBlock}`);
    changed.push(`appended to ${dhcpConf}: host ${hostname} { hardware ethernet ${mac}; fixed-address ${ip}; }`);

    await mkdir(join(tftpRoot, 'pxelinux.cfg'), { recursive: true });
    const append = [
      initrd === 'none' ? '' : `initrd=${initrd}`,
      'console=tty0 console=ttyS0',
      'ip=dhcp root=/dev/nfs',
      `nfsroot=${server}:${nodeRoot},vers=3,tcp rw`,
    ].filter(Boolean).join(' ');
    await writeFile(pxeFile, `DEFAULT linux\nLABEL linux\n  KERNEL ${kernel}\n  APPEND ${append}\n  IPAPPEND 2\n`);
    changed.push(`wrote ${pxeFile}`);

    console.log(changed.map((c) => `netboot add-node: ${c}`).join('\n'));
    console.log('Reload netboot (SIGHUP) or restart it so it reads the new exports and dhcpd.conf.');
    return 0;
  },
};
