import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './support/paths.js';
import { run } from './support/processes.js';
import { requireNetns, requirePrograms } from './support/programs.js';

/*
 * bench/boot-storm.js end to end at the smallest size: three nodes (one over
 * HTTP) get their leases, boot files and roots, the replayed NFS calls all
 * come back as the files are, and the run leaves no namespace behind; against
 * netboot serve, against it with image-backed roots, and against the two C
 * stacks it is compared with (two alternating rounds, so the best-of
 * bookkeeping runs too). What it proves is that the benchmark works, not a
 * speed.
 */

const stormNamespaces = (): string[] =>
  execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => /^nbb[sc]-/.test(n));

/** Runs bench/boot-storm.js at 3 nodes with 1 MiB boot files and `args`, in a directory of its own: its JSON report. */
async function storm(t: Test, args: string[], timeoutMs: number) {
  const dir = mkdtempSync(join(tmpdir(), 'boot-storm-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const json = join(dir, 'storm.json');
  const r = await run(
    process.execPath,
    [join(repoRoot, 'bench/boot-storm.js'), '--nodes', '3', '--kernel-mib', '1', '--initrd-mib', '1', '--timeout-s', '120', ...args, '--json', json],
    { timeoutMs },
  );
  t.equal(r.code, 0, `the bench exits 0 (stderr: ${r.stderr.slice(-500)})`);
  return JSON.parse(readFileSync(json, 'utf8'));
}

/** The run named the namespaces it made, and none of them is left. */
function noNamespaceLeft(t: Test, report: { detail: { namespaces: string[] } }): void {
  t.ok(report.detail.namespaces.length >= 2, 'the run says which namespaces it made');
  t.same(stormNamespaces().filter((n) => report.detail.namespaces.includes(n)), [], 'no namespace left behind');
}

t.test('bench/boot-replay.json is what bench/make-boot-replay.js writes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'boot-replay-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'replay.json');
  const r = await run(process.execPath, [join(repoRoot, 'bench/make-boot-replay.js'), '--out', out], { timeoutMs: 60_000 });
  t.equal(r.code, 0, r.stderr);
  t.equal(readFileSync(out, 'utf8'), readFileSync(join(repoRoot, 'bench/boot-replay.json'), 'utf8'), 'regenerate it with node bench/make-boot-replay.js after changing the script');
});

t.test('boot-storm boots 3 nodes through netboot serve, none failed', async (t) => {
  if (!requireNetns(t)) return;
  if (!requirePrograms(t, { ss: 'iproute2', cp: 'coreutils' })) return;
  const report = await storm(t, ['--rounds', '1', '--servers', 'netboot', '--http-share', '0.34'], 240_000);
  t.equal(report.schema, 'netboot-bench/1');
  t.equal(report.benchmark, 'boot-storm');
  const best = report.detail.best.netboot;
  t.notOk(best.error, 'netboot was measured');
  t.equal(best.up, 3, '3 nodes up');
  t.equal(best.failed, 0, '0 failed');
  t.same(best.failures, {}, 'no failure reasons');
  t.ok(best.nfsCalls >= 3 * report.params.replayCalls, 'every node replayed the whole boot');
  t.equal(report.cells.find((c: { key: string }) => c.key === 'up').values.netboot, 3);
  t.ok(typeof report.cells.find((c: { key: string }) => c.key === 'all-up').values.netboot === 'number', 'a time until all were up');
  noNamespaceLeft(t, report);
});

t.test('boot-storm --image-root boots the same 3 nodes through plain and image-backed roots, none failed', async (t) => {
  if (!requireNetns(t)) return;
  if (!requirePrograms(t, { ss: 'iproute2', cp: 'coreutils' })) return;
  const report = await storm(t, ['--servers', 'netboot', '--image-root', '--http-share', '0.34'], 300_000);
  t.same(report.params.servers, ['netboot', 'netboot-image'], '--image-root adds the image-backed stack');
  t.equal(report.params.fixedAddresses, true, 'every node has a fixed address');
  for (const stack of ['netboot', 'netboot-image']) {
    const best = report.detail.best[stack];
    t.notOk(best.error, `${stack} was measured`);
    t.equal(best.up, 3, `${stack}: 3 nodes up`);
    t.equal(best.failed, 0, `${stack}: 0 failed`);
    t.ok(best.nfsCalls >= 3 * report.params.replayCalls, `${stack}: every node replayed the whole boot`);
  }
  t.equal(report.detail.best['netboot-image'].imageBootsRecorded, 3, "each node's MOUNT from its own address was its boot, recorded in its node record");
  t.ok(typeof report.detail.imageVsPlain.allUp === 'number', 'the image/plain ratio of the time until all were up');
  noNamespaceLeft(t, report);
});

