import type { BootEvent, DhcpEvent, FileDoneEvent, FileRequestEvent, MountEvent, NfsEvent } from './boot-event.js';
import { fileStage, loaderFirmware } from './boot-files.js';
import { firmwareOf, isBootFirmware } from './firmware.js';
import { STAGE_RANK, STAGES, type Boot, type NodeState, type Stage, type StageSpan, type TimelineEntry } from './node-state.js';

export interface BootModelOptions {
  /**
   * How long a node may stay silent in a stage before it is `lost`, in ms.
   * Defaults: dhcp 60 s, loader 120 s, kernel 300 s, mounted 120 s (a
   * node that mounted its root and never read its init is stuck in its
   * initramfs), init 300 s; off, up and lost never time out.
   */
  timeouts?: Partial<Record<Stage, number>>;
  /** NFS activity this long after the first READ of init moves a node to `up` (default 2000 ms). */
  upAfterMs?: number;
  /** Nodes kept; past it the one silent longest is forgotten (default 10,000). */
  maxNodes?: number;
  /** Waterfall entries kept per boot (default 200). */
  maxTimeline?: number;
  /** Stage spans kept per boot (default 64). */
  maxStages?: number;
}

/** What one event or tick did to a node, for metrics: the stage that ended and a boot that completed. */
export interface Change {
  node: NodeState;
  /** The stage span that ended, when the stage changed. */
  ended?: StageSpan;
  /** ms from the boot's start to `up`, when this change reached it. */
  bootDuration?: number;
}

const DEFAULT_TIMEOUTS: Readonly<Record<Stage, number>> = {
  off: Infinity,
  dhcp: 60_000,
  loader: 120_000,
  kernel: 300_000,
  mounted: 120_000,
  init: 300_000,
  up: Infinity,
  lost: Infinity,
};

const RECENT_BOOTS = 8;
const LOADER_FILES = 8;

/** A missing config file is pxelinux and GRUB looking through their candidates: normal. */
const CONFIG_PROBE = /(^|\/)(pxelinux\.cfg|grub)\/|\.(cfg|conf|ipxe)$/i;

/**
 * The pure state machine: boot events in (with their own times), one state
 * per node out. No clock of its own, no I/O: `tick(now)` is how time passes.
 * Times recorded for a node never go backwards, whatever order events arrive
 * in (each service reports on its own, so they may cross).
 */
export class BootModel {
  private readonly byKey = new Map<string, NodeState>();
  /** Node key by IP address, learnt from DHCP. */
  private readonly byIp = new Map<string, string>();
  private readonly timeouts: Record<Stage, number>;
  private readonly upAfterMs: number;
  private readonly maxNodes: number;
  private readonly maxTimeline: number;
  private readonly maxStages: number;

  constructor(opts: BootModelOptions = {}) {
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
    this.upAfterMs = opts.upAfterMs ?? 2000;
    this.maxNodes = Math.max(1, opts.maxNodes ?? 10_000);
    this.maxTimeline = Math.max(1, opts.maxTimeline ?? 200);
    this.maxStages = Math.max(2, opts.maxStages ?? 64);
  }

  get size(): number {
    return this.byKey.size;
  }

  nodes(): IterableIterator<NodeState> {
    return this.byKey.values();
  }

  /** A node by MAC (lower case, colons) or by IP address. */
  node(id: string): NodeState | undefined {
    const key = id.toLowerCase();
    return this.byKey.get(key) ?? this.byKey.get(this.byIp.get(id) ?? '');
  }

  /** Nodes per stage. */
  counts(): Record<Stage, number> {
    const c = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>;
    for (const n of this.byKey.values()) c[n.stage]++;
    return c;
  }

  /** Folds one event in; returns what changed (undefined for an event naming no node). */
  apply(e: BootEvent): Change | undefined {
    if (!Number.isFinite(e.at)) return undefined;
    const node = e.kind === 'dhcp' ? this.nodeForDhcp(e) : this.nodeForIp(e.ip, e.at);
    if (!node) return undefined;
    const t = Math.max(e.at, node.clock);
    node.clock = t;
    node.lastSeen = t;
    const change: Change = { node };
    switch (e.kind) {
      case 'dhcp':
        this.dhcp(node, e, t, change);
        break;
      case 'file-request':
        this.fileRequest(node, e, t, change);
        break;
      case 'file-done':
        this.fileDone(node, e, t, change);
        break;
      case 'mount':
        this.mount(node, e, t, change);
        break;
      case 'nfs':
        this.nfs(node, e, t, change);
        break;
      case 'reboot':
        this.revive(node, t, change);
        node.rebootNotices++;
        this.addEntry(node, { what: 'reboot', label: `SM_NOTIFY${e.name ? ` from ${e.name}` : ''}`, start: t, end: t });
        break;
    }
    return change;
  }

