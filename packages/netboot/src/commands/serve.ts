import { type Command, UsageError } from '../command.js';
import { loadSettings, on, str, type Settings } from '../serve/settings.js';
import { DEMO_PORTS, defaultDemoDir, writeDemo } from '../serve/demo.js';
import { startNfs } from '../serve/nfs-runner.js';
import { startTftp, type RunningTftp } from '../serve/tftp-runner.js';
import { offerDelayMs } from '../serve/boot-pacing.js';
import { startHttp } from '../serve/http-runner.js';
import { lineWriter } from '../serve/line-writer.js';
import { startDhcp, type DhcpSettings } from '../serve/dhcp-runner.js';
import type { Log, RunningService } from '../serve/running-service.js';
import { untilSignalled } from '../command.js';
import type { ServiceHooks } from '../observe/boot-monitor.js';
import { openMonitor, startStatus, statusSettings } from '../observe/status-runner.js';

const usage = `usage: netboot serve [flags]      (no flags: the embedded demo on loopback)

Serves the whole diskless boot path from one process: DHCP/BOOTP, TFTP, the
portmapper, mountd and NFSv3, from the admin's own dhcpd.conf, TFTP root and
exports file, and the TFTP root over HTTP for iPXE and UEFI HTTP Boot. A
service runs when its input is given (DHCP: --dhcp-conf and --interface; TFTP:
--tftp-root; HTTP: --http-port; NFS: --exports) unless switched off with its
--no-* flag. SIGHUP re-reads dhcpd.conf, exports and remap rules without
dropping transfers, connections or leases (a bad file is reported and the old
one stays in force); SIGTERM stops cleanly.

With no flags at all it writes a small demo (a TFTP root with a pxelinux
config and an NFS export) and serves it on 127.0.0.1 on unprivileged ports,
without DHCP, printing commands that try it with real clients.

general:
  --config FILE        read these settings from FILE, one "name value" a line
                       (names are the long flags below without "--"); flags win
  --listen ADDR        address TFTP, portmap, mountd and NFS bind (default 0.0.0.0);
                       DHCP always takes broadcasts on --interface
  --state-dir DIR      leases, NFS handle key and mount list (default /var/lib/netboot)
  --verbose            log per-request details
NFS, MOUNT, portmap:
  --exports FILE       exports(5) file to serve
  --nfs-port N         NFS port (default 2049)
  --mountd-port N      MOUNT port (default 20048)
  --portmap-port N     portmapper port (default 111; one already there is used)
  --nlm-port N         NLM/NSM locking port (default: one the kernel picks)
  --no-lock            no NLM/NSM locking (clients must mount with nolock)
  --handle-key FILE    32-byte file handle key shared with another server of the
                       same tree (default: the key in <state-dir>/nfs)
  --nfs-workers N      threads serving NFS over TCP (default: the number of cores,
                       at most 16; 1: NFS on the main thread with DHCP, TFTP, HTTP)
  --no-nfs             don't serve NFS, MOUNT or portmap
TFTP:
  --tftp-root DIR      TFTP root (secure: nothing outside it is served)
  --tftp-remap FILE    tftp-hpa style remap rules
  --tftp-port N        TFTP port (default 69)
  --blksize-max N      largest blksize agreed to (default 65464)
  --window-max N       largest windowsize agreed to (default 64)
  --max-transfers N    concurrent transfers (default 256); more requests wait for a
                       slot, fairly between nodes, and new nodes' DHCP OFFERs are
                       held (up to 3 s, within PXE's retry window) while they wait
  --no-pacing          answer "Server busy" over --max-transfers and never hold
                       an OFFER
  --threads N          TFTP threads for binary reads (default: cores, at most 4; 0: none)
  --create             accept uploads (WRQ)
  --no-tftp            don't serve TFTP
HTTP:
  --http-port N        also serve the TFTP root read-only over HTTP on port N
                       (GET/HEAD, ranges, keep-alive; same remap and root rules)
DHCP:
  --dhcp-conf FILE     ISC dhcpd.conf, read as dhcpd reads it
  --interface IF       the only interface DHCP answers on (required with --dhcp-conf)
  --leases FILE        lease file (default <state-dir>/dhcpd.leases)
  --lease-store URL    leases in PostgreSQL instead (postgres://USER@HOST[:PORT]/DB),
                       shared with other masters (see README "Two masters")
  --dhcp-port N        DHCP server port (default 67)
  --proxy              proxyDHCP: boot information only, next to another DHCP server
  --no-dhcp            don't serve DHCP
status (see netboot status):
  --status-port N      serve the dashboard at /, /metrics (Prometheus), /api/nodes
                       and /api/events on port N: every node's boot, stage by stage
  --status-address A   address of the status port (default 127.0.0.1; any other
                       needs --status-token)
  --status-token T     required from clients (Authorization: Bearer T, or ?token=T)`;

