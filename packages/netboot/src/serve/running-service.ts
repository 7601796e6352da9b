/** Where a service answers, for the table `netboot serve` prints at start. */
export interface Endpoint {
  service: string;
  proto: 'udp' | 'tcp' | 'udp+tcp';
  address: string;
  port: number;
}

/** One service started by `netboot serve` (or by its own command). */
export interface RunningService {
  name: string;
  endpoints: Endpoint[];
  /** Re-reads its files; on a bad file it rejects and the running settings stay in force. */
  reload(): Promise<void>;
  /** Stops accepting, ends what is in flight and releases its sockets. */
  close(): Promise<void>;
  /** What the status port's gauges read: leases held (DHCP), mounts listed (NFS). */
  counts?(): { leases?: number; mounts?: number };
}

/**
 * One log line. `mayWait`: the line may be held back a moment and written
 * with the next ones (an access log line, one per request); any other line is
 * written at once, with those held before it.
 */
export type Log = (line: string, mayWait?: boolean) => void;

/** A server's levelled log as `name:` lines: warnings marked, debug lines only when verbose. */
export function serviceLog(name: string, verbose: boolean, log: Log): (level: 'debug' | 'info' | 'warning', message: string) => void {
  return (level, message) => {
    if (level === 'debug' && !verbose) return;
    log(level === 'warning' ? `${name}: warning: ${message}` : `${name}: ${message}`);
  };
}
