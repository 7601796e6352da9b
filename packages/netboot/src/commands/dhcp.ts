import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Socket } from 'node:dgram';
import {
  ConfigError,
  DhcpServer,
  deviceSocketLauncher,
  formatIpv4,
  inheritedSockets,
  interfaceLink,
  openSocket,
  parseConfig,
  parseIpv4,
  subnetFor,
} from '@netboot/dhcp-wire';
import { boolFlag, parseFlags, portFlag, stringFlag, untilSignalled, UsageError, type Command } from '../command.js';

const PROXY_PORT = 4011;

const usage = `usage: netboot dhcp --config dhcpd.conf --interface IF [--leases FILE] [--listen ADDR] [--port 67] [--proxy]

Serves DHCP and BOOTP (with PXE boot information) from an ISC dhcpd.conf, only on
interface IF: requests arriving on any other interface are never seen, and every
reply leaves through IF with IF's address as the server identifier.

  --config FILE     dhcpd.conf (the subset diskless setups use; anything else is an error)
  --interface IF    the interface facing the diskless nodes (required)
  --leases FILE     lease file (default /var/lib/netboot/dhcpd.leases); every ACK is on disk first
  --listen ADDR     local address to bind (default 0.0.0.0, which also receives broadcasts)
  --port N          server port (default 67; clients are answered on N+1)
  --proxy           proxyDHCP: boot information for PXE clients next to another DHCP
                    server, on ports 67 and 4011; hands out no addresses`;

async function run(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, {
    config: { type: 'string' },
    interface: { type: 'string' },
    leases: { type: 'string' },
    listen: { type: 'string' },
    port: { type: 'string' },
    proxy: { type: 'boolean' },
  });
  const configPath = stringFlag(flags, 'config');
  const ifname = stringFlag(flags, 'interface');
  if (!configPath) throw new UsageError('--config is required');
  if (!ifname) throw new UsageError('--interface is required: netboot answers DHCP on one interface only');
  const listen = stringFlag(flags, 'listen') ?? '0.0.0.0';
  if (parseIpv4(listen) === undefined) throw new UsageError(`--listen must be an IPv4 address, not "${listen}"`);
  const port = portFlag(stringFlag(flags, 'port'), '--port', 67);
  const proxy = boolFlag(flags, 'proxy');
  if (proxy && stringFlag(flags, 'leases') !== undefined) throw new UsageError('--leases has no use with --proxy: proxyDHCP hands out no addresses');
  const ports = proxy ? [port, PROXY_PORT] : [port];

  let text: string;
  try {
    text = readFileSync(configPath, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${configPath}: ${(e as Error).message}`);
  }
  let config;
  try {
    config = parseConfig(text, configPath);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      return 1;
    }
    throw e;
  }
  const link = interfaceLink(ifname);
  if (!proxy && !subnetFor(config, link.address)) {
    throw new Error(
      `${configPath} has no subnet declaration for ${ifname}'s network ${formatIpv4(link.network)} netmask ${formatIpv4(link.mask)}; add "subnet ${formatIpv4(link.network)} netmask ${formatIpv4(link.mask)} { }"`,
    );
  }

  const fds = inheritedSockets();
  if (!fds) return relaunchWithDeviceSockets(ifname, listen, ports, argv);

  const sockets = new Map<number, Socket>();
  for (const p of ports) {
    const fd = fds.get(p);
    if (fd === undefined) throw new Error(`no socket was opened for port ${p}`);
    sockets.set(p, await openSocket({ fd }));
  }
  const leasesPath = proxy ? undefined : resolve(stringFlag(flags, 'leases') ?? '/var/lib/netboot/dhcpd.leases');
  if (leasesPath) mkdirSync(dirname(leasesPath), { recursive: true });
  const server = new DhcpServer({ config, link, sockets, serverPort: port, leasesPath, proxy });
  console.log(
    `netboot dhcp: ${proxy ? 'proxyDHCP' : 'serving'} on ${ifname} (${formatIpv4(link.address)}) port${ports.length > 1 ? 's' : ''} ${ports.join(', ')}` +
      (leasesPath ? `, leases in ${leasesPath}` : ''),
  );
  await untilSignalled();
  await server.close();
  return 0;
}

/** Re-runs this command under the perl launcher that opens sockets bound to the interface (see device-socket.ts). */
function relaunchWithDeviceSockets(ifname: string, listen: string, ports: number[], argv: string[]): Promise<number> {
  const cli = process.argv[1];
  const { command, args } = deviceSocketLauncher(ifname, listen, ports, process.execPath, [...process.execArgv, cli, 'dhcp', ...argv]);
  const child = spawn(command, args, { stdio: 'inherit' });
  const forward = (sig: NodeJS.Signals) => child.kill(sig);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return new Promise((resolve) => {
    child.on('error', (e) => {
      console.error(`netboot dhcp: cannot run perl to bind to ${ifname}: ${e.message}`);
      resolve(1);
    });
    child.on('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

export const dhcp: Command = {
  name: 'dhcp',
  summary: 'DHCP/BOOTP server with PXE boot information, from dhcpd.conf, on one interface',
  usage,
  run,
};