function table(services: RunningService[]): string {
  const rows = services.flatMap((s) => s.endpoints.map((e) => [e.service, e.proto, `${e.address}:${e.port}`]));
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length), ['service', 'proto', 'address'][i].length));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd();
  return [line(['service', 'proto', 'address']), ...rows.map(line)].join('\n');
}

/** DHCP's settings when serve runs DHCP, else undefined. */
function dhcpSettings(s: Settings): DhcpSettings | undefined {
  const configFile = str(s, 'dhcp-conf');
  if (!configFile || on(s, 'no-dhcp')) return undefined;
  const iface = str(s, 'interface');
  if (str(s, 'leases') && str(s, 'lease-store')) throw new UsageError('leases and lease-store are two places for the same leases: give one');
  if (!iface) throw new UsageError('--dhcp-conf needs --interface: DHCP answers only on the interface facing the nodes');
  return {
    configFile,
    iface,
    leasesFile: str(s, 'leases') ?? `${str(s, 'state-dir') ?? '/var/lib/netboot'}/dhcpd.leases`,
    leaseStore: str(s, 'lease-store'),
    // Not --listen: DISCOVERs go to 255.255.255.255, which a socket bound to a
    // unicast address never receives; the socket is tied to --interface instead.
    port: str(s, 'dhcp-port'),
    proxy: on(s, 'proxy'),
  };
}

async function startAll(s: Settings, log: Log, hooks?: ServiceHooks): Promise<RunningService[]> {
  const started: RunningService[] = [];
  const listen = str(s, 'listen');
  const stateDir = str(s, 'state-dir') ?? '/var/lib/netboot';
  try {
    const exportsFile = str(s, 'exports');
    if (exportsFile && !on(s, 'no-nfs')) {
      started.push(
        await startNfs(
          {
            exportsFile,
            listen,
            nfsPort: str(s, 'nfs-port'),
            mountdPort: str(s, 'mountd-port'),
            portmapPort: str(s, 'portmap-port'),
            nlmPort: str(s, 'nlm-port'),
            noLock: on(s, 'no-lock'),
            stateDir: `${stateDir}/nfs`,
            imageStateDir: stateDir,
            handleKey: str(s, 'handle-key'),
            nfsWorkers: str(s, 'nfs-workers'),
          },
          log,
          hooks && { observer: hooks.nfs, onMount: hooks.mount, onPeerRestarted: hooks.reboot },
        ),
      );
    }
    const tftpRoot = str(s, 'tftp-root');
    let tftp: RunningTftp | undefined;
    if (tftpRoot && !on(s, 'no-tftp')) {
      started.push(
        (tftp = await startTftp(
          {
            root: tftpRoot,
            listen,
            port: str(s, 'tftp-port'),
            blksizeMax: str(s, 'blksize-max'),
            windowMax: str(s, 'window-max'),
            remapFile: str(s, 'tftp-remap'),
            create: on(s, 'create'),
            maxTransfers: str(s, 'max-transfers'),
            threads: str(s, 'threads'),
            pacing: !on(s, 'no-pacing'),
            verbose: on(s, 'verbose'),
          },
          log,
          hooks?.tftp,
        )),
      );
    }
    const httpPort = str(s, 'http-port');
    if (httpPort !== undefined) {
      if (!tftpRoot) throw new UsageError('--http-port serves the TFTP root: give --tftp-root too');
      started.push(await startHttp({ root: tftpRoot, listen, port: httpPort, remapFile: str(s, 'tftp-remap'), verbose: on(s, 'verbose') }, log, hooks?.http));
    }
    const dhcp = dhcpSettings(s);
    // A boot storm beyond the TFTP slots: new nodes' OFFERs are held within their retry window.
    const load = tftp && !on(s, 'no-pacing') ? tftp.transferLoad : undefined;
    if (dhcp) started.push(await startDhcp(dhcp, log, hooks?.dhcp, load && (() => offerDelayMs(load()))));
  } catch (err) {
    for (const svc of started.reverse()) await svc.close().catch(() => {});
    throw err;
  }
  return started;
}

