import { randomBytes } from 'node:crypto';

/**
 * Transaction ids: a random start (so a restarted client does not reuse the
 * xids of its previous life, which a server's duplicate request cache would
 * answer from memory), then consecutive values, skipping any still in use.
 */
export class XidAllocator {
  private next: number;

  constructor(start = randomBytes(4).readUInt32BE(0)) {
    this.next = start >>> 0;
  }

  allocate(inUse: { has(xid: number): boolean }): number {
    for (;;) {
      const xid = this.next;
      this.next = (this.next + 1) >>> 0;
      if (!inUse.has(xid)) return xid;
    }
  }
}
