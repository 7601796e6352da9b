// Hand-made archives for the hostile and edge cases no tar program writes.

export interface Member {
  name: string;
  type?: string; // typeflag character, '0' by default
  data?: string | Buffer;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  /** Overrides the size field (a size larger than what follows). */
  size?: number;
  devmajor?: number;
  devminor?: number;
  /** pax records written as an 'x' header before the member. */
  pax?: Record<string, string | Buffer>;
}

function octal(b: Buffer, at: number, len: number, v: number): void {
  b.write(v.toString(8).padStart(len - 1, '0') + '\0', at, len, 'latin1');
}

/** One 512-byte ustar header with a correct checksum. */
export function header(m: Member, size: number): Buffer {
  const b = Buffer.alloc(512);
  b.write(m.name, 0, 100, 'utf8');
  octal(b, 100, 8, m.mode ?? 0o644);
  octal(b, 108, 8, m.uid ?? 0);
  octal(b, 116, 8, m.gid ?? 0);
  octal(b, 124, 12, size);
  octal(b, 136, 12, m.mtime ?? 1_700_000_000);
  b.write(m.type ?? '0', 156, 1, 'latin1');
  b.write(m.linkname ?? '', 157, 100, 'utf8');
  b.write('ustar\x0000', 257, 8, 'latin1');
  octal(b, 329, 8, m.devmajor ?? 0);
  octal(b, 337, 8, m.devminor ?? 0);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const c of b) sum += c;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return b;
}

const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);

function paxBody(records: Record<string, string | Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(records)) {
    const rest = Buffer.concat([Buffer.from(` ${k}=`), Buffer.from(v), Buffer.from('\n')]);
    let len = rest.length + 1;
    while (String(len).length + rest.length !== len) len = String(len).length + rest.length;
    parts.push(Buffer.from(String(len)), rest);
  }
  return Buffer.concat(parts);
}

/** An archive of `members`, ended with two zero blocks unless `end` is false. */
export function tar(members: Member[], end = true): Buffer {
  const parts: Buffer[] = [];
  for (const m of members) {
    if (m.pax) {
      const body = paxBody(m.pax);
      parts.push(header({ name: 'PaxHeader', type: 'x' }, body.length), body, pad(body.length));
    }
    const data = Buffer.from(m.data ?? '');
    parts.push(header(m, m.size ?? data.length), data, pad(data.length));
  }
  if (end) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
