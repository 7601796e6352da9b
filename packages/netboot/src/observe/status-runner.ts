import { isIP } from 'node:net';
import { UsageError, portFlag } from '../command.js';
import type { Log, RunningService } from '../serve/running-service.js';
import { BootMonitor } from './boot-monitor.js';
import { StatusServer, isLoopback } from './status-server.js';

export interface StatusSettings {
  port: number;
  address: string;
  token?: string;
  stateDir: string;
  tftpRoot?: string;
}

/** --status-port and friends, checked: undefined when no status port is asked for. */
export function statusSettings(o: { port?: string; address?: string; token?: string; stateDir: string; tftpRoot?: string }): StatusSettings | undefined {
  if (o.port === undefined) {
    if (o.address !== undefined || o.token !== undefined) throw new UsageError('--status-address and --status-token go with --status-port N');
    return undefined;
  }
  const address = o.address ?? '127.0.0.1';
  if (isIP(address) === 0) throw new UsageError(`--status-address must be an IP address, not "${address}"`);
  if (!isLoopback(address) && !o.token) {
    throw new UsageError(`--status-address ${address} is reachable from other hosts: give --status-token TOKEN too (clients then send it), or keep the default 127.0.0.1`);
  }
  if (o.token !== undefined && o.token.length < 8) throw new UsageError('--status-token must be at least 8 characters');
  return { port: portFlag(o.port, '--status-port', 0), address, token: o.token, stateDir: o.stateDir, tftpRoot: o.tftpRoot };
}

/** The boot monitor, opened before the services so their first events are seen. */
export function openMonitor(s: StatusSettings, log: Log): Promise<BootMonitor> {
  return BootMonitor.open({ stateDir: s.stateDir, tftpRoot: s.tftpRoot, log });
}

/** The status port on the running services: their gauges wired, the HTTP server listening. */
export async function startStatus(s: StatusSettings, monitor: BootMonitor, services: RunningService[], log: Log): Promise<RunningService> {
  monitor.stats.leases = () => services.reduce((n, svc) => n + (svc.counts?.().leases ?? 0), 0);
  monitor.stats.mounts = () => services.reduce((n, svc) => n + (svc.counts?.().mounts ?? 0), 0);
  const server = new StatusServer({ monitor, address: s.address, port: s.port, token: s.token });
  let bound;
  try {
    bound = await server.listen();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new Error(`the status port ${s.port} on ${s.address} is in use: choose another --status-port`);
    throw e;
  }
  log(`status: dashboard and /metrics on http://${bound.address.includes(':') ? `[${bound.address}]` : bound.address}:${bound.port}/${s.token ? ' (token required)' : ''}`);
  return {
    name: 'status',
    endpoints: [{ service: 'status (dashboard, /metrics)', proto: 'tcp', address: bound.address, port: bound.port }],
    reload: async () => {},
    close: async () => {
      await server.close();
      await monitor.close();
    },
  };
}
