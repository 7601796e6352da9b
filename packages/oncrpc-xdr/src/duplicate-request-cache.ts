/**
 * The duplicate request cache: a client that retransmits a call over UDP
 * (because the reply was lost or slow) must not make a non-idempotent
 * procedure (CREATE, REMOVE, RENAME, SET) run twice. Entries are keyed by
 * xid, client address and port, program, version, procedure and a checksum
 * of the arguments (so an xid reused for a different call is not confused
 * with a retransmission).
 *
 * Pure: the caller passes the time. Bounded: at most `capacity` entries,
 * oldest first out; an entry older than `ttlMs` is forgotten.
 */

export type DrcDecision =
  | { kind: 'new' } // run the call, then complete() or abandon()
  | { kind: 'in-progress' } // the original is still running: drop the retransmission
  | { kind: 'replay'; reply: Buffer }; // send this reply again

interface Entry {
  at: number;
  reply: Buffer | null;
}

/** Bytes of the arguments that go into the checksum, as Linux nfsd does (RC_CSUMLEN). */
const CHECKSUM_BYTES = 256;

/** FNV-1a over the first 256 bytes of the arguments, mixed with their length. */
export function argsChecksum(args: Uint8Array): number {
  let h = 0x811c9dc5 ^ args.length;
  const n = Math.min(args.length, CHECKSUM_BYTES);
  for (let i = 0; i < n; i++) {
    h ^= args[i];
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function drcKey(
  xid: number,
  address: string,
  port: number,
  prog: number,
  vers: number,
  proc: number,
  args: Uint8Array,
): string {
  return `${xid}/${address}/${port}/${prog}/${vers}/${proc}/${argsChecksum(args)}`;
}

export class DuplicateRequestCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    readonly capacity: number,
    readonly ttlMs = 120_000,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  begin(key: string, now: number): DrcDecision {
    const e = this.entries.get(key);
    if (e && now - e.at < this.ttlMs) {
      return e.reply ? { kind: 'replay', reply: e.reply } : { kind: 'in-progress' };
    }
    if (e) this.entries.delete(key);
    if (this.capacity <= 0) return { kind: 'new' };
    while (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    this.entries.set(key, { at: now, reply: null });
    return { kind: 'new' };
  }

  /** Remembers the reply (copied: handlers may reuse their buffers once it is sent). */
  complete(key: string, reply: readonly Uint8Array[], now: number): void {
    const e = this.entries.get(key);
    if (!e) return;
    e.reply = Buffer.concat(reply);
    e.at = now;
  }

  /** Forgets a call that produced no reply, so a retransmission runs it. */
  abandon(key: string): void {
    this.entries.delete(key);
  }
}
