// How long `netboot serve` keeps its shared event loop from other services while
// NFS is busy: perf_hooks.monitorEventLoopDelay in the serving process (p50, p99,
// p99.9, max) beside DHCP DORA latency (perfdhcp at a modest rate), first idle,
// then while one NFS client writes at full speed (1 MiB UNSTABLE WRITEs, 4 in
// flight) and another reads (1 MiB READs of a cached file, 4 in flight). DHCP,
// TFTP and NFS run in one process, in a network namespace of its own joined to a
// client namespace by a veth pair (198.19.0.0/16); everything is stopped by PID.
//
//   node bench/serve-loop-delay.js [--json] [--seconds N] [--dhcp-rate N] [--cli PATH]
//
// --cli measures another build of netboot (its packages/netboot/dist/cli.js), e.g. an
// older commit checked out elsewhere, for a before/after comparison on the same machine.
// Needs root (namespaces), perfdhcp (kea-admin), gcc and libnfs-dev (the NFS clients).
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildNfsBench } from './lib/c-client.js';
import { cleanups, load, sleep, startServer, waitFor, which } from './lib/processes.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const flag = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const seconds = Number(flag('--seconds', '10'));
const dhcpRate = Number(flag('--dhcp-rate', '50'));
const cli = flag('--cli', fileURLToPath(new URL('../packages/netboot/dist/cli.js', import.meta.url)));
const probe = fileURLToPath(new URL('./lib/loop-delay-probe.js', import.meta.url));
const say = (s) => {
  if (!json) console.log(s);
};
const fail = (why) => {
  console.error(`serve-loop-delay: ${why}`);
  process.exit(2);
};

if (process.getuid?.() !== 0) fail('needs root (network namespaces)');
const perfdhcp = which('perfdhcp') ?? fail('perfdhcp is not installed (apt-get install kea-admin)');
const nfsBench = buildNfsBench();
if (!nfsBench.path) fail(nfsBench.why);
if (!existsSync(cli)) fail(`${cli} does not exist: build it (npx tsc -b)`);

const atExit = cleanups();
const ip = (...a) => execFileSync('ip', a, { stdio: ['ignore', 'ignore', 'pipe'] });
const tag = randomBytes(3).toString('hex');
const link = { server: `ldS${tag}`, client: `ldC${tag}`, serverIf: `ls${tag}`, clientIf: `lc${tag}` };
ip('netns', 'add', link.server);
atExit.add(() => ip('netns', 'del', link.server));
ip('netns', 'add', link.client);
atExit.add(() => ip('netns', 'del', link.client));
ip('link', 'add', link.serverIf, 'netns', link.server, 'type', 'veth', 'peer', 'name', link.clientIf, 'netns', link.client);
ip('-n', link.server, 'addr', 'add', '198.19.0.1/16', 'dev', link.serverIf);
ip('-n', link.client, 'addr', 'add', '198.19.0.2/16', 'dev', link.clientIf);
for (const [ns, dev] of [[link.server, link.serverIf], [link.client, link.clientIf]]) {
  ip('-n', ns, 'link', 'set', 'lo', 'up');
  ip('-n', ns, 'link', 'set', dev, 'up');
}

const dir = mkdtempSync(join(tmpdir(), 'serve-loop-delay-'));
atExit.add(() => rmSync(dir, { recursive: true, force: true }));
const exp = join(dir, 'export');
mkdirSync(exp);
mkdirSync(join(dir, 'tftp'));
const FILE_SIZE = 256 * 1024 * 1024;
const r = openSync(join(exp, 'r'), 'w');
writeFileSync(r, Buffer.alloc(FILE_SIZE, 7));
closeSync(r);
const w = openSync(join(exp, 'w'), 'w');
ftruncateSync(w, 0);
closeSync(w);
writeFileSync(
  join(dir, 'dhcpd.conf'),
  'authoritative;\ndefault-lease-time 3600;\nsubnet 198.19.0.0 netmask 255.255.0.0 {\n  range 198.19.1.0 198.19.255.254;\n  option routers 198.19.0.1;\n}\n',
);
writeFileSync(join(dir, 'exports'), `${exp} 198.19.0.0/16(rw,insecure,no_root_squash)\n`);
const probeOut = join(dir, 'loop-delay');

const serveArgs = ['--import', probe, cli, 'serve', '--dhcp-conf', join(dir, 'dhcpd.conf'), '--interface', link.serverIf, '--exports', join(dir, 'exports')];
serveArgs.push('--tftp-root', join(dir, 'tftp'), '--state-dir', join(dir, 'state'), '--no-lock');
process.env.NETBOOT_LOOP_DELAY_OUT = probeOut;
const server = startServer(link.server, process.execPath, serveArgs, join(dir, 'serve.log'), atExit);
atExit.add(() => server.stop());
await waitFor(() => /netboot serve: running/.test(server.output()) || (server.exited && fail(`netboot serve exited:\n${server.output()}`)), 'netboot serve', 30_000);

