import t from 'tap';
import { XdrReader, type RpcCall, type RpcEndpoint, type RpcResult } from '@netboot/oncrpc-xdr';
import { NfsStat, Proc, type CallFact } from '@netboot/nfs3';
import { CallWatch, FOLLOW_CALLS } from '../src/call-watch.js';
import { NfsCallStats } from '../src/call-stats.js';

/*
 * What each thread serving NFS tells the boot observer (CallWatch): every
 * call counted, and of a client only its first call, errors, a paced
 * activity, and the first READ of the path it is followed for, found
 * through its LOOKUP and READLINK replies.
 */

const IP = '198.18.1.20';

function xdrOpaque(b: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
}
const fh = (name: string) => Buffer.from(name.padEnd(16, '.'));
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

/** A watch over procedures that answer with whatever the test queued, and the facts it reported. */
function watched(intervalMs = 60_000) {
  const facts: CallFact[] = [];
  const watch = new CallWatch({ routineStatuses: [NfsStat.OK, NfsStat.NOENT], intervalMs, report: (f) => facts.push(f) });
  // One connection: its calls share the endpoint object, as the RPC server's do.
  const remote: RpcEndpoint = { address: IP, port: 800, family: 'IPv4' };
  const call = (proc: number, args: Buffer, body: Buffer, from = remote) => {
    // As the RPC dispatcher calls a watcher: start before the procedure, done with its result.
    const c = { xid: 1, prog: 100003, vers: 3, proc, cred: { flavor: 0 }, args: new XdrReader(args), transport: 'tcp', remote: from, local: { address: '', port: 2049 } } as unknown as RpcCall;
    const started = watch.start(c);
    watch.done(c, { stat: 0, body: [body] }, started);
  };
  const lookup = (dir: string, name: string, obj: string) =>
    call(Proc.LOOKUP, Buffer.concat([xdrOpaque(fh(dir)), xdrOpaque(Buffer.from(name))]), Buffer.concat([u32(0), xdrOpaque(fh(obj)), u32(0), u32(0)]));
  const readlink = (link: string, target: string) => call(Proc.READLINK, xdrOpaque(fh(link)), Buffer.concat([u32(0), u32(0), xdrOpaque(Buffer.from(target))]));
  const read = (file: string) => call(Proc.READ, Buffer.concat([xdrOpaque(fh(file)), Buffer.alloc(8), u32(4096)]), Buffer.concat([u32(0), u32(0)]));
  const getattr = (status = 0) => call(Proc.GETATTR, xdrOpaque(fh('x')), u32(status));
  return { watch, facts, call, lookup, readlink, read, getattr, remote };
}

const whats = (facts: CallFact[]) => facts.map((f) => f.what);

t.test('a client not followed: its first call and one activity, then nothing but errors', async (t) => {
  const w = watched();
  for (let i = 0; i < 100; i++) w.getattr();
  w.lookup('root', 'missing', 'x');
  w.read('anything');
  t.same(whats(w.facts), ['first-call', 'active'], '102 calls, two facts');
  t.match(w.facts[0], { what: 'first-call', address: IP, proc: Proc.GETATTR });
  w.getattr(NfsStat.NOENT);
  t.equal(w.facts.length, 2, 'a routine status is not an error');
  w.getattr(NfsStat.STALE);
  w.getattr(NfsStat.STALE);
  t.same(w.facts.slice(2), [{ what: 'error', address: IP, proc: Proc.GETATTR, status: NfsStat.STALE }], 'an error, paced');
  t.equal(w.watch.stats.calls(Proc.GETATTR, 0), 100, 'every call counted');
  t.equal(w.watch.stats.total(Proc.GETATTR), 103);
  t.equal(w.watch.stats.total(Proc.LOOKUP), 1);
});

t.test('activity is reported once per interval', async (t) => {
  const w = watched(0);
  w.getattr();
  w.getattr();
  t.same(whats(w.facts), ['first-call', 'active', 'active'], 'interval 0: every call');
});

t.test('a followed client: the first READ of its init, through LOOKUPs and symlinks (merged /usr, systemd)', async (t) => {
  const w = watched();
  w.getattr();
  w.facts.length = 0;
  w.watch.follow(IP, '/sbin/init');
  w.lookup('root', 'etc', 'etc');
  w.lookup('etc', 'fstab', 'fstab');
  w.read('fstab'); // the initramfs reads the root's fstab first: not init
  w.lookup('root', 'sbin', 'sbin-link');
  w.readlink('sbin-link', 'usr/sbin');
  w.lookup('root', 'usr', 'usr');
  w.lookup('usr', 'sbin', 'usr-sbin');
  w.lookup('usr-sbin', 'init', 'init-link');
  w.readlink('init-link', '../lib/systemd/systemd');
  w.lookup('usr-sbin', '..', 'usr');
  w.lookup('usr', 'lib', 'lib');
  w.lookup('lib', 'systemd', 'lib-systemd');
  t.same(whats(w.facts), ['first-call', 'active'], 'a new boot: a first call again, and nothing before the binary is read');
  w.lookup('lib-systemd', 'systemd', 'systemd');
  w.read('systemd');
  t.same(w.facts.slice(2), [{ what: 'path-read', address: IP, path: '/sbin/init' }]);
  w.read('systemd');
  w.lookup('root', 'etc', 'etc');
  t.equal(w.facts.length, 3, 'once: the client is not followed after');

  // A new MOUNT: followed again from scratch, the handles learnt before forgotten.
  w.watch.follow(IP, '/sbin/init');
  w.read('systemd');
  t.same(whats(w.facts.slice(3)), ['first-call', 'active'], 'no path-read for a handle of the last boot');
  w.lookup('root', 'sbin', 'sbin2');
  w.lookup('sbin2', 'init', 'init2');
  w.read('init2');
  t.match(w.facts.at(-1), { what: 'path-read', path: '/sbin/init' });
});