  /** Time passes: nodes silent past their stage's timeout become `lost`. Returns those that did. */
  tick(now: number): Change[] {
    const out: Change[] = [];
    for (const node of this.byKey.values()) {
      const limit = this.timeouts[node.stage];
      if (limit === Infinity || now - node.lastSeen <= limit) continue;
      const t = Math.max(now, node.clock);
      node.clock = t;
      const change: Change = { node };
      node.lostFrom = node.stage;
      this.setStage(node, 'lost', t, change);
      out.push(change);
    }
    return out;
  }

  // --- events ---

  private dhcp(node: NodeState, e: DhcpEvent, t: number, change: Change): void {
    const firmware = isBootFirmware(e);
    const asks = e.message === 'DISCOVER' || e.message === 'REQUEST';
    const starts =
      asks &&
      ((firmware && node.stage !== 'dhcp' && node.stage !== 'loader' && !(node.stage === 'lost' && (node.lostFrom === 'dhcp' || node.lostFrom === 'loader'))) ||
        (e.message === 'DISCOVER' && (node.stage === 'off' || node.stage === 'lost')));
    if (starts) this.newBoot(node, 'dhcp', t, change);
    else this.revive(node, t, change);
    if (firmware && (starts || node.firmware === 'unknown')) {
      node.firmware = firmwareOf(e);
      node.arch = e.arch ?? node.arch;
    }
    if (e.hostName) node.name = e.hostName;
    const boot = node.boot;
    if (e.message === 'ACK' && e.ip) this.bindIp(node, e.ip);
    if (e.message === 'RELEASE') {
      this.setStage(node, 'off', t, change);
      return;
    }
    if (e.message === 'NAK' || e.message === 'DECLINE') node.lastError = { at: t, text: `DHCP${e.message}${e.ip ? ` for ${e.ip}` : ''}` };
    if (!boot) return;
    const c = boot.counters;
    if (e.message === 'DISCOVER') c.discovers++;
    else if (e.message === 'OFFER') c.offers++;
    else if (e.message === 'REQUEST') c.requests++;
    else if (e.message === 'ACK') c.acks++;
    const open = this.openEntry(boot, 'dhcp');
    if (asks && !open) {
      const who = firmware ? firmwareOf(e) : 'OS';
      this.addEntry(node, { what: 'dhcp', label: `DHCP (${who === 'unknown' ? 'PXE' : who})`, start: t, end: null });
    } else if (open && (e.message === 'ACK' || e.message === 'NAK')) {
      open.end = t;
      open.outcome = e.message;
      if (e.ip) open.label += ` ${e.ip}`;
    }
  }

  private fileRequest(node: NodeState, e: FileRequestEvent, t: number, change: Change): void {
    const stage = fileStage(e.file);
    const startsBoot = node.stage === 'off' || (node.stage === 'lost' && STAGE_RANK[node.lostFrom ?? 'off'] > STAGE_RANK.kernel) || (STAGE_RANK[node.stage] > STAGE_RANK.kernel && stage === 'loader' && !CONFIG_PROBE.test(e.file));
    if (startsBoot) this.newBoot(node, stage, t, change);
    else {
      this.revive(node, t, change);
      if (STAGE_RANK[stage] > STAGE_RANK[node.stage]) this.setStage(node, stage, t, change);
    }
    const boot = node.boot!;
    if (stage === 'loader' && !CONFIG_PROBE.test(e.file) && boot.counters.loaderFiles.length < LOADER_FILES && loaderFirmware(e.file)) {
      boot.counters.loaderFiles.push(e.file);
    }
    this.addEntry(node, { what: e.protocol, label: e.file, start: t, end: null });
  }

