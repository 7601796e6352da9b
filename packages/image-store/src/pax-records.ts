import { TarError } from './tar-error.js';

/**
 * Parses a pax extended header body: records "LEN KEY=VALUE\n", LEN the
 * decimal length of the whole record. Values stay byte views (xattr values
 * are binary); `offset` is the body's stream offset, for errors.
 */
export function parsePax(body: Uint8Array, offset: number): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  let i = 0;
  while (i < body.length) {
    if (body[i] === 0) break; // some writers pad the body with NULs
    let len = 0;
    let j = i;
    while (j < body.length && body[j]! >= 0x30 && body[j]! <= 0x39 && j - i < 10) len = len * 10 + (body[j++]! - 0x30);
    if (j === i || body[j] !== 0x20) throw new TarError('field', 'pax record length', offset + i, 'pax record length is not a decimal number followed by a space');
    const end = i + len;
    if (len < j - i + 3 || end > body.length || body[end - 1] !== 0x0a) throw new TarError('field', 'pax record length', offset + i, `pax record length ${len} does not fit the record`);
    const eq = body.indexOf(0x3d, j + 1);
    if (eq === -1 || eq >= end) throw new TarError('field', 'pax record', offset + i, 'pax record has no "="');
    const key = utf8(body.subarray(j + 1, eq), 'pax key', offset + i);
    out.set(key, body.subarray(eq + 1, end - 1));
    i = end;
  }
  return out;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Decodes a name or value as UTF-8, refusing invalid sequences and NUL (neither can be a Linux path component we keep). */
export function utf8(b: Uint8Array, field: string, offset: number, entry?: string): string {
  let s: string;
  try {
    s = decoder.decode(b);
  } catch {
    throw new TarError('field', field, offset, `${field} is not valid UTF-8`, entry);
  }
  if (s.includes('\0')) throw new TarError('field', field, offset, `${field} contains NUL`, entry);
  return s;
}

/** A pax whole number (size, uid, gid). */
export function paxNumber(v: Uint8Array, key: string, offset: number): number {
  const s = utf8(v, key, offset);
  if (!/^\d{1,15}$/.test(s)) throw new TarError('field', key, offset, `pax ${key} "${s.slice(0, 40)}" is not a whole number`);
  return Number(s);
}

/** A pax time ("1700000000.123456789", "-1.5") as whole seconds (floor) and nanoseconds, exactly. */
export function paxTime(v: Uint8Array, key: string, offset: number): { sec: number; nsec: number } {
  const s = utf8(v, key, offset);
  const m = /^(-?)(\d{1,15})(?:\.(\d{0,30}))?$/.exec(s);
  if (!m) throw new TarError('field', key, offset, `pax ${key} "${s.slice(0, 40)}" is not a time`);
  const whole = Number(m[2]);
  const frac = Number((m[3] ?? '').slice(0, 9).padEnd(9, '0'));
  if (m[1] === '-') return frac === 0 ? { sec: -whole, nsec: 0 } : { sec: -whole - 1, nsec: 1e9 - frac };
  return { sec: whole, nsec: frac };
}
