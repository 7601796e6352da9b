import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { Socket } from 'node:dgram';
import {
  DhcpServer,
  deviceSocketLauncher,
  formatIpv4,
  inheritedSockets,
  interfaceLink,
  openSocket,
  parseIpv4,
  subnetFor,
  type DhcpConfig,
  type Link,
} from '@netboot/dhcp-wire';
import { PgLeaseStore } from '@netboot/lease-pg';
import { UsageError, portFlag } from '../command.js';
import type { Log, RunningService } from './running-service.js';
import type { DhcpServerOptions } from '@netboot/dhcp-wire';
import { loadDhcpConfig, platformPinger } from './dhcp-config.js';

const PROXY_PORT = 4011;

export interface DhcpSettings {
  configFile: string;
  iface: string;
  leasesFile: string;
  /** postgres://... : leases in PostgreSQL, shared with other masters, instead of leasesFile. */
  leaseStore?: string;
  listen?: string;
  port?: string;
  proxy: boolean;
}

function portsOf(s: DhcpSettings): number[] {
  const port = portFlag(s.port, '--port', 67);
  return s.proxy ? [port, PROXY_PORT] : [port];
}

function listenOf(s: DhcpSettings): string {
  const listen = s.listen ?? '0.0.0.0';
  if (parseIpv4(listen) === undefined) throw new UsageError(`--listen must be an IPv4 address for DHCP, not "${listen}"`);
  return listen;
}

async function loadConfig(s: DhcpSettings, link: Link, log: Log, atStart: boolean): Promise<DhcpConfig> {
  const config = await loadDhcpConfig(s.configFile, log, atStart);
  if (!s.proxy && !subnetFor(config, link.address)) {
    throw new Error(
      `${s.configFile} has no subnet declaration for ${s.iface}'s network ${formatIpv4(link.network)} netmask ${formatIpv4(link.mask)}; add "subnet ${formatIpv4(link.network)} netmask ${formatIpv4(link.mask)} { }"`,
    );
  }
  return config;
}

/** The --lease-store URL, checked: a PostgreSQL URL, or undefined for the lease file. */
export function leaseStoreOf(s: DhcpSettings): string | undefined {
  if (s.leaseStore === undefined || s.proxy) return undefined;
  if (!/^postgres(ql)?:\/\//.test(s.leaseStore)) {
    throw new UsageError(`--lease-store takes a PostgreSQL URL (postgres://USER@HOST[:PORT]/DB), not "${s.leaseStore}"; without it leases go to the lease file (--leases)`);
  }
  return s.leaseStore;
}

/**
 * Node's dgram can't bind a socket to one interface, so a process that serves
 * DHCP is run by a small perl launcher that opens device-bound sockets and
 * execs it again with them (see @netboot/dhcp-wire's device-socket.ts). This
 * says whether this process still has to be relaunched that way.
 */
export function needsDeviceSockets(): boolean {
  return inheritedSockets() === undefined;
}

/**
 * Runs this same command again under the launcher, forwarding signals
 * (SIGHUP included, for reloads), and resolves with its exit status.
 */
export async function relaunchWithDeviceSockets(s: DhcpSettings, argv: string[]): Promise<number> {
  // Checked here so that a typo is reported before perl runs.
  interfaceLink(s.iface);
  leaseStoreOf(s);
  const { command, args } = deviceSocketLauncher(s.iface, listenOf(s), portsOf(s), process.execPath, [
    ...process.execArgv,
    process.argv[1],
    ...argv,
  ]);
  const child = spawn(command, args, { stdio: 'inherit' });
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const forward = (sig: NodeJS.Signals) => child.kill(sig);
  for (const sig of signals) process.on(sig, forward);
  return new Promise((done) => {
    child.on('error', (e) => {
      console.error(`netboot: cannot run perl to bind DHCP to ${s.iface}: ${e.message}`);
      done(1);
    });
    child.on('exit', (code, signal) => {
      for (const sig of signals) process.off(sig, forward);
      done(code ?? (signal ? 1 : 0));
    });
  });
}

/** The DHCP/BOOTP server on the device-bound sockets this process was given. */
export async function startDhcp(s: DhcpSettings, log: Log, onExchange?: DhcpServerOptions['onExchange']): Promise<RunningService> {
  const link = interfaceLink(s.iface);
  let config = await loadConfig(s, link, log, true);
  const fds = inheritedSockets();
  if (!fds) throw new Error('DHCP sockets were not opened for this process (run it through netboot dhcp or netboot serve)');
  const ports = portsOf(s);
  const sockets = new Map<number, Socket>();
  for (const p of ports) {
    const fd = fds.get(p);
    if (fd === undefined) throw new Error(`no socket was opened for port ${p}`);
    sockets.set(p, await openSocket({ fd }));
  }
  const url = leaseStoreOf(s);
  let server: DhcpServer;
  let where = '';
  if (url) {
    // Names this master in the rows it writes, and spreads the masters' first picks over the ranges.
    const name = `${hostname()}/${s.iface}`;
    const sharedStore = await PgLeaseStore.open({ url, server: name });
    const allocationStart = createHash('sha256').update(name).digest().readUInt16BE(0) / 65536;
    server = await DhcpServer.open({ config, link, sockets, serverPort: ports[0], sharedStore, allocationStart, log, onExchange });
    where = `, leases in ${sharedStore.name} as ${name}`;
  } else {
    const leasesPath = s.proxy ? undefined : resolve(s.leasesFile);
    if (leasesPath) await mkdir(dirname(leasesPath), { recursive: true });
    server = new DhcpServer({ config, link, sockets, serverPort: ports[0], leasesPath, proxy: s.proxy, pinger: await platformPinger(), log, onExchange });
    if (leasesPath) where = `, leases in ${leasesPath}`;
  }
  log(`netboot dhcp: ${s.proxy ? 'proxyDHCP' : 'serving'} on ${s.iface} (${formatIpv4(link.address)}) port${ports.length > 1 ? 's' : ''} ${ports.join(', ')}${where}`);
  return {
    name: 'dhcp',
    endpoints: ports.map((port) => ({ service: `dhcp on ${s.iface}`, proto: 'udp' as const, address: listenOf(s), port })),
    async reload() {
      config = await loadConfig(s, link, log, false);
      server.reload(config);
      log(`dhcp: reloaded ${s.configFile}`);
    },
    close: () => server.close(),
    counts: () => ({ leases: server.leases().length }),
  };
}
