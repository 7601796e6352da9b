import t from 'tap';
import fc from 'fast-check';
import { BootModel, STAGES, diagnose, firmwareOf, type BootEvent, type NodeState } from '@netboot/boot-events';

const MAC = '52:54:00:12:34:56';
const IP = '198.18.1.20';
const T0 = 1_700_000_000_000;

/** A whole BIOS boot as the services report it, one second apart. */
function biosBoot(start = T0): BootEvent[] {
  let at = start;
  const next = () => (at += 1000);
  const pxe = { vendorClass: 'PXEClient:Arch:00000:UNDI:002001', arch: 0, userClass: 'iPXE' };
  return [
    { kind: 'dhcp', at: next(), mac: MAC, message: 'DISCOVER', ...pxe },
    { kind: 'dhcp', at: next(), mac: MAC, message: 'OFFER', ip: IP },
    { kind: 'dhcp', at: next(), mac: MAC, message: 'REQUEST', ip: IP, ...pxe },
    { kind: 'dhcp', at: next(), mac: MAC, message: 'ACK', ip: IP, hostName: 'node1', bootFile: 'pxelinux.0' },
    { kind: 'file-request', at: next(), protocol: 'tftp', ip: IP, file: 'pxelinux.0', options: { tsize: '0', blksize: '1432' } },
    { kind: 'file-done', at: next(), protocol: 'tftp', ip: IP, file: 'pxelinux.0', outcome: 'complete', bytes: 46000, seconds: 0.2, blksize: 1432 },
    { kind: 'file-request', at: next(), protocol: 'tftp', ip: IP, file: 'pxelinux.cfg/01-52-54-00-12-34-56' },
    { kind: 'file-done', at: next(), protocol: 'tftp', ip: IP, file: 'pxelinux.cfg/01-52-54-00-12-34-56', outcome: 'refused', bytes: 0, seconds: 0, detail: 'File not found' },
    { kind: 'file-request', at: next(), protocol: 'tftp', ip: IP, file: 'vmlinuz' },
    { kind: 'file-done', at: next(), protocol: 'tftp', ip: IP, file: 'vmlinuz', outcome: 'complete', bytes: 8e6, seconds: 1.5, blksize: 1408 },
    { kind: 'file-request', at: next(), protocol: 'tftp', ip: IP, file: 'initrd.img' },
    { kind: 'file-done', at: next(), protocol: 'tftp', ip: IP, file: 'initrd.img', outcome: 'complete', bytes: 3e7, seconds: 4, blksize: 1408 },
    // The initramfs' own DHCP: no PXE vendor class, no new boot.
    { kind: 'dhcp', at: next(), mac: MAC, message: 'DISCOVER', vendorClass: 'Linux ipconfig' },
    { kind: 'dhcp', at: next(), mac: MAC, message: 'ACK', ip: IP },
    { kind: 'mount', at: next(), ip: IP, op: 'MNT', path: `/diskless/${IP}`, version: 3, ok: true },
    { kind: 'nfs', at: next(), ip: IP, what: 'first-call' },
    { kind: 'nfs', at: next(), ip: IP, what: 'init-read', path: '/sbin/init' },
    { kind: 'nfs', at: next(), ip: IP, what: 'active' },
    { kind: 'nfs', at: next(), ip: IP, what: 'active' },
  ];
}

