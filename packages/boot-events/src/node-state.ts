import type { Firmware } from './firmware.js';

/**
 * Where a node is in its boot. `kernel` is the kernel and initrd being
 * fetched, `mounted` its root mounted (MOUNT granted), `init` its init
 * program read over NFS, `up` NFS activity going on after that; `lost` is a
 * node silent for longer than its stage allows.
 */
export type Stage = 'off' | 'dhcp' | 'loader' | 'kernel' | 'mounted' | 'init' | 'up' | 'lost';

export const STAGES: readonly Stage[] = ['off', 'dhcp', 'loader', 'kernel', 'mounted', 'init', 'up', 'lost'];

/** Order along a boot; `lost` and `off` are outside it. */
export const STAGE_RANK: Readonly<Record<Stage, number>> = { off: 0, dhcp: 1, loader: 2, kernel: 3, mounted: 4, init: 5, up: 6, lost: -1 };

/** One stage of a boot: when it began and ended (null while it lasts), in ms since the epoch. */
export interface StageSpan {
  name: Stage;
  start: number;
  end: number | null;
}

/** One bar of a boot's waterfall: a DHCP exchange, a file, a MOUNT, the first NFS call, the first READ of init. */
export interface TimelineEntry {
  what: 'dhcp' | 'tftp' | 'http' | 'mount' | 'nfs' | 'init' | 'reboot';
  label: string;
  start: number;
  end: number | null;
  /** complete, probe, timeout, error, refused, granted... */
  outcome?: string;
  bytes?: number;
  /** TFTP data sent again after timeouts. */
  retransmits?: number;
}

/** What the live doctor needs from one boot's traffic. */
export interface BootCounters {
  discovers: number;
  offers: number;
  requests: number;
  acks: number;
  /** TFTP transfers that timed out, by block size. */
  tftpTimeouts: Record<string, number>;
  /** Loader files asked for, in order (at most a few). */
  loaderFiles: string[];
  mountRefused: { path: string; reason: string; exportsLine?: string } | null;
  /** MOUNT v1 was used: the node wants NFSv2, which netboot does not serve. */
  nfsV2: boolean;
  nfsErrors: number;
}

/** One boot of a node, from its first DHCP (or first request seen) on. */
export interface Boot {
  /** 1 for the first boot seen. */
  number: number;
  start: number;
  stages: StageSpan[];
  timeline: TimelineEntry[];
  /** Timeline entries left out past the bound. */
  timelineDropped: number;
  counters: BootCounters;
  /** ms from the boot's start to `up`, once reached. */
  duration: number | null;
}

/** Everything known about one node. Plain data: it is what /api/nodes sends. */
export interface NodeState {
  /** The MAC address once DHCP told it, else the IP address the node was first seen at. */
  key: string;
  mac: string | null;
  ip: string | null;
  name: string | null;
  firmware: Firmware;
  arch: number | null;
  stage: Stage;
  /** When the current stage began. */
  stageSince: number;
  /** The stage a `lost` node went silent in. */
  lostFrom: Stage | null;
  /** The last event's time. */
  lastSeen: number;
  /** The latest time this node's state was moved to (events and ticks): everything it records is at or before it. */
  clock: number;
  bootCount: number;
  lastError: { at: number; text: string } | null;
  /** SM_NOTIFY reboot notices received. */
  rebootNotices: number;
  /** Starts of the last few boots and whether each reached `up` (for reboot loops). */
  recentBoots: { start: number; reachedUp: boolean }[];
  /** The current (or last) boot. */
  boot: Boot | null;
}
