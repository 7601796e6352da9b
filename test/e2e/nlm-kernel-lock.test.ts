/**
 * The Linux kernel's lock manager against ours: `netboot serve` alone boots
 * the diskless guest, which then mounts a shared /home WITHOUT nolock and
 * takes `flock` locks there (the NFS client turns them into NLM locks on the
 * whole file) while a process on the master's side holds a conflicting lock
 * through NLM: `flock -n` fails as on knfsd, a blocking `flock` waits
 * (NLM4_BLOCKED) and gets the lock by GRANTED callback to the guest's lockd
 * as soon as the holder unlocks. While the node holds it, the master is
 * killed (-9) and started again: the node's statd is told, its lockd
 * reclaims the lock in the grace period, and a new lock is refused with
 * NLM4_DENIED_GRACE_PERIOD meanwhile.
 *
 * The kernel's lockd needs rpcbind and rpc.statd in the guest (without them
 * the mount fails or locks fail with ENOLCK): the test copies Debian's
 * rpcbind, rpc.statd and flock, with the shared libraries `ldd` names, from
 * this machine into the node's root.
 */
import t from 'tap';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePrograms, requireNetns, requireThat } from '../support/programs.js';
import { run, start } from '../support/processes.js';
import { netbootCli, repoRoot } from '../support/paths.js';
import { prepareGuest } from './guest.js';
import { addLockingUserland, START_LOCK_DAEMONS } from './guest-userland.js';
import { IPXE_ROM, writeScenario } from './scenario.js';
import { createVmNetwork, startVm, StampedLog, waitForBoot, type BootResult } from './vm.js';
import { takeVmSlot } from './vm-slots.js';

t.setTimeout(600_000);

/** Run by the node after its root is mounted; markers start with E2E-LOCK. */
function workload(server: string, home: string): string {
  return String.raw`B=/bin/busybox
$B hostname node1
$B mkdir -p /home
${START_LOCK_DAEMONS}echo "E2E-LOCK-DAEMONS $($B ls /run | $B tr '\n' ' ')"
$B mount -t nfs -o vers=3,tcp,addr=${server} ${server}:${home} /home && echo "E2E-LOCK-MOUNTED"
/bin/flock -n -E 75 /home/lockfile -c true; echo "E2E-LOCK-TRY rc=$?"
# Held for 45 s: meanwhile the master is killed and restarted, and this node must reclaim the lock.
/bin/flock -w 120 -E 75 /home/lockfile -c 'echo E2E-LOCK-TAKEN; /bin/busybox sleep 45'; echo "E2E-LOCK-WAITED rc=$?"
$B umount /home
`;
}

/**
 * The master's side: mounts /home and finds the lock file's handle; `hold`
 * locks it through NLM and unlocks when `release` appears, `probe` tries a
 * lock once and prints the status.
 */