  private fileDone(node: NodeState, e: FileDoneEvent, t: number, change: Change): void {
    this.revive(node, t, change);
    if (!node.boot) this.newBoot(node, fileStage(e.file), t, change);
    const boot = node.boot!;
    let entry: TimelineEntry | undefined;
    for (let i = boot.timeline.length - 1; i >= 0; i--) {
      const x = boot.timeline[i];
      if (x.end === null && x.what === e.protocol && x.label === e.file) {
        entry = x;
        break;
      }
    }
    if (!entry) {
      entry = { what: e.protocol, label: e.file, start: Math.min(t, Math.max(boot.start, t - Math.max(0, e.seconds) * 1000)), end: null };
      this.addEntry(node, entry);
    }
    entry.end = t;
    entry.outcome = e.outcome;
    entry.bytes = e.bytes;
    if (e.retransmits) entry.retransmits = e.retransmits;
    if (e.outcome === 'timeout') {
      const k = String(e.blksize ?? 512);
      boot.counters.tftpTimeouts[k] = (boot.counters.tftpTimeouts[k] ?? 0) + 1;
    }
    const normal = e.outcome === 'complete' || e.outcome === 'unconfirmed' || e.outcome === 'probe' || (e.outcome === 'refused' && CONFIG_PROBE.test(e.file));
    if (!normal) node.lastError = { at: t, text: `${e.protocol.toUpperCase()} ${e.file}: ${e.outcome}${e.detail ? ` (${e.detail})` : ''}` };
  }

  private mount(node: NodeState, e: MountEvent, t: number, change: Change): void {
    if (e.op === 'MNT' && e.ok && (node.stage === 'off' || (node.stage === 'lost' && STAGE_RANK[node.lostFrom ?? 'off'] >= STAGE_RANK.mounted))) {
      this.newBoot(node, 'mounted', t, change);
    } else {
      this.revive(node, t, change);
      if (e.op === 'MNT' && e.ok && STAGE_RANK[node.stage] < STAGE_RANK.mounted) this.setStage(node, 'mounted', t, change);
    }
    if (!node.boot) this.newBoot(node, node.stage === 'off' ? 'mounted' : node.stage, t, change);
    const c = node.boot!.counters;
    if (e.version === 1 && e.op === 'MNT') c.nfsV2 = true;
    if (e.op === 'MNT' && !e.ok) {
      const reason = e.reason ?? 'refused';
      c.mountRefused = { path: e.path, reason, exportsLine: e.exportsLine };
      node.lastError = { at: t, text: `MOUNT ${e.path} refused: ${reason}${e.exportsLine ? ` (${e.exportsLine})` : ''}` };
    }
    const label = `${e.op} ${e.path}`;
    // A running node mounting its root again (a client tool, autofs) is not a new bar each time.
    const again = e.ok && STAGE_RANK[node.stage] >= STAGE_RANK.init && node.boot!.timeline.some((x) => x.what === 'mount' && x.label === label);
    if (!again) this.addEntry(node, { what: 'mount', label, start: t, end: t, outcome: e.ok ? 'granted' : 'refused' });
  }

  private nfs(node: NodeState, e: NfsEvent, t: number, change: Change): void {
    if (e.what === 'error') {
      this.revive(node, t, change);
      if (node.boot) node.boot.counters.nfsErrors++;
      node.lastError = { at: t, text: `NFS ${e.proc ?? ''} ${e.status ?? 'error'}`.replace(/\s+/g, ' ') };
      return;
    }
    if (node.stage === 'off' && !node.boot) {
      // A node already running when netboot started (or whose boot it missed).
      this.newBoot(node, e.what === 'init-read' ? 'init' : 'up', t, change);
    } else {
      this.revive(node, t, change);
    }
    if (e.what === 'first-call') {
      if (node.stage === 'off') this.setStage(node, 'up', t, change);
      else if (STAGE_RANK[node.stage] < STAGE_RANK.mounted && node.stage !== 'lost') this.setStage(node, 'mounted', t, change);
      this.addEntry(node, { what: 'nfs', label: 'first NFS call', start: t, end: t });
    } else if (e.what === 'init-read') {
      if (STAGE_RANK[node.stage] < STAGE_RANK.init) this.setStage(node, 'init', t, change);
      this.addEntry(node, { what: 'init', label: `READ ${e.path ?? 'init'}`, start: t, end: t });
    } else if (e.what === 'active') {
      if (node.stage === 'off') this.setStage(node, 'up', t, change);
      else if (node.stage === 'init' && t - node.stageSince >= this.upAfterMs) this.setStage(node, 'up', t, change);
    }
  }

  // --- nodes and stages ---

  private nodeForDhcp(e: DhcpEvent): NodeState | undefined {
    const mac = e.mac.toLowerCase();
    if (!mac) return undefined;
    let node = this.byKey.get(mac);
    if (!node) {
      // A node seen first by address (its DHCP came from another server, or before a restart) takes its MAC now.
      const byIp = e.ip && e.message === 'ACK' ? this.byKey.get(e.ip) : undefined;
      if (byIp && byIp.mac === null) {
        this.byKey.delete(byIp.key);
        byIp.key = mac;
        byIp.mac = mac;
        node = byIp;
      } else {
        node = this.create(mac, mac, null, e.at);
      }
      this.byKey.set(mac, node);
    }
    return node;
  }

