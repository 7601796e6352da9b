// A boot storm end to end: N simulated diskless nodes power on at once and
// each goes the whole way a PXE node goes (bench/lib/boot-nodes.js): DHCP DORA
// with PXE options from its own MAC, TFTP of pxelinux.0 and of its pxelinux
// config (the names pxelinux tries: misses, then the subnet's file), kernel
// and initrd (over HTTP for a share of the nodes, as iPXE and UEFI HTTP Boot
// fetch them), portmap and MOUNT of its own root, then the NFS calls of a boot
// (bench/boot-replay.json) replayed against that root. The same run boots the
// same nodes against each server stack:
//   netboot  `netboot serve` (DHCP, TFTP, HTTP, portmap, mountd, NFS in one process)
//   isc      ISC dhcpd + in.tftpd (tftpd-hpa) + nginx + NFS-Ganesha (with rpcbind)
//   dnsmasq  dnsmasq (DHCP + TFTP) + nginx + NFS-Ganesha (with rpcbind)
//   baseline `netboot serve` of another built checkout (--baseline DIR), as netboot:
//            a change measured beside the code it changes, in the same run
//   netboot-image  `netboot serve` with every node's root image-backed: the
//            template imported once (`netboot image import`), each node
//            added over it (NodeRoots, as `netboot add-node --image` does),
//            its root DISKLESS/IP exported to its address only
//   baseline-image  the baseline's `netboot serve` on image-backed roots of
//            its own (another import, the same nodes), when both --baseline
//            and netboot-image are in the run
// With netboot-image in the run (or --image-root, which adds it), every
// node gets a fixed address from a host entry (198.19.0.0/16, in the
// subnet, outside the dynamic range), for every stack, and mounts and
// speaks NFS from it: an image-backed root is keyed by the node's address
// and its MOUNT is its boot only from that address. So the plain and the
// image-backed netboot boot the same nodes the same way but for the root.
// Each stack runs in a network namespace of its own at 198.18.0.1, joined by
// a veth pair to a client namespace whose addresses (198.18.0.2 and up, one per
// client process) act as DHCP relays: every node's DHCP goes out relayed
// (giaddr), so one socket serves many MACs without a namespace per node, and
// all three DHCP servers accept relayed requests. Servers start fresh for each
// round (empty lease files); every node's root is a hard-link farm (`cp -al`)
// of one template tree, made once per run.
//
//   node bench/boot-storm.js [--nodes N] [--rounds R] [--servers netboot,isc,dnsmasq,netboot-image,baseline,baseline-image] [--image-root]
//        [--baseline DIR] [--kernel-mib M] [--initrd-mib M] [--http-share F] [--client-procs P] [--timeout-s S] [--json [FILE]]
//        [--until dhcp|pxelinux|kernel|mount|nfs] [--from dhcp|pxelinux|mount] [--netboot-flags "FLAGS"] [--netboot-node-flags "FLAGS"]
//        [--baseline-flags "FLAGS"] [--baseline-node-flags "FLAGS"] [--profile DIR]
//
// --until ends each node's boot after that stage (a DHCP-only storm of 5000
// nodes costs seconds); --from starts it at that stage with the lease DHCP
// would give (pxelinux: every node's first RRQ at once; mount: the NFS part
// alone, with the servers' CPU per replayed call); --netboot-flags adds flags to netboot serve's command
// line (later ones win: --netboot-flags="--max-transfers 256" tries the
// default slots); --netboot-node-flags gives node's own flags to netboot serve
// alone (--perf-basic-prof for perf, --trace-opt); both go to the baseline's
// serve too unless --baseline-flags or --baseline-node-flags give it its own
// (--baseline . --netboot-node-flags=--maglev --baseline-node-flags= prices a
// V8 setting beside the default in the same rounds); --profile DIR runs netboot
// serve and the client processes under the V8 profiler.
//
// Reported per stack (the best of its rounds: fewest failed nodes, then the
// soonest all up): seconds until every node is up, per-node p50/p99, each
// stage's p50/p99, retries, failed nodes, server CPU (user + system of every
// server process, forked children included) and peak RSS (summed over the
// server processes, sampled every 250 ms), and the clients' CPU.
//
// Needs root (namespaces) and iproute2; a stack whose programs are missing is
// skipped with the reason: isc needs dhcpd (isc-dhcp-server), in.tftpd
// (tftpd-hpa), nginx (nginx-light), ganesha.nfsd (nfs-ganesha, nfs-ganesha-vfs)
// and rpcbind; dnsmasq needs dnsmasq (dnsmasq-base), nginx, Ganesha, rpcbind.
import { spawn, spawnSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuGroup } from './lib/cpu-group.js';
import { countersSince, netCounters } from './lib/net-counters.js';
import { startGanesha } from './lib/nfs-servers.js';
import { cleanups, createNetns, load, sh, sleep, startServer, waitFor, which } from './lib/processes.js';
import { cell as jsonCell, report } from './lib/report.js';
import { cpuByThread, threadSnapshot } from './lib/thread-cpu.js';

const script = fileURLToPath(import.meta.url);
const cli = fileURLToPath(new URL('../packages/netboot/dist/cli.js', import.meta.url));
const replayFile = fileURLToPath(new URL('boot-replay.json', import.meta.url));
const MiB = 1024 * 1024;
const SERVER = '198.18.0.1';
const PREFIX = 15;
const STACKS = ['netboot', 'isc', 'dnsmasq', 'netboot-image', 'baseline', 'baseline-image'];
const DEFAULT_STACKS = ['netboot', 'isc', 'dnsmasq'];
const IMAGE = 'storm';
/** The stack column: fits baseline-image. */
const NAME_WIDTH = 16;
/** The stacks that serve image-backed roots (each its own state directory and roots: `ctx.images[name]`). */
const isImageStack = (name) => name === 'netboot-image' || name === 'baseline-image';
const STAGES = ['dhcp', 'pxelinux', 'kernel', 'mount', 'nfs'];

