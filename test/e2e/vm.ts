import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { createNetns } from '../support/netns.js';
import { start, type Running } from '../support/processes.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

/**
 * The guests' wire: a network namespace the test creates, holding a bridge
 * with the server's address and one tap device per guest that may run at
 * once. Servers bind inside the namespace (on the bridge) and each QEMU NIC
 * is the other end of a tap, so nothing reaches the host's networks and
 * ports 67/69/111/2049 are free.
 */
export interface VmNetwork {
  ns: string;
  /** The interface the servers answer on. */
  iface: string;
  taps: string[];
  serverAddr: string;
  prefix: number;
  /** 198.18.<subnet>.<host> */
  address(host: number): string;
}

export function createVmNetwork(t: Teardown, opts: { subnet?: number; guests?: number } = {}): VmNetwork {
  const subnet = opts.subnet ?? 1;
  const ns = createNetns(t, 'nbvm');
  const iface = 'br0';
  const serverAddr = `198.18.${subnet}.1`;
  const ip = (...args: string[]) => execFileSync('ip', ['-n', ns, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  // No STP: a port forwards at once, before iPXE's first DHCPDISCOVER.
  ip('link', 'add', iface, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0');
  ip('addr', 'add', `${serverAddr}/24`, 'dev', iface);
  ip('link', 'set', iface, 'up');
  const taps = Array.from({ length: opts.guests ?? 1 }, (_, i) => `tap${i}`);
  for (const tap of taps) {
    ip('tuntap', 'add', 'dev', tap, 'mode', 'tap');
    ip('link', 'set', tap, 'master', iface);
    ip('link', 'set', tap, 'up');
  }
  return { ns, iface, taps, serverAddr, prefix: 24, address: (host) => `198.18.${subnet}.${host}` };
}

/** A line of a process's output and when it was seen (performance.now(), ms). */
export interface StampedLine {
  at: number;
  text: string;
}

/**
 * Every output line of a process, stamped on arrival, so server logs and the
 * guest's serial console share one clock.
 */
export class StampedLog {
  readonly lines: StampedLine[] = [];
  private readonly partial = new Map<NodeJS.ReadableStream, string>();
  private readonly listeners = new Set<() => void>();
  /** Resolves once every stream has been read to its end (the process gone and its pipes drained). */
  readonly drained: Promise<void>;

  constructor(running: Running) {
    const ends: Promise<unknown>[] = [];
    for (const stream of [running.child.stdout, running.child.stderr]) {
      if (!stream) continue;
      stream.on('data', (chunk: Buffer) => this.take(stream, chunk.toString('latin1')));
      ends.push(new Promise((resolve) => stream.once('close', resolve)));
    }
    this.drained = Promise.all(ends).then(() => {});
  }

  private take(stream: NodeJS.ReadableStream, text: string): void {
    const at = performance.now();
    const parts = ((this.partial.get(stream) ?? '') + text).split(/\r\n|\n|\r/);
    this.partial.set(stream, parts.pop() ?? '');
    for (const line of parts) {
      // Firmware draws with ANSI escapes; keep the text only.
      // eslint-disable-next-line no-control-regex
      const clean = line.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b./g, '').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '');
      if (clean.trim()) this.lines.push({ at, text: clean });
    }
    for (const l of this.listeners) l();
  }

  /** The first line at or after `since` matching `pattern`. */
  first(pattern: RegExp, since = 0): StampedLine | undefined {
    return this.lines.find((l) => l.at >= since && pattern.test(l.text));
  }

  text(): string {
    return this.lines.map((l) => l.text).join('\n');
  }

  /** The lines with their seconds since `zero` (a performance.now() value). */
  timed(zero: number): string {
    return this.lines.map((l) => `${((l.at - zero) / 1000).toFixed(2).padStart(7)} ${l.text}`).join('\n');
  }

  onLine(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}

export interface VmOptions {
  net: VmNetwork;
  /** One of net.taps, used by no other running guest. */
  tap: string;
  mac: string;
  /** iPXE option ROM for virtio-net (Debian's ipxe-qemu); empty: none (UEFI uses its own driver). */
  rom: string;
  /**
   * UEFI firmware instead of SeaBIOS: OVMF's code (read-only) and this guest's own copy of its
   * variable store; `httpBootOnly` switches OVMF's PXE off (its fw_cfg knobs) so it goes straight
   * to UEFI HTTP Boot instead of first waiting out PXE over IPv4 and IPv6.
   */
  uefi?: { code: string; vars: string; httpBootOnly?: boolean };
  qemu?: string;
  /** Keep QEMU's stdin open: what the test writes to running.child.stdin reaches the guest's serial console. */
  consoleInput?: boolean;
}

export interface Vm {
  running: Running;
  serial: StampedLog;
  /** performance.now() when QEMU was started. */
  startedAt: number;
}

/** Starts a diskless QEMU guest inside the namespace, booting from its NIC. */
export function startVm(t: Teardown, opts: VmOptions): Vm {
  const args = [
    '-accel', 'tcg',
    '-m', '512',
    '-nographic',
    '-nodefaults',
    '-serial', 'stdio',
    '-netdev', `tap,id=net0,ifname=${opts.tap},script=no,downscript=no`,
    // Debian's iPXE virtio ROM carries the modern (non-transitional) device ID 1af4:1041:
    // SeaBIOS runs it only on a modern-only device.
    '-device', `virtio-net-pci,disable-legacy=on,netdev=net0,mac=${opts.mac},romfile=${opts.rom}`,
    '-boot', 'n',
    '-no-reboot',
    ...(opts.uefi
      ? ['-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${opts.uefi.code}`, '-drive', `if=pflash,format=raw,unit=1,file=${opts.uefi.vars}`]
      : []),
    ...(opts.uefi?.httpBootOnly
      ? ['-fw_cfg', 'name=opt/org.tianocore/IPv4PXESupport,string=n', '-fw_cfg', 'name=opt/org.tianocore/IPv6PXESupport,string=n']
      : []),
  ];
  const startedAt = performance.now();
  const running = start(t, opts.qemu ?? 'qemu-system-x86_64', args, { ns: opts.net.ns, stdin: opts.consoleInput });
  return { running, serial: new StampedLog(running), startedAt };
}

export type BootOutcome = 'done' | 'failed' | 'exited' | 'timeout';

export interface BootResult {
  outcome: BootOutcome;
  /** The serial console and the server log, each line with its seconds since VM start. */
  timeline: string;
  /** Seconds from VM start to each milestone that was reached. */
  seconds: BootTimes;
  serial: string;
}

export interface BootTimes {
  /** From the server's log. */
  dhcpAck?: number;
  /** iPXE reports its address only after its IPv6 autoconfiguration gives up (about 13 s later). */
  ipxeConfigured?: number;
  kernelLoaded?: number;
  rootMounted?: number;
  marker?: number;
}

export interface WaitOptions {
  /** Hard limit for the whole boot; the VM is killed when it passes. */
  timeoutMs: number;
  /** The server's log and the line it prints on a DHCP ACK, when it logs them. */
  serverLog?: StampedLog;
  serverAck?: RegExp;
}

const MARKER = /E2E-DONE/;
const FAILURE = /E2E-FAIL|Kernel panic|PXE-E|No more network devices|Boot failed|Failed to load/;
/** iPXE prints the address it configured once its DHCP completes. */
const IPXE_CONFIGURED = /net0: \d+\.\d+\.\d+\.\d+\/|Configuring \(net0.*ok/;
/** pxelinux reports each file as it finishes loading it; the initrd comes last. */
const INITRD_LOADED = /Loading \S*initrd\S*\s*\.\.\.\s*ok/;
const ROOT_MOUNTED = /E2E-ROOT-MOUNTED/;
/** The last line of a kernel panic's report: without panic= on its command line the kernel then halts, silent. */
const PANIC_END = /---\[ end Kernel panic/;
/**
 * After a failure line, how long the console must stay quiet before the
 * guest has said all it will about it. The guest's own failures end in an
 * event (E2E-FAIL powers off: QEMU exits; a panic ends its report with
 * PANIC_END), but firmware that fails (PXE-E.., "No more network devices",
 * "Failed to load") prints its error and then waits or tries its next
 * device, and no line says it is done: its silence is the event, and this
 * is how long silence takes. Restarted by every new line.
 */
const FAILURE_QUIET_MS = 1500;
/** How long the console pipe may take to drain once QEMU is gone (no other process holds it). */
const DRAIN_MS = 5000;

/**
 * Waits until the guest prints the marker (then for it to power off),
 * prints a failure, exits, or runs out of time; then stops QEMU's process
 * group. Timings are taken from the serial console and the server log.
 */
export async function waitForBoot(vm: Vm, opts: WaitOptions): Promise<BootResult> {
  let outcome: BootOutcome = 'timeout';
  let finished = false;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(finish, opts.timeoutMs);
    let quiet: NodeJS.Timeout | undefined;
    const off = vm.serial.onLine(check);
    vm.running.exited.then(() => {
      // After a timeout QEMU exits because it is killed: the outcome stays a timeout.
      if (finished) return;
      if (outcome === 'timeout') outcome = vm.serial.first(MARKER) ? 'done' : 'exited';
      finish();
    });
    function check() {
      if (outcome !== 'failed') {
        if (!vm.serial.first(FAILURE)) return;
        outcome = 'failed';
      }
      // Let the guest's last lines (the failing step) reach the log: the end of a panic's report, QEMU's
      // exit (the guest powered off), or the console going quiet, whichever comes first.
      if (vm.serial.first(PANIC_END)) return finish();
      clearTimeout(quiet);
      quiet = setTimeout(finish, FAILURE_QUIET_MS);
    }
    function finish() {
      finished = true;
      clearTimeout(timer);
      clearTimeout(quiet);
      off();
      resolve();
    }
    check();
  });
  if (outcome === 'timeout' || outcome === 'failed') await vm.running.kill();
  // The guest powers off right after the marker; give QEMU a moment to exit on its own.
  else await Promise.race([vm.running.exited, new Promise((r) => setTimeout(r, 10_000))]);
  await vm.running.stop(2000);
  // QEMU is gone: read its console to the end, so the lines it wrote last are in the timeline.
  await Promise.race([vm.serial.drained, new Promise((r) => setTimeout(r, DRAIN_MS).unref())]);

  const since = (l: StampedLine | undefined) => (l ? Math.round((l.at - vm.startedAt) / 100) / 10 : undefined);
  const serverAck = opts.serverLog && opts.serverAck ? opts.serverLog.first(opts.serverAck, vm.startedAt) : undefined;
  const seconds: BootTimes = {
    dhcpAck: since(serverAck),
    ipxeConfigured: since(vm.serial.first(IPXE_CONFIGURED)),
    kernelLoaded: since(vm.serial.first(INITRD_LOADED)),
    rootMounted: since(vm.serial.first(ROOT_MOUNTED)),
    marker: since(vm.serial.first(MARKER)),
  };
  const timeline = `serial console:\n${vm.serial.timed(vm.startedAt)}\n\nserver:\n${opts.serverLog?.timed(vm.startedAt) ?? ''}\n`;
  return { outcome, seconds, serial: vm.serial.text(), timeline };
}

/** One line for the test's output. */
export function formatTimes(label: string, s: BootTimes): string {
  const f = (v: number | undefined) => (v === undefined ? '-' : `${v.toFixed(1)} s`);
  return `${label}: DHCP ACK ${f(s.dhcpAck)} (iPXE configured ${f(s.ipxeConfigured)}), kernel+initrd loaded ${f(s.kernelLoaded)}, root mounted ${f(s.rootMounted)}, marker ${f(s.marker)}`;
}
