import { randomBytes } from 'node:crypto';

/** A class, not an object literal: see file-handle.ts on allocation sites kept alive by a cache. */
class Listing {
  constructor(
    readonly dir: bigint,
    readonly mtime: bigint,
    /** Whether the directory's last change was well before the snapshot, so an unchanged mtime means unchanged names. */
    readonly settled: boolean,
    /** Each name's bytes as a string, one character a byte (nameKey): compact, and still the exact bytes. */
    readonly names: string[],
  ) {}
}

/** The first two names of every listing; never modified. */
const DOTS: readonly string[] = ['.', '..'];

/** File system timestamps are coarse (a clock tick): two changes within one keep the same mtime. */
const SETTLE_NS = 2_000_000_000n;

/**
 * Directory listings for READDIR/READDIRPLUS. A listing is a snapshot of
 * the names taken when a client starts at cookie 0; the cookie of the entry
 * at index i is i + 1 (`.` and `..` come first), and the cookie verifier
 * names the snapshot. Paging through a snapshot can neither repeat nor skip
 * an entry, however the directory changes meanwhile. A verifier the server
 * no longer knows (evicted, or from before a restart) gets a fresh snapshot
 * continued at the same index rather than NFS3ERR_BAD_COOKIE, which the
 * Linux client would answer by starting over, possibly forever.
 *
 * A new listing from cookie 0 of a directory whose mtime has not changed
 * (and was already two seconds old at the snapshot) reuses the last snapshot. Snapshots are kept LRU, bounded by their count
 * and by the names they hold together.
 */
export class DirListings {
  private readonly byVerf = new Map<string, Listing>();
  private readonly latest = new Map<bigint, string>();
  private readonly prefix = randomBytes(4);
  private counter = 0;
  private names = 0;

  constructor(
    private readonly maxListings = 256,
    private readonly maxNames = 2_000_000,
  ) {}

  async get(dir: bigint, mtime: bigint, load: () => Promise<string[]>, cookie: bigint, verf: Buffer): Promise<{ verf: Buffer; names: string[] }> {
    let key = cookie !== 0n ? verf.toString('hex') : this.latest.get(dir);
    let known = key !== undefined ? this.byVerf.get(key) : undefined;
    if (known && (known.dir !== dir || (cookie === 0n && (known.mtime !== mtime || !known.settled)))) known = undefined;
    if (known && key !== undefined) {
      this.byVerf.delete(key);
      this.byVerf.set(key, known);
      return { verf: Buffer.from(key, 'hex'), names: known.names };
    }
    // `load` gives the names' bytes one character a byte (nameKey's form), about as cheap as UTF-8
    // strings and much cheaper than a Buffer per name. The kept array is made by concat, not by an array
    // literal: V8 pretenures a literal's allocation site once most of what it made survives (these stay
    // cached), and that throws away the optimised code this function was inlined into.
    const names = DOTS.concat(await load());
    const v = Buffer.alloc(8);
    this.prefix.copy(v, 0);
    v.writeUInt32BE((++this.counter >>> 0) || 1, 4);
    key = v.toString('hex');
    const settled = BigInt(Date.now()) * 1_000_000n - mtime > SETTLE_NS;
    this.byVerf.set(key, new Listing(dir, mtime, settled, names));
    this.latest.set(dir, key);
    this.names += names.length;
    for (const [k, l] of this.byVerf) {
      if (this.byVerf.size <= this.maxListings && this.names <= this.maxNames) break;
      if (k === key) continue;
      this.byVerf.delete(k);
      this.names -= l.names.length;
      if (this.latest.get(l.dir) === k) this.latest.delete(l.dir);
    }
    return { verf: v, names };
  }
}