// `--json` alone prints the report on stdout, as the other benches do; `--json FILE` writes it to FILE.
const argv = process.argv.slice(2).flatMap((a, i, all) => (a === '--json' && (i === all.length - 1 || all[i + 1].startsWith('--')) ? [a, '-'] : [a]));
const { values } = parseArgs({
  args: argv,
  options: {
    nodes: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '1' },
    servers: { type: 'string', default: DEFAULT_STACKS.join(',') },
    'image-root': { type: 'boolean', default: false },
    baseline: { type: 'string' },
    'kernel-mib': { type: 'string', default: '2' },
    'initrd-mib': { type: 'string', default: '4' },
    'http-share': { type: 'string', default: '0.2' },
    'client-procs': { type: 'string' },
    'timeout-s': { type: 'string', default: '900' },
    json: { type: 'string' },
    measure: { type: 'string' },
    profile: { type: 'string' },
    'netboot-flags': { type: 'string', default: '' },
    'netboot-node-flags': { type: 'string', default: '' },
    'baseline-flags': { type: 'string' },
    'baseline-node-flags': { type: 'string' },
    until: { type: 'string', default: 'nfs' },
    from: { type: 'string', default: 'dhcp' },
  },
});

/** --baseline DIR: that checkout's built command, run as stack `baseline` with netboot's arguments. */
const baselineCli = values.baseline ? resolve(values.baseline, 'packages/netboot/dist/cli.js') : undefined;

if (values.measure) {
  // A client process inside the client namespace: boots its slice of nodes and prints one JSON line.
  const { bootNodes } = await import('./lib/boot-nodes.js');
  const spec = JSON.parse(readFileSync(values.measure, 'utf8'));
  console.log(JSON.stringify(await bootNodes({ ...spec, replayFile })));
  process.exit(0);
}

/** With --profile DIR, netboot serve and the client processes run under the V8 profiler: DIR/netboot, DIR/client-N (a .cpuprofile per thread). */
function profileArgs(tag) {
  return values.profile ? ['--cpu-prof', `--cpu-prof-dir=${join(values.profile, tag)}`] : [];
}

/** Deterministic bytes for a file of the trees (AES-CTR keyed by its path), so a wrong byte anywhere is caught by the clients' compare. */
function contentOf(path, size) {
  const key = createHash('sha256').update(path).digest();
  return createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16)).update(Buffer.alloc(size));
}

/** The TFTP/HTTP root: pxelinux.0, the subnet's pxelinux config, kernel and initrd. */
function writeBootFiles(dir, kernelMiB, initrdMiB, rootsDir) {
  mkdirSync(join(dir, 'pxelinux.cfg'), { recursive: true });
  writeFileSync(join(dir, 'pxelinux.0'), contentOf('pxelinux.0', 42_000));
  writeFileSync(join(dir, 'vmlinuz'), contentOf('vmlinuz', Math.round(kernelMiB * MiB)));
  writeFileSync(join(dir, 'initrd.img'), contentOf('initrd.img', Math.round(initrdMiB * MiB)));
  // C612: 198.18 in hex, the config for the whole subnet (pxelinux finds it after 01-MAC and the longer hex names);
  // C613 the same for its other half, 198.19, where the fixed addresses are.
  for (const name of ['C612', 'C613']) {
    writeFileSync(
      join(dir, 'pxelinux.cfg', name),
      `DEFAULT linux\nLABEL linux\n  KERNEL vmlinuz\n  INITRD initrd.img\n  APPEND root=/dev/nfs nfsroot=${SERVER}:${rootsDir}/MAC ip=dhcp ro\n`,
    );
  }
}

/** Node `index`'s fixed address: 198.19.1.1 and up, 250 a third octet (no .0 or .255 among them). */
const fixedAddress = (index) => `198.19.${1 + Math.floor(index / 250)}.${1 + (index % 250)}`;

/** dhcpd.conf host entries giving each node its fixed address (netboot and ISC dhcpd read them). */
function hostBlocks(nodes) {
  return nodes.map((n) => `host storm-${n.index} { hardware ethernet ${n.mac}; fixed-address ${n.ip}; }\n`).join('');
}

/**
 * The image-backed roots, once per run: the template imported as image IMAGE
 * into `stateDir` with `netboot image import`, then every node added over
 * it as `netboot add-node IP --image` adds one (NodeRoots.add; no seed: the
 * replay reads the template's own etc/hostname), its root DIR/IP an empty
 * directory exported to the node's address alone. add-node itself is not
 * run per node: a process each would take minutes at N=1000, and it writes
 * exports lines with options of its own, where these keep the plain
 * export's (async, insecure) so the two stacks differ only in the root.
 */
async function makeImageRoots(template, stateDir, dir, nodes, exportsFile) {
  const r = spawnSync(process.execPath, [cli, 'image', 'import', IMAGE, template, '--state-dir', stateDir], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`netboot image import failed: ${(r.stderr || r.error?.message || '').trim()}`);
  const { NodeRoots } = await import('@netboot/image-store');
  const roots = new NodeRoots(stateDir);
  for (const n of nodes) {
    await roots.add({ ip: n.ip, image: IMAGE, root: join(dir, n.ip) });
    mkdirSync(join(dir, n.ip), { recursive: true });
  }
  writeFileSync(exportsFile, nodes.map((n) => `${join(dir, n.ip)} ${n.ip}(rw,no_root_squash,insecure,async)\n`).join(''));
  return Number(r.stdout.trim());
}

/** The template root from the replay file's tree; each node's root is a hard-link farm of it. */
function writeTemplate(dir, tree) {
  mkdirSync(dir, { recursive: true });
  for (const [type, p, x] of tree) {
    const at = join(dir, p);
    if (type === 'd') mkdirSync(at, { recursive: true });
    else if (type === 'f') writeFileSync(at, contentOf(p, x));
    else symlinkSync(x, at);
  }
}