  private nodeForIp(ip: string, at: number): NodeState | undefined {
    if (!ip) return undefined;
    const key = this.byIp.get(ip) ?? ip;
    let node = this.byKey.get(key);
    if (!node) {
      node = this.create(ip, null, ip, at);
      this.byKey.set(ip, node);
    }
    return node;
  }

  private create(key: string, mac: string | null, ip: string | null, at: number): NodeState {
    if (this.byKey.size >= this.maxNodes) this.evict();
    return {
      key,
      mac,
      ip,
      name: null,
      firmware: 'unknown',
      arch: null,
      stage: 'off',
      stageSince: at,
      lostFrom: null,
      lastSeen: at,
      clock: at,
      bootCount: 0,
      lastError: null,
      rebootNotices: 0,
      recentBoots: [],
      boot: null,
    };
  }

  private evict(): void {
    let oldest: NodeState | undefined;
    for (const n of this.byKey.values()) if (!oldest || n.lastSeen < oldest.lastSeen) oldest = n;
    if (!oldest) return;
    this.byKey.delete(oldest.key);
    if (oldest.ip && this.byIp.get(oldest.ip) === oldest.key) this.byIp.delete(oldest.ip);
  }

  private bindIp(node: NodeState, ip: string): void {
    if (node.ip && node.ip !== ip && this.byIp.get(node.ip) === node.key) this.byIp.delete(node.ip);
    node.ip = ip;
    this.byIp.set(ip, node.key);
    // A node seen first by this address (no DHCP yet) is this one: its record goes.
    const stray = this.byKey.get(ip);
    if (stray && stray !== node && stray.mac === null) this.byKey.delete(ip);
  }

  private newBoot(node: NodeState, stage: Stage, t: number, change: Change): void {
    const prev = node.boot;
    if (prev) this.closeSpan(prev, t, change);
    node.bootCount++;
    node.boot = {
      number: node.bootCount,
      start: t,
      stages: [{ name: stage, start: t, end: null }],
      timeline: [],
      timelineDropped: 0,
      counters: { discovers: 0, offers: 0, requests: 0, acks: 0, tftpTimeouts: {}, loaderFiles: [], mountRefused: null, nfsV2: false, nfsErrors: 0 },
      duration: null,
    };
    node.recentBoots.push({ start: t, reachedUp: stage === 'up' });
    if (node.recentBoots.length > RECENT_BOOTS) node.recentBoots.shift();
    node.stage = stage;
    node.stageSince = t;
    node.lostFrom = null;
    if (stage === 'up') node.boot.duration = 0;
  }

  /** A lost node that is heard from again goes back to the stage it went silent in. */
  private revive(node: NodeState, t: number, change: Change): void {
    if (node.stage === 'lost') {
      const back = node.lostFrom ?? 'off';
      node.lostFrom = null;
      this.setStage(node, back, t, change);
    }
  }

  private setStage(node: NodeState, stage: Stage, t: number, change: Change): void {
    if (node.stage === stage) return;
    node.stage = stage;
    node.stageSince = t;
    const boot = node.boot;
    if (!boot) return;
    this.closeSpan(boot, t, change);
    if (boot.stages.length >= this.maxStages) boot.stages.shift();
    boot.stages.push({ name: stage, start: t, end: null });
    if (stage === 'up' && boot.duration === null) {
      boot.duration = t - boot.start;
      change.bootDuration = boot.duration;
      const recent = node.recentBoots[node.recentBoots.length - 1];
      if (recent) recent.reachedUp = true;
    }
  }

  private closeSpan(boot: Boot, t: number, change: Change): void {
    const last = boot.stages[boot.stages.length - 1];
    if (last && last.end === null) {
      last.end = Math.max(t, last.start);
      change.ended = last;
    }
  }

  private openEntry(boot: Boot, what: TimelineEntry['what']): TimelineEntry | undefined {
    for (let i = boot.timeline.length - 1; i >= 0; i--) {
      const x = boot.timeline[i];
      if (x.what === what) return x.end === null ? x : undefined;
    }
    return undefined;
  }

  private addEntry(node: NodeState, entry: TimelineEntry): void {
    const boot = node.boot;
    if (!boot) return;
    if (boot.timeline.length >= this.maxTimeline) {
      boot.timelineDropped++;
      return;
    }
    boot.timeline.push(entry);
  }
}