function demoHelp(demo: Awaited<ReturnType<typeof writeDemo>>): string {
  const p = DEMO_PORTS;
  return [
    '',
    `The demo serves ${demo.tftpRoot} over TFTP and HTTP and exports ${demo.exportRoot} over NFSv3.`,
    'Try it with real clients (Debian packages tftp-hpa, curl, libnfs-utils):',
    `  tftp 127.0.0.1 ${p.tftp} -c get pxelinux.cfg/default /dev/stdout`,
    `  curl -s tftp://127.0.0.1:${p.tftp}/hello.txt`,
    `  curl -s http://127.0.0.1:${p.http}/hello.txt`,
    `  nfs-ls 'nfs://127.0.0.1${demo.exportRoot}?version=3&nfsport=${p.nfs}&mountport=${p.mountd}'`,
    `  nfs-cat 'nfs://127.0.0.1${demo.exportRoot}/README?version=3&nfsport=${p.nfs}&mountport=${p.mountd}'`,
    'Stop with Ctrl-C. For a real setup see README ("Running it for real").',
  ].join('\n');
}

export const serve: Command = {
  name: 'serve',
  summary: 'serve DHCP, TFTP, HTTP, portmap, mountd and NFS together (no flags: a loopback demo)',
  usage,
  async run(argv) {
    let settings = await loadSettings(argv);
    const log: Log = lineWriter(process.stdout);
    let demo: Awaited<ReturnType<typeof writeDemo>> | undefined;
    if (argv.length === 0) {
      demo = await writeDemo(defaultDemoDir());
      settings = {
        listen: '127.0.0.1',
        'state-dir': demo.stateDir,
        exports: demo.exportsFile,
        'nfs-port': String(DEMO_PORTS.nfs),
        'mountd-port': String(DEMO_PORTS.mountd),
        'portmap-port': String(DEMO_PORTS.portmap),
        'tftp-root': demo.tftpRoot,
        'tftp-port': String(DEMO_PORTS.tftp),
        'http-port': String(DEMO_PORTS.http),
      };
    }
    const status = statusSettings({
      port: str(settings, 'status-port'),
      address: str(settings, 'status-address'),
      token: str(settings, 'status-token'),
      stateDir: str(settings, 'state-dir') ?? '/var/lib/netboot',
      tftpRoot: str(settings, 'tftp-root'),
    });
    const signalled = untilSignalled();
    const monitor = status ? await openMonitor(status, log) : undefined;
    let services: RunningService[] = [];
    try {
      services = await startAll(settings, log, monitor?.hooks);
      if (services.length === 0) {
        throw new UsageError('nothing to serve: give --exports, --tftp-root and/or --dhcp-conf with --interface (or no flags at all for the demo)');
      }
      if (status && monitor) services.push(await startStatus(status, monitor, [...services], log));
    } catch (e) {
      for (const svc of services.reverse()) await svc.close().catch(() => {});
      await monitor?.close();
      throw e;
    }
    console.log(`\nnetboot serve: running\n${table(services)}`);
    if (demo) console.log(demoHelp(demo));

    const onHup = () => {
      log('netboot serve: SIGHUP: reloading');
      for (const svc of services) {
        svc.reload().catch((e: unknown) => log(`${svc.name}: reload failed, the running settings stay in force: ${(e as Error).message}`));
      }
    };
    process.on('SIGHUP', onHup);
    const sig = await signalled;
    process.off('SIGHUP', onHup);
    log(`netboot serve: ${sig}: stopping`);
    for (const svc of [...services].reverse()) {
      await svc.close().catch((e: unknown) => log(`${svc.name}: error while stopping: ${(e as Error).message}`));
    }
    log('netboot serve: stopped');
    return 0;
  },
};
