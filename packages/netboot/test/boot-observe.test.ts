import t from 'tap';
import type { BootEvent } from '@netboot/boot-events';
import { Proc } from '@netboot/nfs3';
import { XdrReader, type RpcCall } from '@netboot/oncrpc-xdr';
import { initFromPxelinux } from '../src/observe/file-events.js';
import { NfsEvents } from '../src/observe/nfs-events.js';
import { NfsOpStats } from '../src/observe/nfs-op-stats.js';

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

function call(proc: number, args: Buffer): RpcCall {
  return {
    xid: 1,
    prog: 100003,
    vers: 3,
    proc,
    cred: { flavor: 0, body: Buffer.alloc(0) },
    args: new XdrReader(args),
    transport: 'tcp',
    remote: { address: IP, port: 800 },
    local: { address: '198.18.1.1', port: 2049 },
  } as unknown as RpcCall;
}

/** One call through the observer, as the wrapper makes it: start with the arguments, done with the reply. */
function observe(w: NfsEvents, proc: number, args: Buffer, reply: Buffer): void {
  const c = call(proc, args);
  const token = w.start(c);
  w.done(c, reply.readUInt32BE(0), reply, 0.1, token);
}
const lookup = (w: NfsEvents, dir: string, name: string, obj: string) =>
  observe(w, Proc.LOOKUP, Buffer.concat([xdrOpaque(fh(dir)), xdrOpaque(Buffer.from(name))]), Buffer.concat([u32(0), xdrOpaque(fh(obj)), u32(0), u32(0)]));
const readlink = (w: NfsEvents, link: string, target: string) => observe(w, Proc.READLINK, xdrOpaque(fh(link)), Buffer.concat([u32(0), u32(0), xdrOpaque(Buffer.from(target))]));
const read = (w: NfsEvents, file: string) => observe(w, Proc.READ, Buffer.concat([xdrOpaque(fh(file)), Buffer.alloc(8), u32(4096)]), Buffer.concat([u32(0), u32(0)]));

t.test('the first READ of init is found through LOOKUPs and symlinks (merged /usr, systemd)', async (t) => {
  const events: BootEvent[] = [];
  const w = new NfsEvents((e) => events.push(e), new NfsOpStats(), () => '/sbin/init');
  t.teardown(() => w.close());
  w.mounted(IP);
  lookup(w, 'root', 'etc', 'etc');
  lookup(w, 'etc', 'fstab', 'fstab');
  read(w, 'fstab'); // the initramfs reads the root's fstab first: not init
  lookup(w, 'root', 'sbin', 'sbin-link');
  readlink(w, 'sbin-link', 'usr/sbin');
  lookup(w, 'root', 'usr', 'usr');
  lookup(w, 'usr', 'sbin', 'usr-sbin');
  lookup(w, 'usr-sbin', 'init', 'init-link');
  readlink(w, 'init-link', '../lib/systemd/systemd');
  lookup(w, 'usr-sbin', '..', 'usr');
  lookup(w, 'usr', 'lib', 'lib');
  lookup(w, 'lib', 'systemd', 'lib-systemd');
  t.same(events.filter((e) => e.kind === 'nfs' && e.what === 'init-read'), [], 'not before the binary is read');
  lookup(w, 'lib-systemd', 'systemd', 'systemd');
  read(w, 'systemd');
  const found = events.filter((e) => e.kind === 'nfs' && e.what !== 'first-call');
  t.equal(found.length, 1);
  t.match(found[0], { kind: 'nfs', ip: IP, what: 'init-read', path: '/sbin/init' });
  t.equal(events[0].kind === 'nfs' && events[0].what, 'first-call', 'the first call is reported first');
});

t.test('a client seen without a MOUNT is not followed; hostile lengths are ignored', async (t) => {
  const events: BootEvent[] = [];
  const stats = new NfsOpStats();
  const w = new NfsEvents((e) => events.push(e), stats, () => '/sbin/init');
  t.teardown(() => w.close());
  read(w, 'anything');
  t.same(
    events.map((e) => (e.kind === 'nfs' ? e.what : e.kind)),
    ['first-call', 'active'],
  );
  w.mounted(IP);
  // A handle length of 2^32-1 and a name length past the datagram: no path learnt, nothing thrown.
  observe(w, Proc.LOOKUP, Buffer.concat([u32(0xffffffff), Buffer.alloc(8)]), Buffer.concat([u32(0), u32(0xffffffff)]));
  observe(w, Proc.LOOKUP, Buffer.concat([xdrOpaque(fh('root')), u32(1000)]), u32(0));
  t.match(stats.callSamples(), [{ labels: { protocol: 'nfs', operation: 'LOOKUP', status: 'OK' }, value: 2 }, { labels: { operation: 'READ' }, value: 1 }]);
});

t.test('init= is read from the APPEND line of a pxelinux config, not rdinit=', async (t) => {
  t.equal(initFromPxelinux('DEFAULT l\nLABEL l\n  KERNEL vmlinuz\n  APPEND rdinit=/bin/sh root=/dev/nfs init=/lib/systemd/systemd rw\n'), '/lib/systemd/systemd');
  t.equal(initFromPxelinux('label l\n append rdinit=/init root=/dev/nfs\n'), undefined);
  t.equal(initFromPxelinux('# init=/not/this\nLABEL l\n  KERNEL init=/nor/this\n'), undefined);
});
