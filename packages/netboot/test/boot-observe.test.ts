import t from 'tap';
import type { BootEvent } from '@netboot/boot-events';
import { NfsCallStats, NfsStat, Proc, type ObservedCalls } from '@netboot/nfs3';
import { initFromPxelinux } from '../src/observe/file-events.js';
import { NfsEvents } from '../src/observe/nfs-events.js';
import { NfsOpStats } from '../src/observe/nfs-op-stats.js';

const IP = '198.18.1.20';

/** NfsEvents over a stand-in for the NFS service: what it asked to follow, and counts to hand out. */
function setup(initPath = '/sbin/init') {
  const events: BootEvent[] = [];
  const followed: [string, string][] = [];
  const counts = new NfsCallStats();
  const stats = new NfsOpStats();
  const w = new NfsEvents((e) => events.push(e), stats, () => initPath);
  const calls: ObservedCalls = { stats: async () => counts, follow: (address, path) => followed.push([address, path]) };
  w.attach(calls);
  const whats = () => events.map((e) => (e.kind === 'nfs' ? e.what : e.kind));
  return { events, followed, counts, stats, w, whats };
}

t.test('a MOUNT has the init followed; its READ makes init-read, activity before it is not reported', async (t) => {
  const s = setup('/lib/systemd/systemd');
  s.w.mounted(IP);
  t.same(s.followed, [[IP, '/lib/systemd/systemd']], 'the service is asked to follow the init the node runs');
  s.w.seen({ what: 'first-call', address: IP, proc: Proc.FSINFO });
  s.w.seen({ what: 'active', address: IP });
  s.w.seen({ what: 'first-call', address: IP, proc: Proc.GETATTR });
  t.same(s.whats(), ['first-call'], 'one first call (a second thread told it too); not up before its init runs');
  s.w.seen({ what: 'path-read', address: IP, path: '/sbin/init' });
  t.same(s.whats(), ['first-call'], 'a path another boot looked for does not count');
  s.w.seen({ what: 'path-read', address: IP, path: '/lib/systemd/systemd' });
  t.match(s.events.at(-1), { kind: 'nfs', ip: IP, what: 'init-read', path: '/lib/systemd/systemd' });
  s.w.seen({ what: 'path-read', address: IP, path: '/lib/systemd/systemd' });
  s.w.seen({ what: 'active', address: IP });
  t.same(s.whats(), ['first-call', 'init-read'], 'once; and no activity within a second of it');
  s.w.mounted(IP);
  s.w.seen({ what: 'first-call', address: IP, proc: Proc.NULL });
  t.same(s.whats(), ['first-call', 'init-read', 'first-call'], 'a new MOUNT: a new boot, its first call reported again');
  t.equal(s.followed.length, 2);
});

t.test('a client seen without a MOUNT is not followed; errors are paced', async (t) => {
  const s = setup();
  s.w.seen({ what: 'first-call', address: IP, proc: Proc.READ });
  s.w.seen({ what: 'active', address: IP });
  s.w.seen({ what: 'active', address: IP });
  s.w.seen({ what: 'error', address: IP, proc: Proc.GETATTR, status: NfsStat.STALE });
  s.w.seen({ what: 'error', address: IP, proc: Proc.READ, status: NfsStat.IO });
  t.same(s.whats(), ['first-call', 'active', 'error']);
  t.match(s.events.at(-1), { what: 'error', proc: 'GETATTR', status: 'NFS3ERR_STALE' });
  t.same(s.followed, []);
});

t.test("the metrics read the service's counts once per refresh", async (t) => {
  const s = setup();
  s.counts.record(Proc.LOOKUP, 0, 0.2);
  s.counts.record(Proc.LOOKUP, 0, 0.3);
  s.counts.record(Proc.READ, NfsStat.STALE, 3);
  s.counts.record(Proc.READ, -1, 3);
  t.same(s.stats.callSamples(), [], 'nothing before the first refresh');
  await s.stats.refresh();
  t.same(
    s.stats.callSamples().map((x) => [x.labels.operation, x.labels.status, x.value]),
    [
      ['LOOKUP', 'OK', 2],
      ['READ', 'NFS3ERR_STALE', 1],
      ['READ', 'RPC_ERROR', 1],
    ],
  );
  const lookup = s.stats.latencySamples('x').filter((x) => x.labels.op === 'LOOKUP');
  t.match(lookup.at(-3), { labels: { le: '+Inf' }, value: 2 });
  t.match(lookup.at(-1), { metricName: 'x_count', value: 2 });
  t.match(lookup.find((x) => x.labels.le === 0.00025), { value: 1 }, 'buckets are cumulative');
});

t.test('init= is read from the APPEND line of a pxelinux config, not rdinit=', async (t) => {
  t.equal(initFromPxelinux('DEFAULT l\nLABEL l\n  KERNEL vmlinuz\n  APPEND rdinit=/bin/sh root=/dev/nfs init=/lib/systemd/systemd rw\n'), '/lib/systemd/systemd');
  t.equal(initFromPxelinux('label l\n append rdinit=/init root=/dev/nfs\n'), undefined);
  t.equal(initFromPxelinux('# init=/not/this\nLABEL l\n  KERNEL init=/nor/this\n'), undefined);
});