function makeRoots(template, rootsDir, macs) {
  mkdirSync(rootsDir, { recursive: true });
  // One shell runs the copies: a process per node from here would cost more than the copies.
  const list = join(rootsDir, '..', 'macs');
  writeFileSync(list, macs.map((m) => m.replaceAll(':', '-')).join('\n') + '\n');
  const r = spawnSync('sh', ['-c', 'while read m; do cp -al "$0" "$1/$m" || exit 1; done < "$2"', template, rootsDir, list], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`cp -al of the node roots failed: ${r.stderr || r.error?.message}`);
}

function dhcpdConf(rootsDir, hosts = '') {
  return `# The boot storm's subnet: every node is relayed from 198.18.0.2 and up.
ddns-update-style none;
authoritative;
default-lease-time 3600;
max-lease-time 7200;
subnet 198.18.0.0 netmask 255.254.0.0 {
  range 198.18.1.0 198.18.255.254;
  next-server ${SERVER};
  filename "pxelinux.0";
  option root-path "${SERVER}:${rootsDir}";
}
${hosts}`;
}

const ip = (...a) => {
  const r = sh('ip', a);
  if (r.status !== 0) throw new Error(`ip ${a.join(' ')}: ${r.stderr.trim()}`);
};

/** Every namespace this run made, in the JSON report: a test checks that none is left, whatever other runs do meanwhile. */
const namespacesMade = [];

