import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { Socket } from 'node:dgram';
import {
  DhcpServer,
  formatIpv4,
  interfaceLink,
  nodeInterfaceTable,
  openSocket,
  parseIpv4,
  REQUEST_BUFFER_BYTES,
  subnetFor,
  type DhcpConfig,
  type InterfaceTable,
  type Link,
} from '@netboot/dhcp-wire';
import { native, platformStatus, socketFd } from '@netboot/platform';
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

/** Every interface with its IPv4 addresses: the platform module lists those without carrier too. */
function interfaceTable(): InterfaceTable {
  return native ? native.interfaceAddresses() : nodeInterfaceTable();
}

/**
 * Binds each socket to the interface (SO_BINDTODEVICE), so that the kernel
 * hands it only datagrams that came in there and every reply, the limited
 * broadcast included, leaves through it. Without the platform module that
 * cannot be done: with no other interface carrying IPv4 the sockets answer
 * the same requests anyway (said once in the log); with others, answering
 * DHCP on a network not meant for it is refused.
 */
function bindToInterface(s: DhcpSettings, sockets: Iterable<Socket>, table: InterfaceTable, log: Log): void {
  if (native) {
    for (const socket of sockets) {
      native.bindToDevice(socketFd(socket), s.iface);
      // net.core.rmem_max caps the buffer openSocket asked for, at about 208 KiB on many hosts: a room's
      // burst of DISCOVERs past it is dropped, each dropped node waiting out PXE's 4 s retry. As root the
      // cap can be passed; without CAP_NET_ADMIN the capped buffer stays.
      native.receiveBufferForce(socketFd(socket), REQUEST_BUFFER_BYTES);
    }
    return;
  }
  const status = platformStatus();
  const why = status.mode === 'portable' ? status.why : '';
  const others = Object.entries(table)
    .filter(([name, addresses]) => name !== s.iface && name !== 'lo' && addresses.length > 0)
    .map(([name]) => name);
  if (others.length > 0) {
    throw new Error(
      `cannot keep DHCP to ${s.iface}: binding a socket to one interface (SO_BINDTODEVICE) needs the native platform module, which is missing: ${why}. ` +
        `Without it requests from ${others.join(', ')} would be answered too. Rebuild it (npm rebuild @netboot/platform, with a C compiler, make and python3), or run DHCP where ${s.iface} is the only interface with an IPv4 address.`,
    );
  }
  log(`dhcp: platform portable (${why}): sockets not bound to ${s.iface}; no other interface has IPv4, so only ${s.iface}'s requests arrive`);
}

/** The DHCP/BOOTP server, on sockets bound to the interface. */
export async function startDhcp(s: DhcpSettings, log: Log, onExchange?: DhcpServerOptions['onExchange'], offerDelay?: DhcpServerOptions['offerDelay']): Promise<RunningService> {
  const table = interfaceTable();
  const link = interfaceLink(s.iface, table);
  const url = leaseStoreOf(s);
  let config = await loadConfig(s, link, log, true);
  const ports = portsOf(s);
  const sockets = new Map<number, Socket>();
  try {
    for (const p of ports) sockets.set(p, await openSocket({ address: listenOf(s), port: p }));
    bindToInterface(s, sockets.values(), table, log);
  } catch (e) {
    for (const socket of sockets.values()) socket.close();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      throw new Error(`cannot bind UDP ${listenOf(s)} port ${ports.join(', ')} for DHCP on ${s.iface}: ${(e as Error).message}`);
    }
    throw e;
  }
  let server: DhcpServer;
  let where = '';
  if (url) {
    // Names this master in the rows it writes, and spreads the masters' first picks over the ranges.
    const name = `${hostname()}/${s.iface}`;
    const sharedStore = await PgLeaseStore.open({ url, server: name });
    const allocationStart = createHash('sha256').update(name).digest().readUInt16BE(0) / 65536;
    server = await DhcpServer.open({ config, link, sockets, serverPort: ports[0], sharedStore, allocationStart, log, onExchange, offerDelay });
    where = `, leases in ${sharedStore.name} as ${name}`;
  } else {
    const leasesPath = s.proxy ? undefined : resolve(s.leasesFile);
    if (leasesPath) await mkdir(dirname(leasesPath), { recursive: true });
    server = new DhcpServer({ config, link, sockets, serverPort: ports[0], leasesPath, proxy: s.proxy, pinger: await platformPinger(), log, onExchange, offerDelay });
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