t.test('boot-storm boots 3 nodes through ISC dhcpd + in.tftpd and through dnsmasq, with nginx and NFS-Ganesha, two rounds each', async (t) => {
  if (!requireNetns(t)) return;
  const programs = {
    ss: 'iproute2',
    cp: 'coreutils',
    dhcpd: 'isc-dhcp-server',
    'in.tftpd': 'tftpd-hpa',
    dnsmasq: 'dnsmasq-base',
    nginx: 'nginx-light',
    'ganesha.nfsd': 'nfs-ganesha (and nfs-ganesha-vfs)',
    rpcbind: 'rpcbind',
  };
  if (!requirePrograms(t, programs)) return;
  const report = await storm(t, ['--rounds', '2', '--servers', 'isc,dnsmasq', '--http-share', '0.34'], 280_000);
  for (const stack of ['isc', 'dnsmasq']) {
    const best = report.detail.best[stack];
    t.notOk(best.error, `${stack} was measured (${best.error ?? ''})`);
    t.equal(report.detail.rounds[stack].length, 2, `${stack}: two rounds`);
    t.equal(best.up, 3, `${stack}: 3 nodes up`);
    t.equal(best.failed, 0, `${stack}: 0 failed`);
    t.ok(best.nfsCalls >= 3 * report.params.replayCalls, `${stack}: every node replayed the whole boot`);
    t.ok(best.serverCpuS > 0, `${stack}: the servers' CPU was counted`);
    t.type(best.drops?.server?.udpRcvbufErrors, 'number', `${stack}: the server namespace's drop counters were read`);
    t.type(best.drops?.client?.udpRcvbufErrors, 'number', `${stack}: the client namespace's drop counters were read`);
  }
  noNamespaceLeft(t, report);
});

t.test('boot-storm --from mount boots only the NFS part and prices each call, beside a --baseline checkout, plain and image-backed', async (t) => {
  if (!requireNetns(t)) return;
  if (!requirePrograms(t, { ss: 'iproute2', cp: 'coreutils' })) return;
  // This checkout as its own baseline: the stack runs and is reported as another build would be.
  // The baseline's own serve flags: NFS on its main thread (--nfs-workers 1), the default for netboot.
  const report = await storm(t, ['--from', 'mount', '--servers', 'netboot', '--image-root', '--baseline', repoRoot, '--baseline-flags=--nfs-workers 1'], 300_000);
  t.same(report.params.servers, ['netboot', 'netboot-image', 'baseline', 'baseline-image'], '--baseline adds the baseline stack, and with --image-root its image-backed one');
  t.equal(report.detail.best['baseline-image'].imageBootsRecorded, 3, "baseline-image: each node's MOUNT was its boot, recorded in its own state directory's node record");
  t.ok(typeof report.detail.baselineImageVsPlain?.serverCpu === 'number', 'the baseline\'s image/plain ratio of server CPU');
  for (const name of ['netboot', 'netboot-image', 'baseline', 'baseline-image']) {
    const best = report.detail.best[name];
    t.equal(best.up, 3, `${name}: 3 nodes up`);
    t.equal(best.stages.dhcp.p50, null, `${name}: no DHCP stage`);
    t.equal(best.stages.kernel.p50, null, `${name}: no kernel stage`);
    t.type(best.stages.nfs.p50, 'number', `${name}: the NFS stage ran`);
    t.ok(best.serverUsPerNfsCall > 0, `${name}: server CPU per NFS call: ${best.serverUsPerNfsCall} us`);
    // What kind the retransmits were is counted beside them (zero on an idle link).
    for (const k of ['tcpRetransSegs', 'tcpLossProbes', 'tcpTimeouts', 'tcpDsackRecv', 'tcpRcvQDrop']) t.type(best.drops.server[k], 'number', `${name}: ${k} counted`);
    const groups = new Map((best.cpuByThread as { group: string; cpuS: number; threads: number; usPerNfsCall: number }[]).map((g) => [g.group, g]));
    t.ok(groups.has('netboot main'), `${name}: the main thread's CPU is its own line`);
    t.ok(
      [...groups.values()].every((g) => typeof g.usPerNfsCall === 'number' && g.cpuS >= 0),
      `${name}: each thread group's CPU, per NFS call too: ${[...groups.keys()].join(', ')}`,
    );
  }
  // This checkout names its NFS worker threads; the baseline, the same checkout here, was given --nfs-workers 1 alone.
  const hasWorkers = (name: string) => report.detail.best[name].cpuByThread.some((g: { group: string; threads: number }) => g.group === 'netboot nfs-worker' && g.threads >= 1);
  t.ok(hasWorkers('netboot'), 'the NFS workers are told apart');
  t.notOk(hasWorkers('baseline'), '--baseline-flags went to the baseline alone: it served NFS on its main thread');
  t.equal(report.params.baselineFlags, '--nfs-workers 1', 'the baseline flags are in the report');
  noNamespaceLeft(t, report);
});
