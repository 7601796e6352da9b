import type { SlotLoad } from '@netboot/tftp-wire';

/**
 * The longest an OFFER is held: PXE ROMs retransmit DISCOVER after 4 s (then
 * 8, 16, 32), so an OFFER held up to 3 s still reaches the client before its
 * first retry, and the node is paced rather than counted as a retry.
 */
export const MAX_OFFER_DELAY_MS = 3000;

/**
 * How long to hold a new node's OFFER, given the TFTP transfer slots: not at
 * all while a slot is free; once they are all taken, in proportion to the
 * backlog (running beyond the slots plus waiting), reaching the cap when a
 * whole round of slots is waiting. A node offered later asks for its files
 * later, when the nodes ahead of it are done, instead of adding to a queue
 * where its ROM's short TFTP timeouts would run out. Pure: no clock, no I/O.
 */
export function offerDelayMs(load: SlotLoad, maxMs = MAX_OFFER_DELAY_MS): number {
  const over = load.active + load.waiting - load.slots + 1;
  if (over <= 0 || load.slots <= 0) return 0;
  return Math.min(maxMs, Math.round((maxMs * over) / load.slots));
}
