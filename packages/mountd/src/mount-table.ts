import type { MountEntry } from './mount-wire.js';

/**
 * Who has mounted what: the answer to DUMP. It is advisory (clients often
 * never send UMNT; the Linux kernel does not at shutdown) but admins read it
 * to see which nodes are up. The text form is nfs-utils' rmtab:
 * `host:path:0x00000001` per line, with whitespace, `\` and control bytes of
 * the path written as `\ooo`.
 */
export class MountTable {
  private readonly entries: MountEntry[] = [];

  list(): MountEntry[] {
    return this.entries.map((e) => ({ ...e }));
  }

  /** Records a mount; false if it was already recorded. */
  add(hostname: string, directory: string): boolean {
    if (this.entries.some((e) => e.hostname === hostname && e.directory === directory)) return false;
    this.entries.push({ hostname, directory });
    return true;
  }

  /** Forgets one mount; false if it was not recorded. */
  remove(hostname: string, directory: string): boolean {
    const i = this.entries.findIndex((e) => e.hostname === hostname && e.directory === directory);
    if (i < 0) return false;
    this.entries.splice(i, 1);
    return true;
  }

  /** Forgets every mount of one client; returns how many. */
  removeHost(hostname: string): number {
    let n = 0;
    for (let i = this.entries.length - 1; i >= 0; i--) {
      if (this.entries[i].hostname === hostname) {
        this.entries.splice(i, 1);
        n++;
      }
    }
    return n;
  }

  toText(): string {
    return this.entries.map((e) => `${e.hostname}:${escapePath(e.directory)}:0x00000001\n`).join('');
  }

  /** Reads rmtab text; lines that are not `host:/path[:count]` are skipped (a torn write must not stop a restart). */
  static fromText(text: string): MountTable {
    const table = new MountTable();
    for (const line of text.split('\n')) {
      // The host may be an IPv6 address full of colons; the path is absolute, so it starts at the first ":/".
      const split = line.indexOf(':/');
      if (split <= 0) continue;
      const hostname = line.slice(0, split);
      const rest = line.slice(split + 1);
      const count = rest.search(/:0x[0-9a-f]+$/i);
      const directory = unescapePath(count < 0 ? rest : rest.slice(0, count));
      if (/\s/.test(hostname)) continue;
      table.add(hostname, directory);
    }
    return table;
  }
}

function escapePath(path: string): string {
  let out = '';
  for (const ch of path) {
    if (/[\s\\:\p{Cc}]/u.test(ch) && ch !== '/') {
      for (const b of Buffer.from(ch, 'utf8')) out += `\\${b.toString(8).padStart(3, '0')}`;
    } else out += ch;
  }
  return out;
}

function unescapePath(text: string): string {
  const bytes: number[] = [];
  const raw = Buffer.from(text, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x5c && i + 3 < raw.length && /^[0-7]{3}$/.test(raw.subarray(i + 1, i + 4).toString('latin1'))) {
      bytes.push(parseInt(raw.subarray(i + 1, i + 4).toString('latin1'), 8) & 0xff);
      i += 3;
    } else bytes.push(raw[i]);
  }
  return Buffer.from(bytes).toString('utf8');
}
