/** IPv4 addresses are carried as unsigned 32-bit numbers: cheap to compare, hash and mask. */

/** Dotted quad → number; undefined for anything that is not exactly four octets. */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

/** Number → dotted quad. */
export function formatIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** Prefix length → netmask. */
export function prefixToMask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Whether `addr` is inside `network/mask`. */
export function inSubnet(addr: number, network: number, mask: number): boolean {
  return ((addr & mask) >>> 0) === ((network & mask) >>> 0);
}

/** Hardware address bytes → `aa:bb:cc:dd:ee:ff`, the way dhcpd logs it. */
export function formatMac(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) {
    if (i) s += ':';
    s += bytes[i].toString(16).padStart(2, '0');
  }
  return s;
}

/** `aa:bb:cc:dd:ee:ff` (any case, one or two hex digits per octet) → bytes; undefined if malformed. */
export function parseMac(text: string): Buffer | undefined {
  const parts = text.split(':');
  if (parts.length < 1 || parts.length > 16) return undefined;
  const out = Buffer.alloc(parts.length);
  for (let i = 0; i < parts.length; i++) {
    if (!/^[0-9a-fA-F]{1,2}$/.test(parts[i])) return undefined;
    out[i] = parseInt(parts[i], 16);
  }
  return out;
}
