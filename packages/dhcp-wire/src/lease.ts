/** One address binding, as the policy keeps it and the lease file records it. */
export interface Lease {
  ip: number;
  /** The client key: hex of option 61 when the client sent one, else "01" + hardware address hex. */
  client: string;
  /** Hardware address as `aa:bb:cc:dd:ee:ff`. */
  mac: string;
  /** Milliseconds since the epoch. */
  start: number;
  /** Milliseconds since the epoch; Infinity for BOOTP's infinite leases. */
  end: number;
  /** active: bound; released: given back by the client; abandoned: declined as in use by someone else. */
  state: 'active' | 'released' | 'abandoned';
}
