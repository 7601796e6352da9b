import { type Flags, UsageError, parseFlags } from '../command.js';
import { type ConfigEntry, ConfigFileError, loadConfigFile } from './config-file.js';

/**
 * Every setting of `netboot serve`, as flags and as config-file keys (the
 * same names without dashes), so a service manager's file and a command line
 * say the same things.
 */
export const SERVE_OPTIONS = {
  config: { type: 'string' },
  listen: { type: 'string' },
  'state-dir': { type: 'string' },
  verbose: { type: 'boolean' },
  // NFS, MOUNT and the portmapper
  exports: { type: 'string' },
  'nfs-port': { type: 'string' },
  'mountd-port': { type: 'string' },
  'portmap-port': { type: 'string' },
  'nlm-port': { type: 'string' },
  'no-lock': { type: 'boolean' },
  'handle-key': { type: 'string' },
  'nfs-workers': { type: 'string' },
  'no-nfs': { type: 'boolean' },
  // TFTP
  'tftp-root': { type: 'string' },
  'tftp-remap': { type: 'string' },
  'tftp-port': { type: 'string' },
  'blksize-max': { type: 'string' },
  'window-max': { type: 'string' },
  'max-transfers': { type: 'string' },
  threads: { type: 'string' },
  create: { type: 'boolean' },
  'no-tftp': { type: 'boolean' },
  'no-pacing': { type: 'boolean' },
  // HTTP (the TFTP root, read-only)
  'http-port': { type: 'string' },
  // DHCP
  'dhcp-conf': { type: 'string' },
  interface: { type: 'string' },
  leases: { type: 'string' },
  'lease-store': { type: 'string' },
  'dhcp-port': { type: 'string' },
  proxy: { type: 'boolean' },
  'no-dhcp': { type: 'boolean' },
  'status-port': { type: 'string' },
  'status-address': { type: 'string' },
  'status-token': { type: 'string' },
} as const;

type Key = keyof typeof SERVE_OPTIONS;
export type Settings = Partial<Record<Key, string | boolean>>;

function fromEntries(entries: ConfigEntry[]): Settings {
  const out: Settings = {};
  for (const e of entries) {
    if (e.key === 'config') throw new ConfigFileError(e.file, e.line, e.column, 'a config file cannot name another config file');
    if (!(e.key in SERVE_OPTIONS)) {
      throw new ConfigFileError(e.file, e.line, e.column, `unknown setting "${e.key}"; the settings are the long flags of netboot serve without "--" (see netboot serve --help)`);
    }
    const type = SERVE_OPTIONS[e.key as Key].type;
    if (type === 'boolean') {
      if (e.value === true || /^(yes|true|on)$/i.test(e.value)) out[e.key as Key] = true;
      else if (/^(no|false|off)$/i.test(e.value)) out[e.key as Key] = false;
      else throw new ConfigFileError(e.file, e.line, e.column, `"${e.key}" is a switch: write it alone, or with yes/no`);
    } else {
      if (e.value === true) throw new ConfigFileError(e.file, e.line, e.column, `"${e.key}" needs a value`);
      out[e.key as Key] = e.value;
    }
  }
  return out;
}

/** Flags over the config file: a flag given on the command line wins. */
export async function loadSettings(argv: string[]): Promise<Settings> {
  const flags: Flags = parseFlags(argv, SERVE_OPTIONS);
  const cli: Settings = {};
  for (const [k, v] of Object.entries(flags.values)) {
    if (k === 'help' || v === undefined) continue;
    if (Array.isArray(v)) throw new UsageError(`--${k} is given twice`);
    cli[k as Key] = v;
  }
  const file = typeof cli.config === 'string' ? fromEntries(await loadConfigFile(cli.config)) : {};
  return { ...file, ...cli };
}

export function str(s: Settings, key: Key): string | undefined {
  const v = s[key];
  return typeof v === 'string' ? v : undefined;
}

export function on(s: Settings, key: Key): boolean {
  return s[key] === true;
}
