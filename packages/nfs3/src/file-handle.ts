import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * What an NFS file handle names: an object of one export, by inode number
 * and birth time. Both survive a rename of the object or of any directory
 * above it and a server restart; the birth time tells a reused inode number
 * from the object the handle was made for (on a file system without birth
 * times it is 0 and only the inode number is checked).
 *
 * Layout (38 bytes): version u8 | reserved u8 | export id u32 | ino u64 |
 * birth time ns u64 | HMAC-SHA256 of the preceding 22 bytes, first 16 bytes.
 * The MAC, keyed by a secret kept in the state directory, makes a forged or
 * altered handle BADHANDLE instead of a guess at some other file.
 */
export interface HandleId {
  exportId: number;
  ino: bigint;
  birth: bigint;
}

const VERSION = 1;
const BODY = 22;
const MAC = 16;
export const HANDLE_SIZE = BODY + MAC;

/** Verified handles remembered, so the calls of a busy client skip the HMAC (a few microseconds each). */
const VERIFIED_MAX = 4096;

export class HandleCodec {
  private readonly verified = new Map<string, HandleId>();
  /** Handles made, so LOOKUP and READDIRPLUS of known objects skip the HMAC too. */
  private readonly encoded = new Map<string, Buffer>();

  constructor(private readonly key: Buffer) {}

  /** The handle of an object; the same buffer for the same object while it is remembered: do not modify it. */
  encode(id: HandleId): Buffer {
    const key = `${id.exportId >>> 0}:${id.ino}:${id.birth}`;
    const hit = this.encoded.get(key);
    if (hit) return hit;
    const h = Buffer.alloc(HANDLE_SIZE);
    h[0] = VERSION;
    h.writeUInt32BE(id.exportId >>> 0, 2);
    h.writeBigUInt64BE(id.ino, 6);
    h.writeBigUInt64BE(id.birth, 14);
    this.mac(h.subarray(0, BODY)).copy(h, BODY);
    if (this.encoded.size >= VERIFIED_MAX) this.encoded.delete(this.encoded.keys().next().value!);
    this.encoded.set(key, h);
    return h;
  }

  /** The object a handle names, or undefined when it is not one of ours (BADHANDLE). */
  decode(h: Buffer): HandleId | undefined {
    if (h.length !== HANDLE_SIZE || h[0] !== VERSION || h[1] !== 0) return undefined;
    const key = h.toString('latin1');
    const hit = this.verified.get(key);
    if (hit) return hit;
    if (!timingSafeEqual(this.mac(h.subarray(0, BODY)), h.subarray(BODY))) return undefined;
    const id = Object.freeze({ exportId: h.readUInt32BE(2), ino: h.readBigUInt64BE(6), birth: h.readBigUInt64BE(14) });
    if (this.verified.size >= VERIFIED_MAX) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(key, id);
    return id;
  }

  private mac(body: Buffer): Buffer {
    return createHmac('sha256', this.key).update(body).digest().subarray(0, MAC);
  }
}
