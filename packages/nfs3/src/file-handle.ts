import { type Cipher, createCipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { BoundedMap } from './bounded-map.js';

/**
 * What an NFS file handle names: an object of one export, by inode number
 * and birth time. Both survive a rename of the object or of any directory
 * above it and a server restart; the birth time tells a reused inode number
 * from the object the handle was made for (on a file system without birth
 * times it is 0 and only the inode number is checked).
 *
 * Layout (32 bytes): version 2 u8 | reserved u8 | export id u32 | ino u64 |
 * birth time ns u64 | MAC, 10 bytes. The MAC is AES-128 of the block
 * ino | birth under a key of the export's own (derived from the secret kept
 * in the state directory and the export id), which makes a forged or altered
 * handle BADHANDLE instead of a guess at some other file. One AES block per
 * handle lets a READDIRPLUS reply sign all its entries in one cipher call
 * (about 0.1 µs a handle, against several µs for an HMAC each); the handle
 * is 6 bytes shorter than version 1's, so a reply holds more entries.
 *
 * Version 1 handles (38 bytes: the same fields, then the first 16 bytes of
 * HMAC-SHA256 of the preceding 22, under the secret itself), which servers
 * before version 2 gave out, are still accepted: a client that held one
 * across the upgrade keeps using it.
 */
export interface HandleId {
  exportId: number;
  ino: bigint;
  birth: bigint;
}

const VERSION = 2;
const BODY = 22;
const MAC = 10;
export const HANDLE_SIZE = BODY + MAC;

const V1 = 1;
const V1_MAC = 16;
const V1_SIZE = BODY + V1_MAC;

/** Verified handles remembered, so the calls of a busy client skip the MAC check. */
const VERIFIED_MAX = 4096;
/** Handles made, so LOOKUP and READDIRPLUS of known objects skip the MAC too. */
const ENCODED_MAX = 16384;

/** Whether two handles are the same bytes, in a time that does not tell how many leading bytes matched. */
const same = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);

/**
 * A handle this codec made or verified, and what it names. Classes, not object literals: one of each is
 * kept per handle, and V8 pretenures a literal's allocation site once most of what it made survives,
 * discarding the optimised code of every function the site was inlined into.
 */
class Known {
  constructor(
    readonly h: Buffer,
    readonly id: HandleId,
  ) {}
}

class Id implements HandleId {
  constructor(
    readonly exportId: number,
    readonly ino: bigint,
    readonly birth: bigint,
  ) {}
}

/**
 * The remembered handles' key: the inode number mixed with the export id. Image-backed node roots are
 * exports of their own over one image, so an inode number names an object in each of them; keyed by the
 * inode alone, nodes booting together displaced each other's handles and their calls paid the MAC. A
 * number below 2^30, which V8 keeps a small integer: no key allocated per call. Two objects meeting on one
 * key cost a miss, never a wrong answer (see HandleCodec's maps).
 */
function keyOf(exportId: number, ino: bigint): number {
  return (Number(ino) + exportId * 0x9e3779b1) % 0x40000000;
}

export class HandleCodec {
  /**
   * Both by keyOf. A hit in `encoded` is checked against the inode, export and birth time asked for; a
   * handle to decode is compared byte for byte with the one remembered, which is as good as its MAC: only a
   * handle this codec made or verified is remembered.
   */
  private readonly verified = new BoundedMap<number, Known>(VERIFIED_MAX);
  private readonly encoded = new BoundedMap<number, Known>(ENCODED_MAX);
  /** AES-128-ECB per export id: ECB without padding keeps no state between blocks, so one cipher serves every call. */
  private readonly ciphers = new Map<number, Cipher>();

  constructor(private readonly key: Buffer) {}

  /** The handle of an object; the same buffer for the same object while it is remembered: do not modify it. */
  encode(id: HandleId): Buffer {
    return this.encodeMany([id])[0]!;
  }

