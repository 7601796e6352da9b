/**
 * Our file-system check suite (test/e2e/fs-checks/fscheck.c: the rules of
 * chmod, chown, link, mkdir, mkfifo, mknod, open, rename, rmdir, symlink,
 * truncate, unlink, utimensat, name and path lengths, then Connectathon-style
 * basic, special and lock checks) run by the Linux kernel's NFS client in the
 * diskless guest, on two roots served by one `netboot nfs`: a plain
 * directory and an image-backed copy-on-write root (`netboot image import`,
 * `netboot add-node --image`). The lock checks run on a second export the
 * guest mounts with locking (NLM), beside rpcbind and rpc.statd copied from
 * this machine. The checker is compiled here with gcc -static and copied
 * into the image before import. When strace is installed, `netboot nfs`
 * runs under `strace -f -e trace=execve`: a serving netboot never spawns a
 * process. Two boots, at once when two VM slots are free.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requirePrograms, requireNetns } from '../support/programs.js';
import { run, start } from '../support/processes.js';
import { netbootCli } from '../support/paths.js';
import { prepareGuest } from './guest.js';
import { addLockingUserland } from './guest-userland.js';
import { checkResults, CHECK_IDS, compileChecker, installChecker, NFS3_CANNOT } from './fs-checks/suite.js';
import { startReferenceDnsmasq } from './reference-dnsmasq.js';
import { bootAndCheck, PARALLEL_BOOTS, writeScenario, type BootCase } from './scenario.js';
import { createVmNetwork } from './vm.js';

t.setTimeout(1_200_000);

if (requireNetns(t)) {
  const progs = requirePrograms(t, {
    'qemu-system-x86_64': 'qemu-system-x86',
    dnsmasq: 'dnsmasq-base',
    'apt-get': 'apt',
    dpkg: 'dpkg',
    gcc: 'gcc',
    rpcbind: 'rpcbind',
    'rpc.statd': 'nfs-common',
    flock: 'util-linux',
    ldd: 'libc-bin',
    strace: 'strace',
  });
  if (progs) {
    t.test('our check suite through the kernel NFS client on a plain and an image-backed root', async (t) => {
      const guest = await prepareGuest((l) => t.comment(l));
      const net = createVmNetwork(t, { subnet: 83, guests: 2 });
      const work = mkdtempSync(join(tmpdir(), 'nb-e2e-fscheck-'));
      t.teardown(() => rmSync(work, { recursive: true, force: true }));
      const checker = join(work, 'fscheck');
      compileChecker(progs.gcc, checker);

      const scenario = writeScenario(work, guest, net);
      const state = join(work, 'state');
      const exportsFile = join(work, 'exports');
      const lines: string[] = [];
      const [plain, imaged] = scenario.cases as [BootCase, BootCase];
      for (const c of [plain, imaged]) {
        addLockingUserland(c.root.dir, net.serverAddr, c.ip);
        const locks = join(work, `locks-${c.ip}`);
        mkdirSync(locks);
        chmodSync(locks, 0o777);
        installChecker(c.root.dir, checker, { server: net.serverAddr, path: locks });
        lines.push(`${locks} ${c.ip}(rw,sync,no_root_squash,no_subtree_check)`);
      }
      lines.push(`${plain.root.dir} ${plain.ip}(rw,sync,no_root_squash,no_subtree_check)`);
      writeFileSync(exportsFile, lines.join('\n') + '\n');

      // The second node's prepared root becomes an image; its node root the merge of that image and its own layer.
      const imageSource = join(work, 'image-source');
      renameSync(imaged.root.dir, imageSource);
      const imported = await run(process.execPath, [netbootCli, 'image', 'import', 'fscheck', imageSource, '--state-dir', state], { timeoutMs: 120_000 });
      t.equal(imported.stdout, '1\n', `image import: ${imported.stderr}`);
      writeFileSync(join(work, 'dhcpd.conf'), `next-server ${net.serverAddr};\n`);
      const added = await run(process.execPath, [
        netbootCli, 'add-node', imaged.ip, '--mac', imaged.mac, '--image', 'fscheck', '--diskless-root', scenario.disklessDir,
        '--exports', exportsFile, '--dhcp-conf', join(work, 'dhcpd.conf'), '--tftp-root', join(work, 'add-node-tftp'), '--state-dir', state,
      ]);
      t.equal(added.code, 0, `add-node --image: ${added.stderr}`);
      // The image-backed node writes its reply into its own layer.
      const imagedCase: BootCase = { ...imaged, root: { ...imaged.root, replyPath: join(state, 'nodes', imaged.ip, 'upper', 'e2e', 'reply') } };

      const { running: dnsmasq, log: dnsmasqLog } = await startReferenceDnsmasq(t, progs.dnsmasq, net, scenario, work);
      const traceFile = join(work, 'execve.trace');
      const nfs = start(
        t,
        progs.strace,
        ['-f', '-qq', '-e', 'trace=execve', '-o', traceFile, process.execPath, netbootCli, 'nfs', '--exports', exportsFile, '--listen', net.serverAddr, '--state-dir', state],
        { ns: net.ns },
      );
      await nfs.waitFor(/NFS v3 port 2049/, 60_000);
      const server = {
        log: dnsmasqLog,
        ack: (ip: string) => new RegExp(`DHCPACK\\(${net.iface}\\) ${ip.replace(/\./g, '\\.')} `),
        output: () => `--- dnsmasq:\n${dnsmasq.output()}\n--- netboot nfs:\n${nfs.output()}`,
      };

      const boots: [string, BootCase, string][] = [
        ['a plain directory root', plain, net.taps[0]!],
        ['an image-backed copy-on-write root', imagedCase, net.taps[1]!],
      ];
      await t.test('both boots', { jobs: PARALLEL_BOOTS }, async (t) => {
        await Promise.all(
          boots.map(([name, c, tap]) =>
            t.test(name, async (t) => {
              const result = await bootAndCheck(t, net, tap, c, server, 900_000);
              t.match(result.serial, 'FSCHECK-MOUNTED', 'the lock export is mounted with locking');
              t.match(result.serial, /FSCHECK-END ok=\d+ fail=\d+/, 'the checker ran to its end');
              const { passed, failed } = checkResults(result.serial);
              for (const id of CHECK_IDS) {
                if (NFS3_CANNOT[id]) {
                  t.ok(passed.has(id) || failed.has(id), `${id} ran`);
                  t.comment(`${id}: ${passed.has(id) ? 'passes' : `fails (${failed.get(id)})`}; no NFSv3 server can pass it: ${NFS3_CANNOT[id]}`);
                } else {
                  t.ok(passed.has(id), `${id}${failed.has(id) ? `: ${failed.get(id)}` : ''}`);
                }
              }
              const counted = CHECK_IDS.filter((id) => passed.has(id)).length;
              process.stderr.write(`e2e fscheck on ${name}: ${counted} of ${CHECK_IDS.length} pass${failed.size ? `; failing: ${[...failed.keys()].join(' ')}` : ''}\n`);
            }),
          ),
        );
      });

      await t.test('a serving netboot spawns no process', async (t) => {
        await nfs.stop(10_000);
        const execs = existsSync(traceFile) ? readFileSync(traceFile, 'utf8').split('\n').filter((l) => /execve\(/.test(l)) : [];
        t.equal(execs.length, 1, `one execve, strace starting node: ${execs.join(' | ')}`);
      });
    });
  }
}