const HOLDER = `
import { existsSync, watch } from 'node:fs';
import { dirname } from 'node:path';
import { RpcClient } from '@netboot/oncrpc-xdr';
import { PortmapClient } from '@netboot/portmap';
import { MountClient } from '@netboot/mountd';
import { NfsClient } from '@netboot/nfs3';
import * as nlm from '@netboot/nlm';
const [mode, server, home, release] = process.argv.slice(1);
const mount = await MountClient.connect({ host: server, port: 20048, transport: 'tcp', reservedPort: true });
const m = await mount.mnt(home);
mount.close();
if (m.status !== 0) throw new Error('MNT ' + m.status);
const nfs = await NfsClient.connect({ host: server, port: 2049, transport: 'tcp', reservedPort: true });
const found = await nfs.lookup(Buffer.from(m.fhandle), 'lockfile');
nfs.close();
if (found.status !== 0) throw new Error('LOOKUP ' + found.status);
const pm = await PortmapClient.connect({ host: server, transport: 'udp' });
const port = await pm.getport(nlm.NLM_PROGRAM, 4, 'tcp');
pm.close();
const c = await RpcClient.connect({ host: server, port, transport: 'tcp', timeoutMs: 10000 });
const alock = { callerName: 'master-' + mode, fh: Buffer.from(found.object), oh: Buffer.from(mode), svid: 4242, offset: 0n, length: 0n };
const call = async (proc, codec, v) => nlm.nlm4Res.read(await c.call(nlm.NLM_PROGRAM, 4, proc, codec.encode(v))).stat;
if (mode === 'probe') {
  console.log('PROBE-LOCK ' + await call(nlm.NlmProc.LOCK, nlm.nlm4LockArgs, { cookie: Buffer.from('p'), block: false, exclusive: true, alock, reclaim: false, state: 1 }));
  c.close();
  process.exit(0);
}
console.log('HOLDER-LOCK ' + await call(nlm.NlmProc.LOCK, nlm.nlm4LockArgs, { cookie: Buffer.from('h'), block: false, exclusive: true, alock, reclaim: false, state: 1 }));
// Holds the lock until the test creates release (a file event in its directory), at most five minutes.
await new Promise((resolve) => {
  const done = () => {
    clearTimeout(timer);
    watcher.close();
    resolve();
  };
  const watcher = watch(dirname(release), () => existsSync(release) && done());
  const timer = setTimeout(done, 300_000);
  if (existsSync(release)) done();
});
console.log('HOLDER-UNLOCK ' + await call(nlm.NlmProc.UNLOCK, nlm.nlm4UnlockArgs, { cookie: Buffer.from('u'), alock }));
c.close();
`;