t.test('a BIOS boot goes through every stage in order', async (t) => {
  const m = new BootModel();
  const seen: string[] = [];
  for (const e of biosBoot()) {
    m.apply(e);
    const n = m.node(MAC)!;
    if (seen[seen.length - 1] !== n.stage) seen.push(n.stage);
  }
  t.same(seen, ['dhcp', 'loader', 'kernel', 'mounted', 'init', 'up']);
  const n = m.node(IP)!;
  t.equal(n.key, MAC, 'found by its IP too');
  t.equal(n.name, 'node1');
  t.equal(n.firmware, 'iPXE');
  t.equal(n.bootCount, 1);
  t.equal(n.lastError, null, 'a missing pxelinux.cfg candidate is no error');
  t.same(
    n.boot!.stages.map((s) => s.name),
    ['dhcp', 'loader', 'kernel', 'mounted', 'init', 'up'],
  );
  t.equal(n.boot!.duration, 18_000);
  t.same(
    n.boot!.timeline.map((x) => `${x.what}:${x.label}`),
    [
      'dhcp:DHCP (iPXE) 198.18.1.20',
      'tftp:pxelinux.0',
      'tftp:pxelinux.cfg/01-52-54-00-12-34-56',
      'tftp:vmlinuz',
      'tftp:initrd.img',
      'dhcp:DHCP (OS) 198.18.1.20',
      `mount:MNT /diskless/${IP}`,
      'nfs:first NFS call',
      'init:READ /sbin/init',
    ],
  );
  t.same(diagnose(n, T0 + 20_000), []);
});

t.test('a second PXE DISCOVER after the node is up starts a new boot', async (t) => {
  const m = new BootModel();
  for (const e of biosBoot()) m.apply(e);
  for (const e of biosBoot(T0 + 60_000)) m.apply(e);
  const n = m.node(MAC)!;
  t.equal(n.bootCount, 2);
  t.equal(n.boot!.number, 2);
  t.equal(n.stage, 'up');
});

t.test('silence past a stage timeout makes a node lost; hearing from it brings it back', async (t) => {
  const m = new BootModel({ timeouts: { mounted: 10_000 } });
  const events = biosBoot().slice(0, 15); // up to MOUNT
  for (const e of events) m.apply(e);
  const n = m.node(MAC)!;
  t.equal(n.stage, 'mounted');
  t.same(m.tick(n.lastSeen + 5000), [], 'within the timeout');
  const lost = m.tick(n.lastSeen + 20_000);
  t.equal(lost.length, 1);
  t.equal(n.stage, 'lost');
  t.equal(n.lostFrom, 'mounted');
  t.same(
    diagnose(n, n.lastSeen + 20_000).map((d) => d.code),
    ['stuck-initramfs'],
  );
  m.apply({ kind: 'nfs', at: n.lastSeen + 21_000, ip: IP, what: 'init-read', path: '/sbin/init' });
  t.equal(n.stage, 'init');
});

t.test('firmware from DHCP options', async (t) => {
  t.equal(firmwareOf({ arch: 0, vendorClass: 'PXEClient:Arch:00000:UNDI:002001' }), 'BIOS');
  t.equal(firmwareOf({ arch: 7, vendorClass: 'PXEClient:Arch:00007:UNDI:003016' }), 'UEFI');
  t.equal(firmwareOf({ arch: 16, vendorClass: 'HTTPClient:Arch:00016:UNDI:003001' }), 'HTTP Boot');
  t.equal(firmwareOf({ arch: 7, userClass: 'iPXE' }), 'iPXE');
  t.equal(firmwareOf({ vendorClass: 'PXEClient:Arch:00007:UNDI:003016' }), 'UEFI');
  t.equal(firmwareOf({}), 'unknown');
});

