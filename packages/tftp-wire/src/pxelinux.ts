import { stat } from 'node:fs/promises';
import { isIPv4 } from 'node:net';
import { resolveUnderRoot } from './secure-path.js';

/**
 * The config file names pxelinux asks for, in its order: the hardware
 * address (`01-` for Ethernet, lowercase, dashes), the IPv4 address in
 * uppercase hex followed by each shorter prefix down to one digit, then
 * `default`. (pxelinux asks for the UUID first when the ROM reports one;
 * pass it to get that name too.)
 */
export function pxelinuxConfigNames(mac: string, ip: string, opts: { uuid?: string; hwType?: number } = {}): string[] {
  const bytes = mac.split(/[:-]/);
  if (bytes.length !== 6 || bytes.some((b) => !/^[0-9a-fA-F]{1,2}$/.test(b))) {
    throw new TypeError(`"${mac}" is not a MAC address like aa:bb:cc:dd:ee:ff`);
  }
  if (!isIPv4(ip)) throw new TypeError(`"${ip}" is not an IPv4 address`);
  const hw = (opts.hwType ?? 1).toString(16).padStart(2, '0');
  const names: string[] = [];
  if (opts.uuid) names.push(`pxelinux.cfg/${opts.uuid.toLowerCase()}`);
  names.push(`pxelinux.cfg/${hw}-${bytes.map((b) => b.padStart(2, '0').toLowerCase()).join('-')}`);
  const hex = ip
    .split('.')
    .map((o) => Number(o).toString(16).toUpperCase().padStart(2, '0'))
    .join('');
  for (let n = 8; n >= 1; n--) names.push(`pxelinux.cfg/${hex.slice(0, n)}`);
  names.push('pxelinux.cfg/default');
  return names;
}

/** The first of pxelinux's names that is a regular file under `root` (following the server's secure-root rule), or undefined. */
export async function findPxelinuxConfig(
  root: string,
  mac: string,
  ip: string,
  opts: { uuid?: string; hwType?: number } = {},
): Promise<string | undefined> {
  for (const name of pxelinuxConfigNames(mac, ip, opts)) {
    const r = await resolveUnderRoot(root, name);
    if (!r.ok) continue;
    try {
      if ((await stat(r.path)).isFile()) return name;
    } catch {
      // not there: pxelinux tries the next name
    }
  }
  return undefined;
}