/** The serving process: the one holding the NFS port (under a launcher it is a child of the one started). */
function servingPid() {
  const out = execFileSync('ip', ['netns', 'exec', link.server, 'ss', '-Htlnp', 'sport = :2049'], { encoding: 'utf8' });
  const m = /pid=(\d+)/.exec(out);
  if (!m) fail(`nothing listens on the NFS port:\n${server.output()}`);
  return Number(m[1]);
}
const pid = servingPid();

/** What the probe saw since the last call. */
async function loopDelay() {
  const file = `${probeOut}.${pid}`;
  const before = existsSync(file) ? readFileSync(file, 'utf8').split('\n').length : 1;
  process.kill(pid, 'SIGUSR2');
  const lines = await waitFor(() => existsSync(file) && readFileSync(file, 'utf8').split('\n').length > before && readFileSync(file, 'utf8').trim().split('\n'), 'the probe');
  return JSON.parse(lines[lines.length - 1]);
}

function dora() {
  const argv = ['netns', 'exec', link.client, perfdhcp, '-4', '-r', String(dhcpRate), '-R', '50000', '-p', String(seconds), '198.19.0.1'];
  return new Promise((resolve) => {
    const child = spawn('ip', argv, { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
    atExit.add(() => child.exitCode === null && process.kill(-child.pid, 'SIGKILL'));
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', () => {
      const nums = (re) => [...out.matchAll(re)].map((m) => Number(m[1]));
      const [doAvg, raAvg] = nums(/avg delay: ([\d.]+) ms/g);
      const [doMax, raMax] = nums(/max delay: ([\d.]+) ms/g);
      const [sent] = nums(/sent packets: (\d+)/g);
      const acks = nums(/received packets: (\d+)/g)[1] ?? 0;
      resolve({ doraAvgMs: +(doAvg + raAvg).toFixed(3), doMaxMs: doMax, raMaxMs: raMax, sent, acks });
    });
  });
}

function nfsClient(op, file) {
  const argv = ['netns', 'exec', link.client, nfsBench.path, '--host', '198.19.0.1', '--export', exp, '--file', file, '--op', op];
  argv.push('--io', String(1 << 20), '--inflight', '4', '--size', String(FILE_SIZE), '--seconds', String(seconds + 2), '--warm-ms', '0');
  return new Promise((resolve) => {
    const child = spawn('ip', argv, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    atExit.add(() => child.exitCode === null && process.kill(-child.pid, 'SIGKILL'));
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', () => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()));
      } catch {
        resolve({ error: err.trim() || out.trim() });
      }
    });
  });
}

say(`netboot serve (${cli}), load ${load()}; ${seconds} s per phase, DHCP at ${dhcpRate} DORA/s`);
const phases = [];
await loopDelay(); // start the first window here
const idleDora = await dora();
phases.push({ phase: 'idle', loop: await loopDelay(), dhcp: idleDora });
// Warm the page cache with the file the reader reads, so it measures the server, not the disk.
readFileSync(join(exp, 'r'));
await loopDelay();
const [writer, reader, busyDora] = await Promise.all([nfsClient('write', 'w'), nfsClient('read', 'r'), sleep(1000).then(dora)]);
phases.push({ phase: 'nfs write + read', loop: await loopDelay(), dhcp: busyDora, nfs: { writeMBps: writer.MBps, readMBps: reader.MBps, errors: [writer.error, reader.error].filter(Boolean) } });
await server.stop();
atExit.run();

if (json) console.log(JSON.stringify({ benchmark: 'serve-loop-delay', cli, seconds, dhcpRate, phases }));
for (const p of phases) {
  const l = p.loop;
  say(`${p.phase.padEnd(17)} loop delay p50 ${l.p50} ms, p99 ${l.p99} ms, p99.9 ${l.p999} ms, max ${l.max} ms`);
  say(`${''.padEnd(17)} DORA avg ${p.dhcp.doraAvgMs} ms (DO max ${p.dhcp.doMaxMs}, RA max ${p.dhcp.raMaxMs}), ${p.dhcp.acks}/${p.dhcp.sent} acked`);
  if (p.nfs) say(`${''.padEnd(17)} NFS write ${p.nfs.writeMBps} MB/s, read ${p.nfs.readMBps} MB/s${p.nfs.errors.length ? `; errors: ${p.nfs.errors.join('; ')}` : ''}`);
}
