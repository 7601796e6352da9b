import {
  DEFAULT_BLKSIZE,
  MAX_BLKSIZE,
  MAX_TIMEOUT,
  MAX_WINDOWSIZE,
  MIN_BLKSIZE,
  MIN_TIMEOUT,
  MIN_WINDOWSIZE,
} from './constants.js';
import type { TftpOption } from './packet.js';

/** What a transfer runs with once options are settled. */
export interface TransferSettings {
  blksize: number;
  windowsize: number;
  /** Retransmission timeout the peer asked for, in ms; undefined keeps the local default. */
  timeoutMs?: number;
  /** The size the peer announced (WRQ) or the server reported (RRQ), when tsize was negotiated. */
  tsize?: number;
}

export const defaultSettings: Readonly<TransferSettings> = { blksize: DEFAULT_BLKSIZE, windowsize: 1 };

/** What the server is willing to agree to. */
export interface ServerLimits {
  blksizeMax: number;
  windowMax: number;
}

export interface Negotiated {
  settings: TransferSettings;
  /** Options for the OACK, in the client's order and spelling; empty means no OACK (plain RFC 1350). */
  oack: TftpOption[];
}

/** A decimal option value; anything else (signs, spaces, hex, absurd lengths) is not a number here. */
function decimal(value: string): number | undefined {
  return /^[0-9]{1,10}$/.test(value) ? Number(value) : undefined;
}

/**
 * Server side of RFC 2347: takes the options of an RRQ or WRQ and answers
 * the ones it accepts. Unknown options, malformed values and values out of
 * range are left out of the OACK, never fatal. A blksize above 65464 is
 * clamped (some clients ask 65535), as is anything above the server's limits.
 * For an RRQ, tsize's value is ignored (atftp and others send `0` or words)
 * and answered with `fileSize` (left out for an empty file); for a WRQ, the
 * announced size is echoed.
 */
export function negotiateOptions(
  requested: readonly TftpOption[],
  op: 'read' | 'write',
  limits: ServerLimits,
  fileSize?: number,
): Negotiated {
  const settings: TransferSettings = { ...defaultSettings };
  const oack: TftpOption[] = [];
  const seen = new Set<string>();
  for (const { name, value } of requested) {
    const key = name.toLowerCase();
    if (seen.has(key)) continue; // the first occurrence decides
    seen.add(key);
    const n = decimal(value);
    switch (key) {
      case 'blksize':
        if (n === undefined || n < MIN_BLKSIZE) break;
        settings.blksize = Math.min(n, MAX_BLKSIZE, limits.blksizeMax);
        oack.push({ name, value: String(settings.blksize) });
        break;
      case 'timeout':
        if (n === undefined || n < MIN_TIMEOUT || n > MAX_TIMEOUT) break;
        settings.timeoutMs = n * 1000;
        oack.push({ name, value: String(n) });
        break;
      case 'windowsize':
        if (n === undefined || n < MIN_WINDOWSIZE || n > MAX_WINDOWSIZE) break;
        settings.windowsize = Math.min(n, limits.windowMax);
        oack.push({ name, value: String(settings.windowsize) });
        break;
      case 'tsize':
        if (op === 'read') {
          // curl rejects an OACK saying tsize 0 (against in.tftpd too), so an empty file's size goes unsaid.
          if (fileSize === undefined || fileSize === 0) break;
          settings.tsize = fileSize;
        } else {
          if (n === undefined) break;
          settings.tsize = n;
        }
        oack.push({ name, value: String(settings.tsize) });
        break;
    }
  }
  return { settings, oack };
}

/** Why a client refuses a server's OACK (it then sends ERROR 8). */
export class OackRefused extends Error {
  override name = 'OackRefused';
}

/**
 * Client side of RFC 2347: checks an OACK against what was asked and returns
 * the settings to use. A server may lower blksize/windowsize and may leave
 * options out, but it may not add options, raise values or change timeout.
 */
export function acceptOack(requested: readonly TftpOption[], oack: readonly TftpOption[]): TransferSettings {
  const asked = new Map(requested.map((o) => [o.name.toLowerCase(), o.value]));
  const settings: TransferSettings = { ...defaultSettings };
  for (const { name, value } of oack) {
    const key = name.toLowerCase();
    const mine = asked.get(key);
    if (mine === undefined) throw new OackRefused(`server acknowledged option "${name}" that was not requested`);
    const n = decimal(value);
    if (n === undefined) throw new OackRefused(`server sent ${name}=${JSON.stringify(value)}, not a number`);
    const limit = decimal(mine);
    switch (key) {
      case 'blksize':
        if (n < MIN_BLKSIZE || (limit !== undefined && n > Math.max(limit, MIN_BLKSIZE))) {
          throw new OackRefused(`server blksize ${n} is outside ${MIN_BLKSIZE}..${mine}`);
        }
        settings.blksize = n;
        break;
      case 'windowsize':
        if (n < MIN_WINDOWSIZE || (limit !== undefined && n > limit)) {
          throw new OackRefused(`server windowsize ${n} is outside ${MIN_WINDOWSIZE}..${mine}`);
        }
        settings.windowsize = n;
        break;
      case 'timeout':
        if (n !== limit) throw new OackRefused(`server changed timeout from ${mine} to ${n}`);
        settings.timeoutMs = n * 1000;
        break;
      case 'tsize':
        settings.tsize = n;
        break;
    }
  }
  return settings;
}