t.test('the live doctor reads the traffic', async (t) => {
  const codes = (events: BootEvent[], now = T0 + 100_000) => {
    const m = new BootModel();
    for (const e of events) m.apply(e);
    return diagnose([...m.nodes()][0], now).map((d) => d.code);
  };
  const disc = (at: number): BootEvent => ({ kind: 'dhcp', at, mac: MAC, message: 'DISCOVER', arch: 0 });
  const offer = (at: number): BootEvent => ({ kind: 'dhcp', at, mac: MAC, message: 'OFFER', ip: IP });
  t.same(codes([disc(T0), offer(T0 + 1), disc(T0 + 4000), offer(T0 + 4001), disc(T0 + 8000), offer(T0 + 8001)]), ['offer-ignored']);

  const timeouts: BootEvent[] = [1, 2].map((i) => ({ kind: 'file-done', at: T0 + i * 1000, protocol: 'tftp', ip: IP, file: 'vmlinuz', outcome: 'timeout', bytes: 0, seconds: 30, blksize: 1468 }));
  t.same(codes(timeouts), ['tftp-blksize']);

  const uefi: BootEvent[] = [
    { kind: 'dhcp', at: T0, mac: MAC, message: 'DISCOVER', arch: 7, vendorClass: 'PXEClient:Arch:00007:UNDI:003016' },
    { kind: 'dhcp', at: T0 + 1, mac: MAC, message: 'ACK', ip: IP },
    { kind: 'file-request', at: T0 + 2, protocol: 'tftp', ip: IP, file: 'pxelinux.0' },
  ];
  t.same(codes(uefi), ['wrong-arch']);

  const refused: BootEvent[] = [{ kind: 'mount', at: T0, ip: IP, op: 'MNT', path: '/diskless/x', version: 1, ok: false, reason: 'not exported to 198.18.1.20', exportsLine: '/etc/exports:3' }];
  t.same(codes(refused), ['mount-refused', 'nfs-v2']);
  const m = new BootModel();
  for (const e of refused) m.apply(e);
  t.match(m.node(IP)!.lastError!.text, /MOUNT \/diskless\/x refused: not exported to 198\.18\.1\.20 \(\/etc\/exports:3\)/);

  const loop: BootEvent[] = [0, 1, 2].flatMap((i) => biosBoot(T0 + i * 60_000).slice(0, 12));
  t.same(codes(loop, T0 + 200_000), ['reboot-loop']);
});

// --- properties ---

const ips = ['198.18.1.20', '198.18.1.21', '198.18.1.22'];
const macs = ['52:54:00:00:00:01', '52:54:00:00:00:02', '52:54:00:00:00:03'];
const files = ['pxelinux.0', 'ldlinux.c32', 'pxelinux.cfg/default', 'vmlinuz', 'initrd.img', 'ipxe.efi'];

const arbEvent = (at: fc.Arbitrary<number>): fc.Arbitrary<BootEvent> =>
  fc.oneof(
    fc.record({
      kind: fc.constant('dhcp' as const),
      at,
      mac: fc.constantFrom(...macs),
      message: fc.constantFrom('DISCOVER', 'OFFER', 'REQUEST', 'ACK', 'NAK', 'DECLINE', 'RELEASE', 'INFORM'),
      ip: fc.option(fc.constantFrom(...ips), { nil: undefined }),
      arch: fc.option(fc.constantFrom(0, 7, 16), { nil: undefined }),
      vendorClass: fc.option(fc.constantFrom('PXEClient:Arch:00000', 'HTTPClient:Arch:00016', 'Linux ipconfig'), { nil: undefined }),
    }),
    fc.record({ kind: fc.constant('file-request' as const), at, protocol: fc.constantFrom('tftp' as const, 'http' as const), ip: fc.constantFrom(...ips), file: fc.constantFrom(...files) }),
    fc.record({
      kind: fc.constant('file-done' as const),
      at,
      protocol: fc.constantFrom('tftp' as const, 'http' as const),
      ip: fc.constantFrom(...ips),
      file: fc.constantFrom(...files),
      outcome: fc.constantFrom('complete' as const, 'probe' as const, 'timeout' as const, 'error' as const, 'refused' as const),
      bytes: fc.nat(),
      seconds: fc.double({ min: -1, max: 100, noNaN: true }),
      blksize: fc.constantFrom(512, 1408, 1468),
    }),
    fc.record({ kind: fc.constant('mount' as const), at, ip: fc.constantFrom(...ips), op: fc.constantFrom('MNT' as const, 'UMNT' as const), path: fc.constant('/x'), version: fc.constantFrom(1, 3), ok: fc.boolean() }),
    fc.record({ kind: fc.constant('nfs' as const), at, ip: fc.constantFrom(...ips), what: fc.constantFrom('first-call' as const, 'init-read' as const, 'active' as const, 'error' as const) }),
    fc.record({ kind: fc.constant('reboot' as const), at, ip: fc.constantFrom(...ips) }),
  );