t.test('a client that has not read its init within FOLLOW_CALLS of its MOUNT is followed no further', async (t) => {
  const w = watched();
  w.watch.follow(IP, '/sbin/init');
  for (let i = 0; i < FOLLOW_CALLS; i++) w.getattr();
  w.lookup('root', 'sbin', 'sbin');
  w.lookup('sbin', 'init', 'init');
  w.read('init');
  t.same(whats(w.facts), ['first-call', 'active'], 'past the budget its init is not seen (not booting from here)');
  w.watch.follow(IP, '/sbin/init');
  w.lookup('root', 'sbin', 'sbin');
  w.lookup('sbin', 'init', 'init');
  w.read('init');
  t.match(w.facts.at(-1), { what: 'path-read', path: '/sbin/init' }, 'a new MOUNT follows it again');
});

t.test('a client is one record across its connections and an IPv4-mapped address', async (t) => {
  const w = watched();
  w.watch.follow(IP, '/init');
  const other: RpcEndpoint = { address: `::ffff:${IP}`, port: 801, family: 'IPv6' };
  w.call(Proc.LOOKUP, Buffer.concat([xdrOpaque(fh('root')), xdrOpaque(Buffer.from('init'))]), Buffer.concat([u32(0), xdrOpaque(fh('init')), u32(0), u32(0)]), other);
  w.read('init');
  t.same(whats(w.facts), ['first-call', 'active', 'path-read'], 'the handle learnt on one connection is read on the other');
  t.equal(w.facts[0].address, IP);
});

t.test('hostile lengths teach nothing and throw nothing', async (t) => {
  const w = watched();
  w.watch.follow(IP, '/init');
  w.call(Proc.LOOKUP, Buffer.concat([u32(0xffffffff), Buffer.alloc(8)]), Buffer.concat([u32(0), u32(0xffffffff)]));
  w.call(Proc.LOOKUP, Buffer.concat([xdrOpaque(fh('root')), u32(1000)]), u32(0));
  w.call(Proc.READLINK, xdrOpaque(fh('root')), Buffer.concat([u32(0), u32(1), u32(0xfffffff0)]));
  w.call(Proc.READ, u32(0xffffffff), u32(0));
  t.same(whats(w.facts), ['first-call', 'active']);
  t.equal(w.watch.stats.total(Proc.LOOKUP), 2);
});

t.test('a call that fails at the RPC level, or whose procedure threw', async (t) => {
  const facts: CallFact[] = [];
  const watch = new CallWatch({ routineStatuses: [0], intervalMs: 0, report: (f) => facts.push(f) });
  const remote: RpcEndpoint = { address: IP, port: 800, family: 'IPv4' };
  const c = { proc: Proc.GETATTR, transport: 'udp', remote, args: new XdrReader(Buffer.alloc(0)) } as unknown as RpcCall;
  watch.done(c, { stat: 5 } as RpcResult, watch.start(c));
  watch.done(c, undefined, watch.start(c));
  t.match(facts, [{ what: 'first-call' }, { what: 'error', status: -1 }, { what: 'active' }, { what: 'error', status: -1 }, { what: 'active' }]);
  t.equal(watch.stats.calls(Proc.GETATTR, NfsCallStats.statusColumns - 2), 2, 'counted as RPC errors');
});

t.test('a MOUNT while a READ of the last boot is under way: the new boot does not take it', async (t) => {
  const w = watched();
  w.watch.follow(IP, '/init');
  w.lookup('root', 'init', 'init');
  const read = { xid: 1, prog: 100003, vers: 3, proc: Proc.READ, cred: { flavor: 0 }, args: new XdrReader(Buffer.concat([xdrOpaque(fh('init')), Buffer.alloc(8), u32(4096)])), transport: 'tcp', remote: w.remote, local: { address: '', port: 2049 } } as unknown as RpcCall;
  const started = w.watch.start(read);
  w.watch.follow(IP, '/init');
  w.watch.done(read, { stat: 0, body: [u32(0)] }, started);
  t.notOk(w.facts.some((f) => f.what === 'path-read'));
});

t.test('statistics of several threads add up', async (t) => {
  const a = new NfsCallStats();
  const b = new NfsCallStats();
  a.record(Proc.READ, 0, 0.05);
  a.record(Proc.READ, NfsStat.STALE, 2);
  b.record(Proc.READ, 0, 30_000);
  b.record(Proc.GETATTR, 12345, 0.2);
  b.record(99, 0, 1);
  const sum = new NfsCallStats();
  sum.add(a.counts);
  sum.add(b.counts);
  t.equal(sum.calls(Proc.READ, 0), 2);
  t.equal(sum.total(Proc.READ), 3);
  t.equal(sum.bucket(Proc.READ, 0), 1, '50 µs in the first bucket');
  t.equal(sum.bucket(Proc.READ, 4), 1, '2 ms in the bucket up to 2.5 ms');
  t.equal(sum.bucket(Proc.READ, 15), 1, '30 s above every bound');
  t.ok(Math.abs(sum.seconds(Proc.READ) - 30.00205) < 1e-9, 'the seconds add up');
  t.equal(sum.calls(Proc.GETATTR, NfsCallStats.statusColumns - 1), 1, 'an unknown status counted as other');
  t.equal(NfsCallStats.statusAt(NfsCallStats.statusColumns - 1), undefined);
  t.equal(NfsCallStats.statusAt(NfsCallStats.statusColumns - 2), -1);
  t.throws(() => new NfsCallStats(new Float64Array(3)), RangeError);
});
