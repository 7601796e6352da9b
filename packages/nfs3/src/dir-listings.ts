import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';

interface Listing {
  dir: bigint;
  names: string[];
}

/**
 * Directory listings for READDIR/READDIRPLUS. A listing is a snapshot of
 * the names taken when a client starts at cookie 0; the cookie of the entry
 * at index i is i + 1 (`.` and `..` come first), and the cookie verifier
 * names the snapshot. Paging through a snapshot can neither repeat nor skip
 * an entry, however the directory changes meanwhile. A verifier the server
 * no longer knows (evicted, or from before a restart) gets a fresh snapshot
 * continued at the same index rather than NFS3ERR_BAD_COOKIE, which the
 * Linux client would answer by starting over, possibly forever.
 */
export class DirListings {
  private readonly byVerf = new Map<string, Listing>();
  private readonly prefix = randomBytes(4);
  private counter = 0;

  constructor(private readonly max = 256) {}

  async get(dir: bigint, path: string, cookie: bigint, verf: Buffer): Promise<{ verf: Buffer; names: string[] }> {
    const key = verf.toString('hex');
    const known = cookie !== 0n ? this.byVerf.get(key) : undefined;
    if (known && known.dir === dir) {
      this.byVerf.delete(key);
      this.byVerf.set(key, known);
      return { verf, names: known.names };
    }
    const names = ['.', '..', ...(await readdir(path))];
    const v = Buffer.alloc(8);
    this.prefix.copy(v, 0);
    v.writeUInt32BE((++this.counter >>> 0) || 1, 4);
    this.byVerf.set(v.toString('hex'), { dir, names });
    for (const k of this.byVerf.keys()) {
      if (this.byVerf.size <= this.max) break;
      this.byVerf.delete(k);
    }
    return { verf: v, names };
  }
}
