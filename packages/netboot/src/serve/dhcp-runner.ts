import type { Log, RunningService } from './running-service.js';

export interface DhcpSettings {
  configFile: string;
  iface: string;
  leasesFile: string;
  listen?: string;
  port?: string;
  proxy: boolean;
  verbose: boolean;
}

/** DHCP inside serve lands with the DHCP server; until then serve says so instead of ignoring the flags. */
export async function startDhcp(_s: DhcpSettings, _log: Log): Promise<RunningService> {
  throw new Error('DHCP is not part of netboot serve in this build; run it separately with netboot dhcp');
}
