import type { Lease } from './lease.js';
import type { Reservation } from './lease-policy.js';

/**
 * What a shared store answers to a claim: the address is the client's now
 * (durably, for a lease), or it is not, with the rows that stood in the way
 * (another client's lease or offer on the address, or the client's own
 * lease elsewhere) so the policy can learn them and choose again.
 */
export type Claim = { ok: true } | { ok: false; holders: Lease[] };

/**
 * A lease store several DHCP servers share (a database). Unlike the lease
 * file, which only records what its one server decided, a shared store
 * decides who may hold an address: every claim is atomic in the store, so two
 * servers can never give one address to two clients. The server answers a
 * client only after its claim resolved `ok`; a rejected promise means the
 * store could not be reached and nothing was recorded.
 */
export interface SharedLeaseStore {
  /** Names the store in log lines (no password). */
  readonly name: string;
  /** Every lease and live offer in the store now. */
  load(now: number): Promise<Lease[]>;
  /**
   * Holds an offered address for the client. With `ownFirst`, a client that
   * already holds another live lease or offer is refused and told about it,
   * so it is offered the address it has.
   */
  reserve(r: Reservation, now: number, ownFirst: boolean): Promise<Claim>;
  /** Records a lease (bound, released or abandoned) if the address is free for its client; resolves once committed. */
  record(lease: Lease, now: number): Promise<Claim>;
  /** The rows on an address or of a client as the store has them now, oldest first. */
  lookup(ip: number, client: string): Promise<Lease[]>;
  /** Rows other servers (or this one) changed since the last call, oldest first. */
  changes(): Promise<Lease[]>;
  close(): Promise<void>;
}