  /** The handles of objects of one or more exports, the MACs of those not remembered computed together. */
  encodeMany(ids: readonly HandleId[]): Buffer[] {
    const out: Buffer[] = new Array(ids.length);
    let missing: number[] | undefined;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const exportId = id.exportId >>> 0;
      const hit = this.encoded.get(keyOf(exportId, id.ino));
      if (hit && hit.id.ino === id.ino && hit.id.birth === id.birth && hit.id.exportId === exportId) out[i] = hit.h;
      else (missing ??= []).push(i);
    }
    // One cipher call per export among the missing (a READDIRPLUS reply is all one export).
    while (missing && missing.length > 0) {
      const exportId = ids[missing[0]!]!.exportId >>> 0;
      const group: number[] = [];
      const rest: number[] = [];
      for (const i of missing) (ids[i]!.exportId >>> 0 === exportId ? group : rest).push(i);
      this.sign(exportId, ids, group, out);
      missing = rest;
    }
    return out;
  }

  /**
   * Makes the handles of `ids[i]` for each i of `list` (all of export `exportId`) into `out[i]`. Bytes are
   * moved one by one and the 64-bit fields written through a DataView: for a few dozen bytes that is
   * several times cheaper than Buffer's copy and writeBigUInt64BE calls.
   */
  private sign(exportId: number, ids: readonly HandleId[], list: readonly number[], out: Buffer[]): void {
    const n = list.length;
    const blocks = Buffer.allocUnsafe(16 * n);
    const view = new DataView(blocks.buffer, blocks.byteOffset, blocks.byteLength);
    for (let k = 0; k < n; k++) {
      const id = ids[list[k]!]!;
      view.setBigUint64(16 * k, BigInt.asUintN(64, id.ino));
      view.setBigUint64(16 * k + 8, BigInt.asUintN(64, id.birth));
    }
    const macs = this.cipher(exportId).update(blocks);
    const handles = Buffer.allocUnsafe(HANDLE_SIZE * n);
    for (let k = 0; k < n; k++) {
      const at = HANDLE_SIZE * k;
      handles[at] = VERSION;
      handles[at + 1] = 0;
      handles[at + 2] = exportId >>> 24;
      handles[at + 3] = (exportId >>> 16) & 0xff;
      handles[at + 4] = (exportId >>> 8) & 0xff;
      handles[at + 5] = exportId & 0xff;
      for (let j = 0; j < 16; j++) handles[at + 6 + j] = blocks[16 * k + j]!;
      for (let j = 0; j < MAC; j++) handles[at + BODY + j] = macs[16 * k + j]!;
      const h = handles.subarray(at, at + HANDLE_SIZE);
      const id = ids[list[k]!]!;
      this.encoded.set(keyOf(exportId, id.ino), new Known(h, Object.freeze(new Id(exportId, id.ino, id.birth))));
      out[list[k]!] = h;
    }
  }

  /** The object a handle names, or undefined when it is not one of ours (BADHANDLE). */
  decode(h: Buffer): HandleId | undefined {
    const v2 = h.length === HANDLE_SIZE && h[0] === VERSION;
    if (!(v2 || (h.length === V1_SIZE && h[0] === V1)) || h[1] !== 0) return undefined;
    // Both versions carry the inode number at the same offset.
    const ino = h.readBigUInt64BE(6);
    const exportId = h.readUInt32BE(2);
    const key = keyOf(exportId, ino);
    const made = this.encoded.get(key);
    if (made && same(made.h, h)) return made.id;
    const seen = this.verified.get(key);
    if (seen && same(seen.h, h)) return seen.id;
    const expected = v2 ? this.cipher(exportId).update(h.subarray(6, BODY)).subarray(0, MAC) : this.v1Mac(h.subarray(0, BODY));
    if (!timingSafeEqual(expected, h.subarray(BODY))) return undefined;
    const id = Object.freeze(new Id(exportId, ino, h.readBigUInt64BE(14)));
    // A copy: `h` is usually a view of the call's receive buffer, which the next call reuses.
    this.verified.set(key, new Known(Buffer.from(h), id));
    return id;
  }

  private cipher(exportId: number): Cipher {
    let c = this.ciphers.get(exportId);
    if (!c) {
      // The export's key: HMAC of the export id under the secret, so no two exports share a key and the secret is never an AES key itself.
      const label = Buffer.alloc(4 + 16);
      label.writeUInt32BE(exportId >>> 0, 0);
      label.write('nfs handle v2', 4, 'latin1');
      const k = createHmac('sha256', this.key).update(label).digest().subarray(0, 16);
      c = createCipheriv('aes-128-ecb', k, null);
      c.setAutoPadding(false);
      // Exports are few (each a line of the exports file); a forged handle naming many export ids adds a cipher each: bounded.
      if (this.ciphers.size >= 1024) this.ciphers.clear();
      this.ciphers.set(exportId, c);
    }
    return c;
  }

  private v1Mac(body: Buffer): Buffer {
    return createHmac('sha256', this.key).update(body).digest().subarray(0, V1_MAC);
  }
}
