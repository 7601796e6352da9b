import { type Command, UsageError, boolFlag, parseFlags, stringFlag, untilSignalled } from '../command.js';
import { serveUntilSignalled } from '../serve/until-signalled.js';
import { startDhcp, type DhcpSettings } from '../serve/dhcp-runner.js';

const usage = `usage: netboot dhcp --config dhcpd.conf --interface IF [--leases FILE | --lease-store URL] [--listen ADDR] [--port 67] [--proxy]

Serves DHCP and BOOTP (with PXE boot information) from an ISC dhcpd.conf, only on
interface IF: requests arriving on any other interface are never seen, and every
reply leaves through IF with IF's address as the server identifier. SIGHUP
re-reads dhcpd.conf (a file with a mistake is reported and the old one stays in
force); leases are kept.

  --config FILE     ISC dhcpd.conf, read as dhcpd reads it (what netboot cannot do is an error saying what to write instead)
  --interface IF    the interface facing the diskless nodes (required)
  --leases FILE     lease file (default /var/lib/netboot/dhcpd.leases); every ACK is on disk first
  --lease-store URL leases in PostgreSQL instead, postgres://USER@HOST[:PORT]/DB, shared
                    with other masters on the same database (see README "Two masters");
                    every OFFER and ACK is committed there first
  --listen ADDR     local address to bind (default 0.0.0.0, which also receives broadcasts)
  --port N          server port (default 67; clients are answered on N+1)
  --proxy           proxyDHCP: boot information for PXE clients next to another DHCP
                    server, on ports 67 and 4011; hands out no addresses`;

async function run(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, {
    config: { type: 'string' },
    interface: { type: 'string' },
    leases: { type: 'string' },
    'lease-store': { type: 'string' },
    listen: { type: 'string' },
    port: { type: 'string' },
    proxy: { type: 'boolean' },
  });
  const configFile = stringFlag(flags, 'config');
  const iface = stringFlag(flags, 'interface');
  if (!configFile) throw new UsageError('--config is required');
  if (!iface) throw new UsageError('--interface is required: netboot answers DHCP on one interface only');
  if (stringFlag(flags, 'leases') && stringFlag(flags, 'lease-store')) throw new UsageError('--leases and --lease-store are two places for the same leases: give one');
  const settings: DhcpSettings = {
    configFile,
    iface,
    leasesFile: stringFlag(flags, 'leases') ?? '/var/lib/netboot/dhcpd.leases',
    leaseStore: stringFlag(flags, 'lease-store'),
    listen: stringFlag(flags, 'listen'),
    port: stringFlag(flags, 'port'),
    proxy: boolFlag(flags, 'proxy'),
  };
  const log = (line: string) => console.log(line);
  const signalled = untilSignalled();
  const service = await startDhcp(settings, log);
  return serveUntilSignalled(service, signalled, log, 'the running dhcpd.conf stays in force');
}

export const dhcp: Command = {
  name: 'dhcp',
  summary: 'DHCP/BOOTP server with PXE boot information, from dhcpd.conf, on one interface',
  usage,
  run,
};
