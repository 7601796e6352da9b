import { describeIgnored, loadConfigFile, type DhcpConfig, type Pinger } from '@netboot/dhcp-wire';
import type { Log } from './running-service.js';

/**
 * Reads the dhcpd.conf with its includes and host names resolved, and lists
 * once what it holds that has no effect here (a file written for ISC dhcpd
 * loads unchanged; the admin sees what netboot did not act on).
 */
export async function loadDhcpConfig(file: string, log: Log, listIgnored: boolean): Promise<DhcpConfig> {
  const config = await loadConfigFile(file); // a ConfigError names file:line:column
  if (listIgnored) for (const line of describeIgnored(config)) log(`dhcp: ${line}`);
  return config;
}

type IcmpEcho = (address: string, timeoutMs: number) => Promise<boolean>;

/**
 * ping-check's ICMP echo, from @netboot/platform's native icmpEcho when the
 * platform module is there and built; undefined otherwise (the server then says once
 * that it offers addresses unchecked).
 */
export async function platformPinger(): Promise<Pinger | undefined> {
  // By a variable name: the platform module is optional, built only where a compiler is.
  const name = '@netboot/platform';
  let icmpEcho: IcmpEcho | undefined;
  try {
    const mod = (await import(name)) as { native?: { icmpEcho?: IcmpEcho } };
    const calls = mod.native;
    // undefined when the module could not be built here (portable mode).
    icmpEcho = typeof calls?.icmpEcho === 'function' ? calls.icmpEcho.bind(calls) : undefined;
  } catch {
    return undefined;
  }
  return icmpEcho ? { ping: (address, timeoutMs) => icmpEcho(address, timeoutMs) } : undefined;
}