/** A server namespace and a client namespace joined by a veth pair; the client side holds the relay addresses and the nodes' fixed ones. */
function makeLink(atExit, relays, fixed) {
  const server = createNetns('nbbs', atExit);
  const client = createNetns('nbbc', atExit);
  namespacesMade.push(...[server.ns, client.ns].filter(Boolean));
  if (!server.ns || !client.ns) throw new Error(server.why ?? client.why);
  const tag = server.ns.slice(-6);
  const link = { server: server.ns, client: client.ns, serverIf: `bss${tag}`, clientIf: `bsc${tag}` };
  ip('link', 'add', link.serverIf, 'netns', link.server, 'type', 'veth', 'peer', 'name', link.clientIf, 'netns', link.client);
  ip('-n', link.server, 'addr', 'add', `${SERVER}/${PREFIX}`, 'dev', link.serverIf);
  for (const r of relays) ip('-n', link.client, 'addr', 'add', `${r}/${PREFIX}`, 'dev', link.clientIf);
  if (fixed.length > 0) {
    // One ip process for all of them (thousands at N=1000).
    const r = spawnSync('ip', ['-n', link.client, '-batch', '-'], { input: fixed.map((a) => `addr add ${a}/32 dev ${link.clientIf}\n`).join(''), encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`ip -batch (the nodes' addresses): ${(r.stderr || r.error?.message || '').trim()}`);
  }
  ip('-n', link.server, 'link', 'set', link.serverIf, 'up');
  ip('-n', link.client, 'link', 'set', link.clientIf, 'up');
  return link;
}

/** Waits until every port in `tcp`/`udp` is bound in `ns` (the C servers print nothing when ready). */
async function waitListening(ns, { tcp = [], udp = [] }, what, alive) {
  await waitFor(() => {
    if (!alive()) return true;
    const out = sh('ip', ['netns', 'exec', ns, 'ss', '-Hln']).stdout ?? '';
    const bound = (proto, port) => out.split('\n').some((l) => l.startsWith(proto) && new RegExp(`:${port}\\s`).test(l));
    return tcp.every((p) => bound('tcp', p)) && udp.every((p) => bound('udp', p));
  }, what, 60_000);
}

/** Sum over the processes of these process groups: CPU seconds (reaped children included) and RSS in MB. */
function groupUsage(pgids) {
  let ticks = 0;
  let kb = 0;
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (!pgids.includes(Number(f[2]))) continue;
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
      const m = readFileSync(`/proc/${p}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
      if (m) kb += Number(m[1]);
    } catch {
      // the process ended while we looked
    }
  }
  return { cpu: ticks / 100, rssMB: kb / 1024 };
}

/** A netboot stack's extra flags of one kind (`flags`: serve's, `node-flags`: node's): the baseline's own where given, else netboot's. */
function flagsOf(name, kind) {
  const own = name.startsWith('baseline') ? values[`baseline-${kind}`] : undefined;
  return (own ?? values[`netboot-${kind}`]).split(/\s+/).filter(Boolean);
}

/** Starts one stack in `link.server`; returns its servers (each in its own process group) or { why }. */
async function startStack(name, { link, work, bootDir, rootsDir, image, fixedNodes, atExit }) {
  const servers = [];
  const start = (tag, cmd, args) => {
    const s = startServer(link.server, cmd, args, join(work, `${tag}.log`), atExit);
    servers.push(s);
    return s;
  };
  const alive = () => servers.every((s) => !s.exited);
  const died = () => servers.map((s, i) => (s.exited ? `${['first', 'second', 'third', 'fourth'][i]} server exited: ${s.output().trim().split('\n').slice(-3).join(' | ')}` : '')).filter(Boolean).join('; ');
  const exportsFile = join(work, 'exports');
  writeFileSync(exportsFile, `${rootsDir} 198.18.0.0/15(rw,no_root_squash,insecure,async)\n`);
  const hosts = hostBlocks(fixedNodes);
  writeFileSync(join(work, 'dhcpd.conf'), dhcpdConf(isImageStack(name) ? image.rootsDir : rootsDir, hosts));
  if (name === 'netboot' || name === 'baseline' || isImageStack(name)) {
    // An image-backed stack keeps its images and nodes in its image state directory; its leases start empty each round, as the others'.
    const state = !isImageStack(name) ? ['--state-dir', join(work, 'netboot-state')] : ['--state-dir', image.stateDir, '--leases', join(work, 'dhcpd.leases')];
    const s = start(name, process.execPath, [
      ...profileArgs(name), ...flagsOf(name, 'node-flags'),
      name.startsWith('baseline') ? baselineCli : cli, 'serve', '--dhcp-conf', join(work, 'dhcpd.conf'), '--interface', link.serverIf, '--tftp-root', bootDir, '--http-port', '80',
      '--exports', isImageStack(name) ? image.exportsFile : exportsFile, '--listen', SERVER, ...state, '--no-lock', '--max-transfers', '4096',
      // Later flags win: --netboot-flags tries other pacing, worker or thread settings on the same storm.
      ...flagsOf(name, 'flags'),
    ]);
    await waitFor(() => s.exited || s.output().includes('netboot serve: running'), 'netboot serve', 60_000);
    if (s.exited) return { why: `netboot serve did not start: ${s.output().trim().split('\n').slice(-3).join(' | ')}` };
    return { servers };
  }
  const programs = { nginx: which('nginx'), ganesha: which('ganesha.nfsd'), rpcbind: which('rpcbind') };
  if (name === 'isc') Object.assign(programs, { dhcpd: which('dhcpd'), 'in.tftpd': which('in.tftpd') });
  else programs.dnsmasq = which('dnsmasq');
  const missing = Object.entries(programs).filter(([, p]) => !p).map(([n]) => n);
  if (missing.length) return { why: `not installed: ${missing.join(', ')} (apt-get install isc-dhcp-server tftpd-hpa dnsmasq-base nginx-light nfs-ganesha nfs-ganesha-vfs rpcbind)` };

  const g = await startGanesha({ dir: rootsDir, work, atExit, ns: link.server, bindAddress: SERVER, clients: '198.18.0.0/15' });
  if (g.why) return { why: `NFS-Ganesha: ${g.why}` };
  servers.push(g.server);
  writeFileSync(
    join(work, 'nginx.conf'),
    `daemon off;\nuser root;\nworker_processes auto;\npid ${work}/nginx.pid;\nerror_log ${work}/nginx-error.log;\n` +
      `events { worker_connections 8192; }\n` +
      `http {\n  access_log ${work}/nginx-access.log;\n  sendfile on;\n  tcp_nopush on;\n  keepalive_timeout 65;\n  default_type application/octet-stream;\n` +
      `  client_body_temp_path ${work}/nginx-body;\n  proxy_temp_path ${work}/nginx-proxy;\n  fastcgi_temp_path ${work}/nginx-fastcgi;\n` +
      `  uwsgi_temp_path ${work}/nginx-uwsgi;\n  scgi_temp_path ${work}/nginx-scgi;\n` +
      `  server { listen ${SERVER}:80; root ${bootDir}; }\n}\n`,
  );
  start('nginx', programs.nginx, ['-c', join(work, 'nginx.conf'), '-e', join(work, 'nginx-error.log')]);
  if (name === 'isc') {
    // dhcpd pings an address before offering it (a second per new node); netboot and dnsmasq (--no-ping) do not.
    writeFileSync(join(work, 'isc-dhcpd.conf'), `ping-check false;\n${dhcpdConf(rootsDir, hosts)}`);
    writeFileSync(join(work, 'isc-dhcpd.leases'), '');
    start('dhcpd', programs.dhcpd, ['-4', '-f', '-cf', join(work, 'isc-dhcpd.conf'), '-lf', join(work, 'isc-dhcpd.leases'), '-pf', join(work, 'dhcpd.pid'), link.serverIf]);
    start('in.tftpd', programs['in.tftpd'], ['-L', '-s', bootDir, '-a', `${SERVER}:69`]);
  } else {
    // The fixed addresses as dnsmasq takes them: MAC,IP a line.
    if (hosts) writeFileSync(join(work, 'dnsmasq.hosts'), fixedNodes.map((n) => `${n.mac},${n.ip}\n`).join(''));
    start('dnsmasq', programs.dnsmasq, [
      '--no-daemon', '--conf-file=/dev/null', '--port=0', '--user=root', '--group=root', '--pid-file=', `--interface=${link.serverIf}`, '--bind-interfaces',
      '--dhcp-authoritative', '--no-ping', '--dhcp-range=198.18.1.0,198.18.255.254,255.254.0.0,1h', `--dhcp-boot=pxelinux.0,,${SERVER}`,
      `--dhcp-option=17,${SERVER}:${rootsDir}`, '--dhcp-lease-max=100000', `--dhcp-leasefile=${join(work, 'dnsmasq.leases')}`,
      '--enable-tftp', `--tftp-root=${bootDir}`, '--tftp-max=10000', '--log-facility=-', ...(hosts ? [`--dhcp-hostsfile=${join(work, 'dnsmasq.hosts')}`] : []),
    ]);
  }
  try {
    await waitListening(link.server, { tcp: [80, 2049, 20048, 111], udp: [67, 69] }, `the ${name} stack`, alive);
  } catch (e) {
    return { why: `${e.message}: ${died()}` };
  }
  if (!alive()) return { why: died() };
  return { servers };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
const secs = (ms) => (ms === null ? null : Number((ms / 1000).toFixed(2)));

/** Runs the client processes in the client namespace; resolves with their parsed output. */
function runClients(link, specs, work, timeoutMs, atExit) {
  return Promise.all(
    specs.map(
      (spec, i) =>
        new Promise((resolve) => {
          const file = join(work, `clients-${i}.json`);
          writeFileSync(file, JSON.stringify(spec));
          const errFile = join(work, `clients-${i}.err`);
          const errFd = openSync(errFile, 'w');
          const child = spawn('ip', ['netns', 'exec', link.client, process.execPath, ...profileArgs(`client-${i}`), script, '--measure', file], {
            detached: true,
            stdio: ['ignore', 'pipe', errFd],
          });
          closeSync(errFd);
          atExit.add(() => {
            try {
              process.kill(-child.pid, 'SIGKILL');
            } catch {
              // ended
            }
          });
          let out = '';
          child.stdout.on('data', (d) => (out += d));
          const timer = setTimeout(() => {
            try {
              process.kill(-child.pid, 'SIGKILL');
            } catch {
              // gone
            }
          }, timeoutMs);
          child.on('close', (code, signal) => {
            clearTimeout(timer);
            try {
              resolve(JSON.parse(out.trim().split('\n').pop()));
            } catch {
              const err = readFileSync(errFile, 'utf8').trim().split('\n').slice(-3).join(' | ');
              resolve({ error: `client process ${i} ended with ${signal ?? `exit ${code}`}: ${err}` });
            }
          });
        }),
    ),
  );
}

/** Cleanup steps of a part of the run: run at its end, or by `parent` (on SIGINT, say) if it is cut short. */
function scope(parent) {
  const steps = [];
  const run = () => {
    for (const f of steps.splice(0).reverse()) {
      try {
        f();
      } catch {
        // best effort: the rest must still run
      }
    }
  };
  parent.add(run);
  return { add: (f) => steps.push(f), run };
}

/** One stack, one round: fresh namespaces and servers, all nodes at once. */
async function round(name, ctx) {
  const atExit = scope(ctx.atExit);
  const work = mkdtempSync(join(ctx.work, `${name}-`));
  chmodSync(work, 0o755);
  try {
    const link = makeLink(atExit, ctx.relays, ctx.fixed ? ctx.nodes.map((n) => n.ip) : []);
    const started = await startStack(name, { link, work, bootDir: ctx.bootDir, rootsDir: ctx.rootsDir, image: ctx.images[name], fixedNodes: ctx.fixed ? ctx.nodes : [], atExit });
    if (started.why) return { error: `not measured: ${started.why}` };
    const pgids = started.servers.map((s) => s.pid);
    // Server CPU from a cgroup where there is one (exited children counted), else summed over /proc.
    const group = cpuGroup(name, atExit);
    group?.adopt(pgids);
    const cpuNow = () => group?.cpu() ?? groupUsage(pgids).cpu;
    const before = groupUsage(pgids);
    const threads0 = threadSnapshot(pgids);
    const cpu0 = cpuNow();
    let peakRss = before.rssMB;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peakRss = Math.max(peakRss, groupUsage(pgids).rssMB);
        await sleep(250);
      }
    })();
    const roundStart = Date.now();
    const xidBase = (roundStart * 7919) >>> 0;
    const specs = ctx.relays.map((relay, i) => ({
      nodes: ctx.nodes.filter((n) => n.index % ctx.relays.length === i),
      relay,
      server: SERVER,
      bootDir: ctx.bootDir,
      templateDir: ctx.templateDir,
      xidBase,
      rootBy: isImageStack(name) ? 'ip' : 'mac',
      until: ctx.until,
      // --from pxelinux or mount: the root DHCP's root-path names, told to the nodes instead.
      from: ctx.from,
      rootPath: `${SERVER}:${isImageStack(name) ? ctx.images[name].rootsDir : ctx.rootsDir}`,
    }));
    const net0 = { server: netCounters(link.server), client: netCounters(link.client) };
    const wall0 = performance.now();
    const outs = await runClients(link, specs, work, ctx.timeoutMs, atExit);
    const wallS = (performance.now() - wall0) / 1000;
    const serverCpu = cpuNow() - cpu0;
    const threads1 = threadSnapshot(pgids);
    const drops = { server: countersSince(net0.server, netCounters(link.server)), client: countersSince(net0.client, netCounters(link.client)) };
    sampling = false;
    await sampler;
    const lost = started.servers.filter((s) => s.exited).map((s) => s.output().trim().split('\n').slice(-2).join(' | '));
    for (const s of started.servers) await s.stop();
    const failedProcs = outs.filter((o) => o.error);
    if (failedProcs.length) return { error: failedProcs.map((o) => o.error).join('; ') };
    const m = summarize(outs, { serverCpu, peakRss, lost, wallS, drops });
    m.serverCpuFrom = group ? 'cgroup' : 'proc';
    m.cpuByThread = cpuByThread(threads0, threads1, group ? serverCpu : undefined);
    // The NFS part alone: what the servers spent per call of the boot's replay (MOUNT's few calls included).
    if (ctx.from === 'mount' && m.nfsCalls > 0) {
      m.serverUsPerNfsCall = Math.round((serverCpu * 1e6) / m.nfsCalls);
      for (const t of m.cpuByThread) t.usPerNfsCall = Number(((t.cpuS * 1e6) / m.nfsCalls).toFixed(1));
    }
    // Each node's MOUNT of its image-backed root, from its own address, is its boot: the server records it in the node's record.
    if (isImageStack(name)) m.imageBootsRecorded = await bootsRecordedSince(ctx.images[name].stateDir, roundStart);
    return m;
  } finally {
    atExit.run();
  }
}

function summarize(outs, { serverCpu, peakRss, lost, wallS, drops }) {
  const records = outs.flatMap((o) => o.records);
  const ok = records.filter((r) => r.ok);
  const failed = records.filter((r) => !r.ok);
  const ms = ok.map((r) => r.ms).sort((a, b) => a - b);
  const stages = {};
  for (const s of STAGES) {
    const v = ok.map((r) => r.stages[s]).filter((x) => x !== undefined).sort((a, b) => a - b);
    stages[s] = { p50: secs(percentile(v, 50)), p99: secs(percentile(v, 99)) };
  }
  const sum = (f) => records.reduce((a, r) => a + (r[f] ?? 0), 0);
  const failures = {};
  for (const r of failed) failures[`${r.stage}: ${r.error}`] = (failures[`${r.stage}: ${r.error}`] ?? 0) + 1;
  return {
    up: ok.length,
    failed: failed.length,
    allUpS: failed.length === 0 ? secs(Math.max(...ok.map((r) => r.doneAt))) : null,
    lastUpS: ok.length ? secs(Math.max(...ok.map((r) => r.doneAt))) : null,
    p50: secs(percentile(ms, 50)),
    p99: secs(percentile(ms, 99)),
    stages,
    retries: { dhcp: sum('dhcpRetries'), tftp: sum('tftpRetries'), http: sum('httpRetries'), nfs: sum('nfsRetries') },
    nfsCalls: sum('nfsCalls'),
    nfsMiB: Number((sum('nfsBytes') / MiB).toFixed(1)),
    serverCpuS: Number(serverCpu.toFixed(2)),
    serverPeakRssMB: Math.round(peakRss),
    clientCpuS: Number(outs.reduce((a, o) => a + o.cpuSeconds, 0).toFixed(2)),
    clientProcs: outs.length,
    // Cores each side kept busy over the storm: a client process near 1 was the bottleneck.
    clientCores: Number((outs.reduce((a, o) => a + o.cpuSeconds, 0) / wallS).toFixed(2)),
    serverCores: Number((serverCpu / wallS).toFixed(2)),
    wallS: Number(wallS.toFixed(2)),
    drops,
    failures,
    serversLost: lost,
  };
}

/** How many image-backed nodes' records say they booted at or after `since` (ms since the epoch). */
async function bootsRecordedSince(stateDir, since) {
  const { NodeRoots } = await import('@netboot/image-store');
  return (await new NodeRoots(stateDir).list()).filter((r) => (r.bootedAt ?? 0) >= since).length;
}

/** The image-backed stack's figures over the plain one's (lower is better for each: above 1, the image costs more), or undefined unless both were measured. */
function imageRatios(plain, image) {
  if (!plain || plain.error || !image || image.error) return undefined;
  const r = (a, b) => (typeof a === 'number' && typeof b === 'number' && a > 0 && b > 0 ? Number((b / a).toFixed(3)) : null);
  return {
    allUp: r(plain.allUpS, image.allUpS),
    nodeP50: r(plain.p50, image.p50),
    nodeP99: r(plain.p99, image.p99),
    mountP50: r(plain.stages.mount.p50, image.stages.mount.p50),
    nfsP50: r(plain.stages.nfs.p50, image.stages.nfs.p50),
    serverCpu: r(plain.serverCpuS, image.serverCpuS),
  };
}

const better = (m, prev) => !prev || prev.error || (!m.error && (m.failed < prev.failed || (m.failed === prev.failed && (m.lastUpS ?? Infinity) < (prev.lastUpS ?? Infinity))));

function printRow(name, r, rounds) {
  if (r.error) return console.log(`${name.padEnd(NAME_WIDTH)}${r.error}`);
  const f = (v) => (v === null ? '-' : String(v));
  console.log(
    `${name.padEnd(NAME_WIDTH)}${(r.allUpS !== null ? String(r.allUpS) : r.lastUpS !== null ? `(${r.lastUpS})` : '-').padStart(9)}${f(r.p50).padStart(7)}${f(r.p99).padStart(7)}` +
      STAGES.map((s) => `${f(r.stages[s].p50)}/${f(r.stages[s].p99)}`.padStart(16)).join('') +
      `${String(r.up).padStart(6)}${String(r.failed).padStart(7)}${`${r.retries.dhcp}/${r.retries.tftp}/${r.retries.http}/${r.retries.nfs}`.padStart(12)}` +
      `${String(r.serverCpuS).padStart(9)}${String(r.serverPeakRssMB).padStart(8)}${String(r.clientCpuS).padStart(9)}  ${rounds}`,
  );
  for (const [why, n] of Object.entries(r.failures)) console.log(`         ${n} x ${why}`);
  for (const l of r.serversLost) console.log(`         a server exited during the storm: ${l}`);
  if (r.imageBootsRecorded !== undefined) console.log(`         ${r.imageBootsRecorded} of ${r.up + r.failed} nodes' boots recorded in their node records (their MOUNT, from their own address)`);
  printDrops(r);
  if (r.cpuByThread?.length) {
    const part = (t) => `${t.group}${t.threads > 1 ? ` x${t.threads}` : ''} ${t.cpuS}${t.usPerNfsCall !== undefined ? ` (${t.usPerNfsCall} us/call)` : ''}`;
    console.log(`         server CPU s by thread: ${r.cpuByThread.filter((t) => t.cpuS >= 0.005).map(part).join(', ')}`);
  }
}

/** What a side's TCP retransmits were (see net-counters.js). */
const retransmitKinds = (d) => `${d.tcpLossProbes ?? 0} tail-loss probes, ${d.tcpTimeouts ?? 0} timeouts, ${d.tcpDsackRecv ?? 0} reported duplicate by the peer`;
const tcpDrops = (d) => (d.tcpRcvQDrop ?? 0) + (d.tcpBacklogDrop ?? 0) + (d.tcpOfoDrop ?? 0) + (d.tcpZeroWindowDrop ?? 0);

/** Cores busy, and where datagrams and connections were dropped: the side whose socket dropped them caused the retries. */
function printDrops(r) {
  const said = [];
  for (const side of ['server', 'client']) {
    const d = r.drops?.[side];
    if (!d) continue;
    const parts = [
      d.udpRcvbufErrors && `${d.udpRcvbufErrors} UDP receive-buffer drops`,
      d.udpSndbufErrors && `${d.udpSndbufErrors} UDP send-buffer drops`,
      d.tcpListenOverflows && `${d.tcpListenOverflows} listen-queue overflows`,
      d.tcpRetransSegs && `${d.tcpRetransSegs} TCP retransmits (${retransmitKinds(d)})`,
      tcpDrops(d) && `${tcpDrops(d)} TCP segments dropped by a full receive queue`,
    ].filter(Boolean);
    if (parts.length) said.push(`${side} side: ${parts.join(', ')}`);
  }
  const perCall = r.serverUsPerNfsCall !== undefined ? `, server ${r.serverUsPerNfsCall} us per NFS call` : '';
  console.log(`         cores busy: server ${r.serverCores}, clients ${r.clientCores} (of ${r.wallS} s)${perCall}${said.length ? `; ${said.join('; ')}` : ''}`);
}

async function main() {
  const nodes = Number(values.nodes);
  const rounds = Number(values.rounds);
  const servers = values.servers.split(',');
  if (values['image-root'] && !servers.includes('netboot-image')) servers.push('netboot-image');
  if (values.baseline && !servers.includes('baseline')) servers.push('baseline');
  if (values.baseline && servers.includes('netboot-image') && !servers.includes('baseline-image')) servers.push('baseline-image');
  const kernelMiB = Number(values['kernel-mib']);
  const initrdMiB = Number(values['initrd-mib']);
  const httpShare = Number(values['http-share']);
  const clientProcs = Number(values['client-procs'] ?? Math.max(1, Math.ceil(nodes / 500)));
  const timeoutMs = Number(values['timeout-s']) * 1000;
  if (
    !(Number.isInteger(nodes) && nodes >= 1 && nodes <= 5000) ||
    !(Number.isInteger(rounds) && rounds >= 1 && rounds <= 10) ||
    servers.some((s) => !STACKS.includes(s)) ||
    servers.includes('baseline') !== Boolean(values.baseline) ||
    (servers.includes('baseline-image') && !values.baseline) ||
    !(kernelMiB > 0 && kernelMiB <= 256 && initrdMiB > 0 && initrdMiB <= 1024) ||
    !(httpShare >= 0 && httpShare <= 1) ||
    !(Number.isInteger(clientProcs) && clientProcs >= 1 && clientProcs <= 16) ||
    !STAGES.includes(values.until) ||
    !['dhcp', 'pxelinux', 'mount'].includes(values.from) ||
    STAGES.indexOf(values.until) < STAGES.indexOf(values.from) ||
    !(timeoutMs > 0)
  ) {
    console.error(
      'usage: node bench/boot-storm.js [--nodes N (1-5000)] [--rounds R (1-10)] [--servers netboot,isc,dnsmasq,netboot-image,baseline,baseline-image] [--image-root] [--baseline DIR]\n' +
        '                                [--kernel-mib M] [--initrd-mib M] [--http-share 0..1] [--client-procs P] [--timeout-s S] [--json [FILE]]\n' +
        '                                [--until dhcp|pxelinux|kernel|mount|nfs] [--from dhcp|pxelinux|mount] [--netboot-flags "FLAGS"] [--netboot-node-flags "FLAGS"]\n' +
        '                                [--baseline-flags "FLAGS"] [--baseline-node-flags "FLAGS"] [--profile DIR]',
    );
    process.exit(2);
  }
  if (values.baseline && !existsSync(baselineCli)) {
    console.error(`boot-storm: --baseline ${values.baseline}: no ${baselineCli} (build that checkout first: npx tsc -b)`);
    process.exit(2);
  }
  if (process.getuid?.() !== 0) {
    console.error('boot-storm: needs root: the servers and the nodes run in network namespaces of their own');
    process.exit(1);
  }
  if (!which('ip') || !which('ss') || !which('cp')) {
    console.error('boot-storm: needs ip and ss (apt-get install iproute2) and cp');
    process.exit(1);
  }
  const loadAtStart = load();
  const atExit = cleanups();
  const work = mkdtempSync(join(tmpdir(), 'nb-boot-storm-'));
  atExit.add(() => rmSync(work, { recursive: true, force: true }));
  try {
    chmodSync(work, 0o755); // in.tftpd and nginx workers read the files as another user
    const replay = JSON.parse(readFileSync(replayFile, 'utf8'));
    const bootDir = join(work, 'boot');
    const templateDir = join(work, 'template');
    const rootsDir = join(work, 'roots');
    writeBootFiles(bootDir, kernelMiB, initrdMiB, rootsDir);
    writeTemplate(templateDir, replay.tree);
    const fixed = servers.some(isImageStack);
    // The HTTP share: every k-th node, spread evenly over the run.
    const list = Array.from({ length: nodes }, (_, index) => ({
      index,
      mac: `02:b5:${[index >> 24, index >> 16, index >> 8, index].map((b) => (b & 255).toString(16).padStart(2, '0')).join(':')}`,
      http: Math.floor((index + 1) * httpShare) > Math.floor(index * httpShare),
      ...(fixed ? { ip: fixedAddress(index) } : {}),
    }));
    const rootsStart = performance.now();
    // A storm that ends before MOUNT needs no roots (a DHCP-only storm of thousands starts at once).
    if (STAGES.indexOf(values.until) >= STAGES.indexOf('mount')) makeRoots(templateDir, rootsDir, list.map((n) => n.mac));
    else mkdirSync(rootsDir, { recursive: true });
    const rootsSeconds = ((performance.now() - rootsStart) / 1000).toFixed(1);
    const images = {};
    let imageNote = '';
    for (const name of servers.filter(isImageStack)) {
      const imageStart = performance.now();
      const image = (images[name] = { stateDir: join(work, `${name}-state`), rootsDir: join(work, `${name}-roots`), exportsFile: join(work, `${name}-exports`) });
      const generation = await makeImageRoots(templateDir, image.stateDir, image.rootsDir, list, image.exportsFile);
      imageNote += `; ${name}: image ${IMAGE} generation ${generation} under ${nodes} image-backed roots in ${((performance.now() - imageStart) / 1000).toFixed(1)} s`;
    }
    if (fixed) imageNote += '; fixed addresses 198.19.1.1 and up';
    const relays = Array.from({ length: clientProcs }, (_, i) => `198.18.0.${2 + i}`);
    const ctx = { work, bootDir, templateDir, rootsDir, images, fixed, nodes: list, relays, timeoutMs, atExit, until: values.until, from: values.from };
    const header =
      `${nodes} nodes at once (${list.filter((n) => n.http).length} over HTTP), kernel ${kernelMiB} MiB + initrd ${initrdMiB} MiB, ` +
      (values.from !== 'dhcp' ? `each node starts at the ${values.from} stage, ` : '') +
      (values.until === 'nfs' ? `${replay.calls} NFS calls replayed per node (roots: ${nodes} x cp -al in ${rootsSeconds} s${imageNote}), ` : `each node stops after the ${values.until} stage, `) +
      `${clientProcs} client process${clientProcs > 1 ? 'es' : ''}, ` +
      `${rounds > 1 ? `best of ${rounds} rounds` : '1 round'}`;
    if (values.json !== '-') {
      console.log(header);
      console.log(
        `${'stack'.padEnd(NAME_WIDTH)}${'all up s'.padStart(9)}${'p50 s'.padStart(7)}${'p99 s'.padStart(7)}` +
          STAGES.map((s) => `${s} p50/99`.padStart(16)).join('') +
          `${'up'.padStart(6)}${'failed'.padStart(7)}${'retries'.padStart(12)}${'srv cpu'.padStart(9)}${'srv MB'.padStart(8)}${'cli cpu'.padStart(9)}  rounds`,
      );
    }
    const best = {};
    const all = {};
    for (let r = 0; r < rounds; r++) {
      for (const name of r % 2 === 0 ? servers : [...servers].reverse()) {
        if (best[name]?.error?.startsWith('not measured')) continue;
        const m = await round(name, ctx);
        (all[name] ??= []).push(m);
        if (better(m, best[name])) best[name] = m;
      }
    }
    if (values.json !== '-') for (const name of servers) printRow(name, best[name], all[name].length);
    const imageVsPlain = imageRatios(best.netboot, best['netboot-image']);
    const baselineImageVsPlain = imageRatios(best.baseline, best['baseline-image']);
    if (values.json !== '-') {
      console.log('retries: dhcp/tftp/http/nfs; all up in parentheses: when the last node that came up did (some failed)');
      const x = (v) => (v === null ? '-' : `${v}x`);
      for (const [image, plain, ratios] of [['netboot-image', 'netboot', imageVsPlain], ['baseline-image', 'baseline', baselineImageVsPlain]]) {
        if (!ratios) continue;
        console.log(
          `${image} / ${plain} (above 1: the image-backed roots took longer or cost more): all up ${x(ratios.allUp)}, node p50 ${x(ratios.nodeP50)}, ` +
            `p99 ${x(ratios.nodeP99)}, mount p50 ${x(ratios.mountP50)}, nfs p50 ${x(ratios.nfsP50)}, server CPU ${x(ratios.serverCpu)}`,
        );
      }
    }
    if (values.json) {
      const of = (f) => Object.fromEntries(servers.map((n) => [n, best[n] && !best[n].error ? f(best[n]) : null]));
      const cells = [
        jsonCell({ key: 'all-up', label: `${nodes} nodes: seconds until all are up (null when one failed)`, unit: 's', higherIsBetter: false, values: of((m) => m.allUpS), reference: 'isc' }),
        jsonCell({ key: 'node-p50', label: 'one node, start to up, p50', unit: 's', higherIsBetter: false, values: of((m) => m.p50), reference: 'isc' }),
        jsonCell({ key: 'node-p99', label: 'one node, start to up, p99', unit: 's', higherIsBetter: false, values: of((m) => m.p99), reference: 'isc' }),
        ...STAGES.flatMap((s) =>
          ['p50', 'p99'].map((p) => jsonCell({ key: `stage-${s}-${p}`, label: `stage ${s}, ${p}`, unit: 's', higherIsBetter: false, values: of((m) => m.stages[s][p]), reference: 'isc' })),
        ),
        jsonCell({ key: 'failed', label: 'failed nodes', unit: 'nodes', higherIsBetter: false, values: of((m) => m.failed), reference: 'isc' }),
        jsonCell({ key: 'up', label: 'nodes up', unit: 'nodes', values: of((m) => m.up), reference: 'isc' }),
        jsonCell({ key: 'retries', label: 'retries (DHCP, TFTP, HTTP, NFS JUKEBOX)', unit: 'retries', higherIsBetter: false, values: of((m) => m.retries.dhcp + m.retries.tftp + m.retries.http + m.retries.nfs), reference: 'isc' }),
        jsonCell({ key: 'server-cpu', label: 'server CPU, user + system, all server processes', unit: 's', higherIsBetter: false, values: of((m) => m.serverCpuS), reference: 'isc' }),
        jsonCell({ key: 'server-rss', label: 'server peak RSS, summed over the server processes', unit: 'MB', higherIsBetter: false, values: of((m) => m.serverPeakRssMB), reference: 'isc' }),
        jsonCell({ key: 'client-cpu', label: 'client processes CPU, user + system', unit: 's', higherIsBetter: false, values: of((m) => m.clientCpuS), reference: 'isc' }),
      ];
      const out = report({
        benchmark: 'boot-storm',
        params: { nodes, rounds, servers, kernelMiB, initrdMiB, httpShare, clientProcs, replayCalls: replay.calls, replaySource: replay.source, fixedAddresses: fixed, until: values.until, from: values.from, netbootFlags: values['netboot-flags'], netbootNodeFlags: values['netboot-node-flags'], baselineFlags: values['baseline-flags'], baselineNodeFlags: values['baseline-node-flags'], baseline: values.baseline },
        servers: Object.fromEntries(servers.map((n) => [n, best[n]?.error ?? `started fresh each round in a network namespace of its own at ${SERVER}`])),
        loadAtStart,
        cells,
        detail: { best, rounds: all, ...(imageVsPlain ? { imageVsPlain } : {}), ...(baselineImageVsPlain ? { baselineImageVsPlain } : {}), namespaces: namespacesMade },
      });
      if (values.json === '-') console.log(JSON.stringify(out));
      else writeFileSync(values.json, `${JSON.stringify(out, null, 2)}\n`);
    }
  } finally {
    atExit.run();
  }
}

await main();