t.test('the kernel client locks through NLM: flock -n fails, a waiting flock is GRANTED, the lock is reclaimed after kill -9', async (t) => {
  if (!requireNetns(t)) return;
  const progs = requirePrograms(t, {
    'qemu-system-x86_64': 'qemu-system-x86',
    'apt-get': 'apt',
    dpkg: 'dpkg',
    rpcbind: 'rpcbind',
    'rpc.statd': 'nfs-common',
    flock: 'util-linux',
    ldd: 'libc-bin',
  });
  if (!progs) return;
  if (!requireThat(t, existsSync(IPXE_ROM), `missing ${IPXE_ROM} (Debian package ipxe-qemu): apt-get install it to run this test`)) return;

  const guest = await prepareGuest((line) => t.comment(line));
  const net = createVmNetwork(t, { subnet: 5, guests: 1 });
  const work = mkdtempSync(join(tmpdir(), 'nb-e2e-nlm-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const c = writeScenario(work, guest, net).cases[0]!;
  const scenario = { tftpRoot: join(work, 'tftpboot') };
  const home = join(work, 'home');
  mkdirSync(home);
  writeFileSync(join(home, 'lockfile'), '');
  chmodSync(join(home, 'lockfile'), 0o666);
  addLockingUserland(c.root.dir, net.serverAddr, c.ip);
  const init = join(c.root.dir, 'sbin', 'init');
  writeFileSync(init, readFileSync(init, 'utf8').replace('echo "E2E-DONE"', workload(net.serverAddr, home) + 'echo "E2E-DONE"'));

  const dhcpConf = join(work, 'dhcpd.conf');
  writeFileSync(
    dhcpConf,
    `next-server ${net.serverAddr};
subnet ${net.address(0)} netmask 255.255.255.0 {
  filename "pxelinux.0";
  host node1 { hardware ethernet ${c.mac}; fixed-address ${c.ip}; option root-path "${c.root.dir}"; }
}
`,
  );
  const exports = join(work, 'exports');
  writeFileSync(
    exports,
    `${c.root.dir} ${c.ip}(sync,rw,no_root_squash,no_subtree_check)\n${home} ${c.ip}(sync,rw,no_root_squash,no_subtree_check) ${net.serverAddr}(rw)\n`,
  );
  const serveArgs = [netbootCli, 'serve', '--dhcp-conf', dhcpConf, '--interface', net.iface, '--tftp-root', scenario.tftpRoot, '--exports', exports, '--listen', net.serverAddr, '--state-dir', join(work, 'state')];
  const serve = start(t, process.execPath, serveArgs, { ns: net.ns });
  const serveLog = new StampedLog(serve);
  await serve.waitFor(/netboot serve: running/, 30_000);
  t.match(serve.output(), /nlm: lock manager \(NLM v4\) and status monitor \(NSM v1\) on port \d+/);

  const release = join(work, 'release');
  const holder = start(t, process.execPath, ['--input-type=module', '-e', HOLDER, 'hold', net.serverAddr, home, release], { ns: net.ns, cwd: repoRoot });
  await holder.waitFor(/HOLDER-LOCK \d+/, 30_000);
  t.match(holder.output(), /HOLDER-LOCK 0/, 'the holder has the lock (NLM4_GRANTED)');

  // Once the node holds the lock: kill -9 the master and start it again; the node must reclaim in the grace period.
  let again: ReturnType<typeof start> | undefined;
  let probe = '';
  const restart = async () => {
    await serve.kill();
    again = start(t, process.execPath, serveArgs, { ns: net.ns });
    await again.waitFor(/netboot serve: running/, 30_000);
    await again.waitFor(/nlm: node1 \(198\.18\.5\.10\) reclaimed its lock/, 40_000);
    const r = await run(process.execPath, ['--input-type=module', '-e', HOLDER, 'probe', net.serverAddr, home, release], { ns: net.ns, cwd: repoRoot, timeoutMs: 30_000 });
    probe = r.stdout + r.stderr;
  };
  let restarting: Promise<void> | undefined;
  const freeSlot = await takeVmSlot({ onWait: () => t.comment('waiting for a guest slot (another test file is booting guests)') });
  let result: BootResult;
  try {
    const vm = startVm(t, { net, tap: net.taps[0]!, mac: c.mac, rom: IPXE_ROM });
    const off = vm.serial.onLine(() => {
      if (vm.serial.first(/E2E-LOCK-TRY/) && !existsSync(release)) writeFileSync(release, '');
      if (vm.serial.first(/E2E-LOCK-TAKEN/) && !restarting) restarting = restart();
    });
    result = await waitForBoot(vm, { timeoutMs: 360_000, serverLog: serveLog });
    off();
  } finally {
    freeSlot();
  }
  const restartError = await restarting?.then(() => undefined, (e: unknown) => e as Error);
  if (result.outcome !== 'done' || restartError || !/PROBE-LOCK 4/.test(probe) || process.env.E2E_TIMELINE) {
    const dump = join(tmpdir(), 'nb-e2e-nlm.log');
    writeFileSync(dump, `${result.timeline}\nserver output:\n${serve.output()}\nafter the restart:\n${again?.output() ?? ''}\nholder:\n${holder.output()}\nprobe:\n${probe}\n`);
    t.comment(`serial console and server logs in ${dump}`);
  }
  t.equal(result.outcome, 'done', 'the guest reached its marker and powered off');
  t.match(result.serial, /E2E-LOCK-MOUNTED/, '/home is mounted without nolock');
  t.match(result.serial, /E2E-LOCK-TRY rc=75/, 'flock -n fails: the holder has the lock');
  t.match(result.serial, /E2E-LOCK-TAKEN/, 'the waiting flock gets the lock once the holder unlocks');
  t.match(holder.output(), /HOLDER-UNLOCK 0/);
  t.notMatch(serve.output(), /GRANTED callback to .* failed/, "the GRANTED callback reached the guest's lockd");
  t.equal(restartError, undefined, 'the master restarted and the node reclaimed its lock');
  t.match(again?.output() ?? '', /nlm: NSM state 3; grace period of 90 s/, 'the restarted master opens the grace period');
  t.match(again?.output() ?? '', /nsm: told node1 \(198\.18\.5\.10\) of our restart, state 3/, "the node's statd is told of the restart");
  t.match(again?.output() ?? '', /nlm: node1 \(198\.18\.5\.10\) reclaimed its lock/, "the node's lockd reclaims its lock");
  t.match(probe, /PROBE-LOCK 4/, 'a new lock in the grace period: NLM4_DENIED_GRACE_PERIOD');
  t.match(result.serial, /E2E-LOCK-WAITED rc=0/, 'the node kept its lock across the restart');
  await again?.stop(10_000);
});