/** Events and ticks, at any times in a window (so in any order). */
const arbSteps = fc.array(
  fc.oneof(
    { weight: 9, arbitrary: arbEvent(fc.integer({ min: T0, max: T0 + 3_600_000 })).map((e) => ({ e })) },
    { weight: 1, arbitrary: fc.integer({ min: T0, max: T0 + 7_200_000 }).map((tick) => ({ tick })) },
  ),
  { maxLength: 300 },
);

function checkNode(n: NodeState, maxTimeline: number): void {
  if (!STAGES.includes(n.stage)) throw new Error(`stage ${n.stage}`);
  if (n.stageSince > n.clock || n.lastSeen > n.clock) throw new Error('a time past the node clock');
  if (n.boot) {
    const s = n.boot.stages;
    if (s.length === 0) throw new Error('a boot with no stage');
    for (let i = 0; i < s.length; i++) {
      const span = s[i];
      if (span.end !== null && span.end < span.start) throw new Error(`span ${span.name} ends before it starts`);
      if (i > 0 && s[i - 1].end === null) throw new Error('an earlier span still open');
      if (i > 0 && span.start < s[i - 1].start) throw new Error('spans out of order');
      if (i > 0 && s[i - 1].end !== span.start) throw new Error('a gap between spans');
    }
    const last = s[s.length - 1];
    if (last.name !== n.stage && last.end === null) throw new Error(`open span ${last.name} but stage ${n.stage}`);
    if (n.boot.timeline.length > maxTimeline) throw new Error('timeline past its bound');
    for (const x of n.boot.timeline) if (x.end !== null && x.end < x.start) throw new Error(`entry ${x.label} ends before it starts`);
    if (n.boot.number !== n.bootCount) throw new Error('boot number and count differ');
  }
}

t.test('any order of events and ticks gives valid states with monotonic times, bounded', async () => {
  fc.assert(
    fc.property(arbSteps, fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 20 }), (steps, maxNodes, maxTimeline) => {
      const m = new BootModel({ maxNodes, maxTimeline, maxStages: 8 });
      const clocks = new Map<string, number>();
      for (const step of steps) {
        if ('e' in step) m.apply(step.e);
        else m.tick(step.tick);
        if (m.size > maxNodes) throw new Error('more nodes than the bound');
        // A forgotten node starts afresh if it comes back.
        for (const key of clocks.keys()) if (!m.node(key)) clocks.delete(key);
        for (const n of m.nodes()) {
          checkNode(n, maxTimeline);
          const before = clocks.get(n.key);
          if (before !== undefined && n.clock < before) throw new Error('node clock went back');
          clocks.set(n.key, n.clock);
        }
        const counts = m.counts();
        if (Object.values(counts).reduce((a, b) => a + b, 0) !== m.size) throw new Error('counts do not add up');
      }
    }),
    { seed: 24, numRuns: 300 },
  );
});

t.test('a TFTP transfer whose final ACK never came is no error', async (t) => {
  const m = new BootModel();
  for (const e of biosBoot()) m.apply(e);
  const at = m.node(IP)!.lastSeen + 1;
  m.apply({ kind: 'file-done', at, protocol: 'tftp', ip: IP, file: 'extra.img', outcome: 'unconfirmed', bytes: 4096, seconds: 1, blksize: 1468 });
  t.equal(m.node(IP)!.lastError, null);
  m.apply({ kind: 'file-done', at: at + 1, protocol: 'tftp', ip: IP, file: 'extra.img', outcome: 'timeout', bytes: 0, seconds: 30, blksize: 1468 });
  t.match(m.node(IP)!.lastError!.text, /TFTP extra\.img: timeout/, 'a plain timeout still is');
});
