/**
 * What the services saw of a node's boot, one typed event per decision they
 * already make (a lease chosen, a transfer ended, a mount granted, the first
 * READ of init). Events carry the time they happened (`at`, ms since the
 * epoch) and the node as the service knows it: DHCP by MAC (and the address
 * it leased), everything after DHCP by IP address only.
 */

export type DhcpMessageName = 'DISCOVER' | 'OFFER' | 'REQUEST' | 'ACK' | 'NAK' | 'DECLINE' | 'RELEASE' | 'INFORM';

/** A DHCP message received from a node, or sent to it (OFFER, ACK, NAK). */
export interface DhcpEvent {
  kind: 'dhcp';
  at: number;
  /** Lower case, colon separated. */
  mac: string;
  message: DhcpMessageName;
  /** The address leased or offered (OFFER/ACK), or the one the client names (REQUEST, RELEASE, INFORM). */
  ip?: string;
  /** Option 60, e.g. `PXEClient:Arch:00007:UNDI:003016` or `HTTPClient:...`. */
  vendorClass?: string;
  /** Option 93, the client system architecture (RFC 4578; 0 BIOS x86, 7 UEFI x64, 16 UEFI x64 HTTP). */
  arch?: number;
  /** Option 77, e.g. `iPXE`. */
  userClass?: string;
  /** Option 12 from the client, or the host name the configuration gives it. */
  hostName?: string;
  /** The boot file sent (OFFER/ACK). */
  bootFile?: string;
}

/**
 * How a file transfer ended. `probe` is the size probe UEFI firmware aborts on purpose after the OACK: normal.
 * `unconfirmed`: every block went out but the final ACK never came; the client most likely has the file (a
 * lost final ACK is ordinary in TFTP), so it is not an error.
 */
export type TransferOutcome = 'complete' | 'unconfirmed' | 'probe' | 'timeout' | 'error' | 'refused';

/** A file asked for over TFTP or HTTP. */
export interface FileRequestEvent {
  kind: 'file-request';
  at: number;
  protocol: 'tftp' | 'http';
  ip: string;
  file: string;
  /** TFTP options asked for (blksize, tsize, windowsize, timeout), as sent. */
  options?: Record<string, string>;
}

/** A TFTP or HTTP transfer that ended, one way or another. */
export interface FileDoneEvent {
  kind: 'file-done';
  at: number;
  protocol: 'tftp' | 'http';
  ip: string;
  file: string;
  outcome: TransferOutcome;
  bytes: number;
  seconds: number;
  /** The block size agreed (TFTP). */
  blksize?: number;
  /** Times data was sent again after a timeout (TFTP). */
  retransmits?: number;
  /** Why it did not complete (the TFTP error text, the HTTP status). */
  detail?: string;
}

/** A MOUNT call: MNT granted or refused, or UMNT. */
export interface MountEvent {
  kind: 'mount';
  at: number;
  ip: string;
  op: 'MNT' | 'UMNT';
  path: string;
  /** MOUNT protocol version: 1 is what an NFSv2 client uses. */
  version: number;
  ok: boolean;
  /** Why it was refused (e.g. `not exported to 198.18.1.20`). */
  reason?: string;
  /** The exports line that decided it, as `file:line`, when known. */
  exportsLine?: string;
}

/** NFS calls from a node, reported at the edges that matter to a boot (never per call). */
export interface NfsEvent {
  kind: 'nfs';
  at: number;
  ip: string;
  /**
   * `first-call`: the node's first NFS call since it mounted; `init-read`: its
   * first READ of the init program; `active`: it is still calling (sent at
   * most once per interval by the adapter); `error`: a call failed.
   */
  what: 'first-call' | 'init-read' | 'active' | 'error';
  /** NFS3ERR_* name for `error`. */
  status?: string;
  /** The procedure, e.g. LOOKUP. */
  proc?: string;
  /** The init path read (`init-read`). */
  path?: string;
}

/** SM_NOTIFY from a node's status monitor: it rebooted. */
export interface RebootEvent {
  kind: 'reboot';
  at: number;
  ip: string;
  /** The name the node gave itself in the notice. */
  name?: string;
}

export type BootEvent = DhcpEvent | FileRequestEvent | FileDoneEvent | MountEvent | NfsEvent | RebootEvent;

/** Every `kind`, for checks of untrusted input (a history line read back). */
export const EVENT_KINDS: ReadonlySet<BootEvent['kind']> = new Set(['dhcp', 'file-request', 'file-done', 'mount', 'nfs', 'reboot']);

export const DHCP_MESSAGES: readonly DhcpMessageName[] = ['DISCOVER', 'OFFER', 'REQUEST', 'ACK', 'NAK', 'DECLINE', 'RELEASE', 'INFORM'];
