// The native batched UDP socket: recvmmsg batches into the slab, sendmmsg
// from one buffer, connect, IPv6, truncation, SO_BINDTODEVICE, an exception
// in onBatch reported to onError (and the socket working on), a socket whose
// only reference is its own watcher surviving garbage collection, a socket
// open when its worker thread ends, every call on a closed socket, and
// scripted replies (answered without onBatch until a datagram differs), on
// the native loop too: thousands of steps, stop, close and a worker's end
// while the loop holds the socket, a send error on the loop, the loop bound
// to the CPU the peer sends from serving it; and scripts a
// TFTP read transfer's windows read by the addon from a cached file.
import { spawn, spawnSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import t, { type Test } from 'tap';
import { udpAddress, type NativeCalls, type UdpListener, type UdpSocketHandle } from '@netboot/platform';
import { expectErrno, requireNative } from './require-native.js';

const n = requireNative(t);

interface Got {
  data: Buffer;
  length: number;
  address: string;
  port: number;
}

/** A listener that collects datagrams (copied out of the slab) and errors, and wakes waiters. */
class Collector implements UdpListener {
  readonly got: Got[] = [];
  readonly errors: Error[] = [];
  batches = 0;
  private wake: (() => void) | undefined;
  onBatch(count: number, slab: Buffer, lengths: Int32Array, addresses: Buffer, first: number): void {
    this.batches++;
    const slot = slab.length / lengths.length;
    for (let i = first; i < count; i++) {
      const length = lengths[i];
      const { address, port } = udpAddress(addresses, i);
      const data = length < 0 ? Buffer.alloc(0) : Buffer.from(slab.subarray(i * slot, i * slot + length));
      this.got.push({ data, length, address, port });
    }
    this.wake?.();
  }
  onError(error: Error): void {
    this.errors.push(error);
    this.wake?.();
  }
  /** Resolves when `done()` holds, checked after each batch or error; fails after 5 s. */
  until(done: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out with ${this.got.length} datagrams, ${this.errors.length} errors`)), 5000);
      const check = () => {
        if (!done()) return;
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      this.wake = check;
      check();
    });
  }
}

/** The CPUs this process may run on (its Cpus_allowed_list). */
function allowedCpus(): number[] {
  const list = /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '';
  return list.split(',').flatMap((range) => {
    const [a, b = a] = range.split('-').map(Number);
    return Array.from({ length: b - a + 1 }, (_, i) => a + i);
  });
}

function hasTaskset(): boolean {
  return spawnSync('taskset', ['--version']).status === 0;
}

/** This process's native script loops bound to a CPU (named script-cpuN by the addon). */
function scriptLoops(): { tid: string; name: string }[] {
  return readdirSync('/proc/self/task')
    .map((tid) => ({ tid, name: readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() }))
    .filter((l) => /^script-cpu\d+$/.test(l.name));
}

/** How often a thread has gone to sleep (a loop waiting in epoll_wait): once a datagram served. */
function wakeups(tid: string): number {
  return Number(/^voluntary_ctxt_switches:\s*(\d+)$/m.exec(readFileSync(`/proc/self/task/${tid}/status`, 'utf8'))?.[1]);
}

/** Many lock-step peers in one process (as one client process with many transfers): prints their ports, reads the servers', prints done when all are. */
const LOCKSTEP_PEERS = `
const dgram = require('node:dgram');
const [count, steps] = process.argv.slice(1).map(Number);
const peers = [];
let bound = 0;
let running = count;
for (let i = 0; i < count; i++) {
  const p = { socket: dgram.createSocket('udp4'), server: 0, k: 0, trigger: Buffer.alloc(4) };
  p.socket.on('message', () => {
    if (++p.k >= steps) {
      p.socket.close();
      if (--running === 0) {
        process.stdout.write('done\\n');
        process.stdin.destroy();
      }
      return;
    }
    p.trigger.writeUInt32BE(p.k, 0);
    p.socket.send(p.trigger, p.server, '127.0.0.1');
  });
  p.socket.bind(0, '127.0.0.1', () => {
    if (++bound === count) process.stdout.write(peers.map((q) => q.socket.address().port).join(',') + '\\n');
  });
  peers.push(p);
}
process.stdin.once('data', (d) => {
  String(d).trim().split(',').map(Number).forEach((port, i) => {
    peers[i].server = port;
    peers[i].socket.send(peers[i].trigger, port, '127.0.0.1');
  });
});
`;

/** A lock-step script of `steps` steps: trigger k (k as 4 bytes) is answered by one reply, 0x80000000 + k as 4 bytes. */
function lockStepScript(steps: number): { bytes: Buffer; plan: Int32Array } {
  const bytes = Buffer.alloc(steps * 8);
  const plan = new Int32Array(steps * 2);
  for (let k = 0; k < steps; k++) {
    bytes.writeUInt32BE(k, k * 4);
    bytes.writeUInt32BE(0x80000000 + k, steps * 4 + k * 4);
    plan[k] = 1;
    plan[steps + k] = 4;
  }
  return { bytes, plan };
}

/**
 * `count` lock-step peers in one process bound to `cpu` (on loopback their datagrams come in on that CPU), each
 * taking `taken` replies, and for each a socket armed with a `steps`-step script. `start` sends the first
 * triggers and resolves with the peers' "done"; `loops` are the script loops once each has named itself.
 */
async function peersOnCpu(n: NativeCalls, t: Test, cpu: number, count: number, taken: number, steps: number) {
  const peer = spawn('taskset', ['-c', String(cpu), process.execPath, '-e', LOCKSTEP_PEERS, String(count), String(taken)], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => peer.kill());
  const lines = createInterface({ input: peer.stdout! })[Symbol.asyncIterator]();
  const peerPorts = String((await lines.next()).value).split(',').map(Number);
  const { bytes, plan } = lockStepScript(steps);
  const sockets = peerPorts.map((port) => {
    const s = open(n, t, '127.0.0.1', new Collector());
    n.udpConnect(s, '127.0.0.1', port);
    n.udpScriptArm(s, bytes, plan, 4, steps, 0);
    return s;
  });
  // The loops start, named, with the first script the process arms.
  const loops = scriptLoops();
  const start = async () => {
    peer.stdin!.write(`${sockets.map((s) => n.udpLocalPort(s)).join(',')}\n`);
    return (await lines.next()).value;
  };
  return { sockets, loops, start };
}

async function dgram(type: 'udp4' | 'udp6', address: string): Promise<Socket> {
  const s = createSocket(type);
  s.bind(0, address);
  await once(s, 'listening');
  return s;
}

function open(n: NativeCalls, t: Test, address: string, listener: UdpListener, slots = 16, slotBytes = 1500, device = ''): UdpSocketHandle {
  const s = n.udpOpen(address, 0, 0, device, 0, slots, slotBytes, listener);
  t.teardown(() => n.udpClose(s));
  return s;
}

if (n) {
  t.test('receives in batches into the slab, with each sender', async (t) => {
    const c = new Collector();
    const s = open(n, t, '127.0.0.1', c, 8, 64);
    t.equal(s.slab.length, 8 * 64);
    t.equal(s.lengths.length, 8);
    t.equal(s.addresses.length, 8 * n.constants.UDP_ADDRESS_BYTES);
    const port = n.udpLocalPort(s);
    t.ok(port > 0, 'bound to a free port');
    const sender = await dgram('udp4', '127.0.0.1');
    t.teardown(() => sender.close());
    for (let i = 0; i < 20; i++) sender.send(Buffer.from(`datagram ${i}`), port, '127.0.0.1');
    await c.until(() => c.got.length >= 20);
    t.same(c.got.map((g) => g.data.toString()), Array.from({ length: 20 }, (_, i) => `datagram ${i}`), 'every datagram, in order');
    t.ok(c.got.every((g) => g.address === '127.0.0.1' && g.port === sender.address().port), 'each with its sender');
    t.ok(c.batches <= 20, `${c.batches} batches`);
  });

  t.test('a receive queue past the default, refused past its bound', async (t) => {
    const s = open(n, t, '127.0.0.1', new Collector());
    const before = n.udpReceiveBuffer(s, 4096);
    const after = n.udpReceiveBuffer(s, 1 << 20);
    t.ok(after > before, `${before} bytes, then ${after}`);
    t.throws(() => n.udpReceiveBuffer(s, 2 ** 31), { code: 'ERR_OUT_OF_RANGE' });
    t.throws(() => n.udpReceiveBuffer(s, 0), { code: 'ERR_OUT_OF_RANGE' });
  });

  t.test('sendmmsg of many datagrams from one buffer, and one datagram', async (t) => {
    const s = open(n, t, '127.0.0.1', new Collector());
    const receiver = await dgram('udp4', '127.0.0.1');
    t.teardown(() => receiver.close());
    const got: string[] = [];
    const all = new Promise<void>((resolve) =>
      receiver.on('message', (m) => {
        got.push(m.toString());
        if (got.length === 101) resolve();
      }),
    );
    const parts = Array.from({ length: 100 }, (_, i) => `part ${i}`);
    const buffer = Buffer.from(parts.join(''));
    const lengths = Int32Array.from(parts.map((p) => p.length));
    n.udpSendBatch(s, buffer, lengths, 100, '127.0.0.1', receiver.address().port);
    n.udpSend(s, Buffer.from('xxlastxx'), 2, 4, '127.0.0.1', receiver.address().port);
    await all;
    t.same(got, [...parts, 'last'], 'in order, each its own datagram');
  });

  t.test('a batch of equal datagrams (one segmented send where the kernel offers it) arrives as those datagrams', async (t) => {
    const s = open(n, t, '127.0.0.1', new Collector());
    const receiver = await dgram('udp4', '127.0.0.1');
    t.teardown(() => receiver.close());
    // 50 blocks of 1472 bytes (a run stays under 64 KiB: 44, then 6 and the short one), a short one,
    // then 70 of 20 (a run has 64 segments at most). Small enough for a default receive buffer.
    const lengths = Int32Array.from([...Array.from({ length: 50 }, () => 1472), 9, ...Array.from({ length: 70 }, () => 20)]);
    const total = lengths.reduce((a, b) => a + b, 0);
    const buffer = Buffer.alloc(total);
    for (let i = 0; i < total; i++) buffer[i] = (i * 31 + (i >> 8)) & 0xff;
    const got: Buffer[] = [];
    const all = new Promise<void>((resolve) =>
      receiver.on('message', (m) => {
        got.push(m);
        if (got.length === lengths.length) resolve();
      }),
    );
    n.udpSendBatch(s, buffer, lengths, lengths.length, '127.0.0.1', receiver.address().port);
    await all;
    t.same(got.map((g) => g.length), Array.from(lengths), 'each datagram its own length');
    t.ok(Buffer.concat(got).equals(buffer), 'the bytes in order');
  });

  t.test('connected: sends need no address and only the peer is heard', async (t) => {
    const c = new Collector();
    const s = open(n, t, '127.0.0.1', c);
    const peer = await dgram('udp4', '127.0.0.1');
    const other = await dgram('udp4', '127.0.0.1');
    t.teardown(() => (peer.close(), other.close()));
    n.udpConnect(s, '127.0.0.1', peer.address().port);
    const reply = once(peer, 'message');
    n.udpSend(s, Buffer.from('hello'), 0, 5);
    t.equal(String((await reply)[0]), 'hello');
    other.send('stranger', n.udpLocalPort(s), '127.0.0.1');
    peer.send('peer', n.udpLocalPort(s), '127.0.0.1');
    await c.until(() => c.got.length >= 1);
    t.same(c.got.map((g) => g.data.toString()), ['peer'], 'the other sender is not heard');
  });

  t.test('a connected socket whose peer port is closed reports ECONNREFUSED', async (t) => {
    const c = new Collector();
    const s = open(n, t, '127.0.0.1', c);
    const gone = await dgram('udp4', '127.0.0.1');
    const port = gone.address().port;
    await new Promise<void>((resolve) => gone.close(() => resolve()));
    n.udpConnect(s, '127.0.0.1', port);
    let thrown: NodeJS.ErrnoException | undefined;
    // The ICMP answer arrives as a socket error: on the next receive (onError) or the next send (thrown).
    for (let i = 0; i < 50 && c.errors.length === 0 && !thrown; i++) {
      try {
        n.udpSend(s, Buffer.from('anyone?'), 0, 7);
      } catch (error) {
        thrown = error as NodeJS.ErrnoException;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    const error = (thrown ?? c.errors[0]) as NodeJS.ErrnoException | undefined;
    t.equal(error?.code, 'ECONNREFUSED');
    t.ok(error?.syscall === 'sendmmsg' || error?.syscall === 'recvmmsg', `syscall ${error?.syscall}`);
  });

  t.test('the ICMP error arrives as onError (libuv calls POLLERR EBADF), and the socket works on', async (t) => {
    const c = new Collector();
    const s = open(n, t, '127.0.0.1', c);
    const gone = await dgram('udp4', '127.0.0.1');
    const port = gone.address().port;
    await new Promise<void>((resolve) => gone.close(() => resolve()));
    n.udpConnect(s, '127.0.0.1', port);
    n.udpSend(s, Buffer.from('anyone?'), 0, 7);
    await c.until(() => c.errors.length >= 1);
    t.match(c.errors[0], { code: 'ECONNREFUSED', syscall: 'recvmmsg' });
    const peer = await dgram('udp4', '127.0.0.1');
    t.teardown(() => peer.close());
    n.udpConnect(s, '127.0.0.1', peer.address().port);
    peer.send('still here', n.udpLocalPort(s), '127.0.0.1');
    await c.until(() => c.got.length >= 1);
    t.equal(c.got[0].data.toString(), 'still here');
    t.equal(c.errors.length, 1, 'one report, no spinning');
  });

  t.test('IPv6, and IPv4 senders on a dual-stack socket', async (t) => {
    const c = new Collector();
    const s = open(n, t, '::1', c);
    const sender = await dgram('udp6', '::1');
    t.teardown(() => sender.close());
    sender.send('six', n.udpLocalPort(s), '::1');
    await c.until(() => c.got.length >= 1);
    t.same([c.got[0].data.toString(), c.got[0].address, c.got[0].port], ['six', '::1', sender.address().port]);
    const replied = once(sender, 'message');
    n.udpSend(s, Buffer.from('back'), 0, 4, '::1', sender.address().port);
    t.equal(String((await replied)[0]), 'back');

    const dual = new Collector();
    const d = n.udpOpen('::', 0, 0, '', 0, 4, 64, dual);
    t.teardown(() => n.udpClose(d));
    const four = await dgram('udp4', '127.0.0.1');
    t.teardown(() => four.close());
    four.send('four', n.udpLocalPort(d), '127.0.0.1');
    await dual.until(() => dual.got.length >= 1);
    t.equal(dual.got[0].address, '::ffff:127.0.0.1', 'an IPv4 sender as node:dgram names it');
    const only = n.udpOpen('::1', 0, n.constants.UDP_IPV6ONLY | n.constants.UDP_REUSEADDR, '', 0, 1, 64, new Collector());
    n.udpClose(only);
  });

  t.test('a datagram longer than a slot is reported -1, the next is whole', async (t) => {
    const c = new Collector();
    const s = open(n, t, '127.0.0.1', c, 4, 8);
    const sender = await dgram('udp4', '127.0.0.1');
    t.teardown(() => sender.close());
    sender.send(Buffer.alloc(20, 1), n.udpLocalPort(s), '127.0.0.1');
    sender.send(Buffer.from('12345678'), n.udpLocalPort(s), '127.0.0.1');
    await c.until(() => c.got.length >= 2);
    t.same(c.got.map((g) => g.length), [-1, 8]);
  });

  t.test('SO_BINDTODEVICE at open', async (t) => {
    const c = new Collector();
    const s = open(n, t, '127.0.0.1', c, 4, 64, 'lo');
    const sender = await dgram('udp4', '127.0.0.1');
    t.teardown(() => sender.close());
    sender.send('on lo', n.udpLocalPort(s), '127.0.0.1');
    await c.until(() => c.got.length >= 1);
    t.equal(c.got[0].data.toString(), 'on lo');
    expectErrno(t, () => n.udpOpen('127.0.0.1', 0, 0, 'no-such-if0', 0, 4, 64, new Collector()), 'ENODEV', 'setsockopt');
  });

  t.test('what onBatch throws reaches onError, and the socket works on', async (t) => {
    const errors: Error[] = [];
    let seen = 0;
    const listener: UdpListener = {
      onBatch(count) {
        seen += count;
        if (seen === 1) throw new Error('thrown in onBatch');
      },
      onError(error) {
        errors.push(error);
      },
    };
    const s = open(n, t, '127.0.0.1', listener, 1, 64);
    const sender = await dgram('udp4', '127.0.0.1');
    t.teardown(() => sender.close());
    const port = n.udpLocalPort(s);
    sender.send('one', port, '127.0.0.1');
    for (let i = 0; i < 500 && errors.length === 0; i++) await new Promise((resolve) => setImmediate(resolve));
    t.equal(errors[0]?.message, 'thrown in onBatch', 'the exception is reported, not swallowed');
    sender.send('two', port, '127.0.0.1');
    for (let i = 0; i < 500 && seen < 2; i++) await new Promise((resolve) => setImmediate(resolve));
    t.equal(seen, 2, 'the next datagram still arrives');
    // Node-API works on: the call after the exception does not fail.
    n.udpSend(s, Buffer.from('x'), 0, 1, '127.0.0.1', sender.address().port);
  });

  t.test('what onError throws goes to uncaughtException', async (t) => {
    const c = new Collector();
    const listener: UdpListener = {
      onBatch() {
        throw new Error('first');
      },
      onError() {
        throw new Error('second');
      },
    };
    const s = open(n, t, '127.0.0.1', listener, 1, 64);
    void c;
    const saved = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    const caught = new Promise<Error>((resolve) => process.once('uncaughtException', resolve));
    t.teardown(() => {
      process.removeAllListeners('uncaughtException');
      for (const l of saved) process.on('uncaughtException', l);
    });
    const sender = await dgram('udp4', '127.0.0.1');
    t.teardown(() => sender.close());
    sender.send('x', n.udpLocalPort(s), '127.0.0.1');
    t.equal((await caught).message, 'second');
  });

  t.test('an open socket with no other reference survives garbage collection', async (t) => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const c = new Collector();
    let port = 0;
    (() => {
      const s = n.udpOpen('127.0.0.1', 0, 0, '', 0, 4, 64, c);
      port = n.udpLocalPort(s);
      // Only the watcher holds it; the listener closes it once all arrived.
      c.onBatch = function (this: Collector, ...args: Parameters<Collector['onBatch']>) {
        Collector.prototype.onBatch.apply(this, args);
        if (this.got.length >= 200) n.udpClose(s);
      };
    })();
    const sender = await dgram('udp4', '127.0.0.1');
    t.teardown(() => sender.close());
    for (let round = 0; round < 4; round++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
      for (let i = 0; i < 50; i++) sender.send(`r${round}`, port, '127.0.0.1');
      await c.until(() => c.got.length >= (round + 1) * 50);
    }
    t.equal(c.got.length, 200, 'every datagram arrived between collections');
  });

  t.test('a worker thread: receives on its own loop, and its end closes an open socket', async (t) => {
    const addon = process.env.NETBOOT_PLATFORM_ADDON;
    const code = `
      const { parentPort } = require('node:worker_threads');
      import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)}).then(({ native: n }) => {
        const s = n.udpOpen('127.0.0.1', 0, 0, '', 0, 8, 64, {
          onBatch(count, slab, lengths) { parentPort.postMessage({ got: slab.subarray(0, lengths[0]).toString() }); },
          onError(e) { parentPort.postMessage({ error: e.message }); },
        });
        parentPort.postMessage({ port: n.udpLocalPort(s) });
      });`;
    const worker = new Worker(code, { eval: true, env: { ...process.env, ...(addon ? { NETBOOT_PLATFORM_ADDON: addon } : {}) } });
    t.teardown(() => worker.terminate());
    const [{ port }] = (await once(worker, 'message')) as [{ port: number }];
    const sender = await dgram('udp4', '127.0.0.1');
    t.teardown(() => sender.close());
    sender.send('to the worker', port, '127.0.0.1');
    const [reply] = (await once(worker, 'message')) as [{ got: string }];
    t.equal(reply.got, 'to the worker');
    // Terminated with the socket open: its cleanup hook closes it, the thread's loop closes cleanly.
    const exitCode = await worker.terminate();
    t.equal(exitCode, 1, 'terminated');
    const again = createSocket('udp4');
    t.teardown(() => again.close());
    again.bind(port, '127.0.0.1');
    await once(again, 'listening');
    t.pass('the worker socket port is free again');
  });

  t.test('calls on a closed socket throw EBADF; closing twice is fine', async (t) => {
    const s = n.udpOpen('127.0.0.1', 0, 0, '', 0, 4, 64, new Collector());
    n.udpClose(s);
    n.udpClose(s);
    expectErrno(t, () => n.udpLocalPort(s), 'EBADF', 'getsockname');
    expectErrno(t, () => n.udpSend(s, Buffer.from('x'), 0, 1, '127.0.0.1', 9), 'EBADF', 'sendmmsg');
    expectErrno(t, () => n.udpSendBatch(s, Buffer.from('x'), Int32Array.of(1), 1, '127.0.0.1', 9), 'EBADF', 'sendmmsg');
    expectErrno(t, () => n.udpConnect(s, '127.0.0.1', 9), 'EBADF', 'connect');
  });

  t.test('scripted replies: matching datagrams answered in order without onBatch; the first that differs pauses it', async (t) => {
    const c = new Collector();
    const s = open(n, t, '127.0.0.1', c);
    const peer = await dgram('udp4', '127.0.0.1');
    t.teardown(() => peer.close());
    n.udpConnect(s, '127.0.0.1', peer.address().port);
    // Step 0: "go0" -> "a", "bb"; step 1: "go1" -> nothing; step 2: "go2" -> "ccc".
    const bytes = Buffer.from('go0go1go2' + 'a' + 'bb' + 'ccc');
    const plan = Int32Array.of(2, 0, 1, 1, 2, 3);
    const heard: string[] = [];
    let wake = (): void => {};
    peer.on('message', (m) => (heard.push(m.toString()), wake()));
    const hear = (count: number) => new Promise<void>((resolve) => (wake = () => heard.length >= count && resolve()));
    n.udpScriptArm(s, bytes, plan, 3, 3, 0);
    const port = n.udpLocalPort(s);
    let got = hear(2);
    peer.send('go0', port, '127.0.0.1');
    await got;
    t.same(heard, ['a', 'bb'], 'step 0 answered with its two datagrams');
    got = hear(3);
    peer.send('go1', port, '127.0.0.1');
    peer.send('go2', port, '127.0.0.1');
    await got;
    t.same(heard, ['a', 'bb', 'ccc'], 'steps 1 and 2 in order');
    t.equal(c.batches, 0, 'no onBatch for answered datagrams');
    peer.send('go2', port, '127.0.0.1');
    peer.send('after', port, '127.0.0.1');
    await c.until(() => c.got.length >= 2);
    t.same(c.got.map((g) => g.data.toString()), ['go2', 'after'], 'past the last step, datagrams are the listener\'s');
    const state = new Float64Array(2);
    const [sec, ns] = process.hrtime();
    n.udpScriptStop(s, state);
    t.equal(state[0], 3, 'three steps taken');
    t.ok(Math.abs(state[1] - (sec * 1e3 + ns / 1e6)) < 5000, 'the last step\'s time is on process.hrtime\'s clock');

    // Armed from step 1: "go0" differs, pauses the script, and goes to onBatch with what follows.
    n.udpScriptArm(s, bytes, plan, 3, 3, 1);
    peer.send('go0', port, '127.0.0.1');
    peer.send('go1', port, '127.0.0.1');
    await c.until(() => c.got.length >= 4);
    t.same(c.got.slice(2).map((g) => g.data.toString()), ['go0', 'go1'], 'a paused script answers nothing');
    n.udpScriptStop(s, state);
    t.equal(state[0], 0, 'no step taken');
    t.equal(heard.length, 3, 'nothing more sent');
  });

  t.test('scripted replies on the native loop: thousands of steps in lock-step with no onBatch, taken back by stop mid-way', async (t) => {
    const c = new Collector();
    const s = open(n, t, '127.0.0.1', c);
    const peer = await dgram('udp4', '127.0.0.1');
    t.teardown(() => peer.close());
    n.udpConnect(s, '127.0.0.1', peer.address().port);
    // Step k: trigger "k" as 4 bytes -> reply "r" + k as 4 bytes; the peer answers each reply with the next trigger.
    const steps = 3000;
    const { bytes, plan } = lockStepScript(steps);
    const port = n.udpLocalPort(s);
    const stopAt = 2000;
    let replies = 0;
    let wake = (): void => {};
    const trigger = Buffer.alloc(4);
    peer.on('message', (m) => {
      replies++;
      const k = m.readUInt32BE(0) - 0x80000000;
      if (k + 1 < stopAt) {
        trigger.writeUInt32BE(k + 1, 0);
        peer.send(trigger, port, '127.0.0.1');
      }
      wake();
    });
    n.udpScriptArm(s, bytes, plan, 4, steps, 0);
    const reached = new Promise<void>((resolve) => (wake = () => replies >= stopAt && resolve()));
    trigger.writeUInt32BE(0, 0);
    peer.send(trigger, port, '127.0.0.1');
    await reached;
    const state = new Float64Array(2);
    n.udpScriptStop(s, state);
    t.equal(state[0], stopAt, 'every step up to the stop taken');
    t.equal(c.batches, 0, 'no onBatch');
    // Taken back: the script is over, so the next trigger is the listener's.
    trigger.writeUInt32BE(stopAt, 0);
    peer.send(trigger, port, '127.0.0.1');
    await c.until(() => c.got.length >= 1);
    t.equal(c.got[0].data.readUInt32BE(0), stopAt, 'after stop, datagrams are the listener\'s');
    // Armed again from where it stopped: the loop answers on.
    n.udpScriptArm(s, bytes, plan, 4, steps, stopAt + 1);
    const more = new Promise<void>((resolve) => (wake = () => replies >= stopAt + 1 && resolve()));
    trigger.writeUInt32BE(stopAt + 1, 0);
    peer.send(trigger, port, '127.0.0.1');
    await more;
    n.udpScriptStop(s, state);
    t.equal(state[0], 1, 'one more step');
    t.equal(c.batches, 1, 'still one onBatch');
  });

  const cpus = allowedCpus();
  t.test('scripted replies on the native loop: served by the loop bound to the CPU the peer sends from', { skip: cpus.length < 2 || !hasTaskset() ? 'needs two CPUs and taskset' : false }, async (t) => {
    const cpu = cpus[cpus.length - 1];
    const steps = 400;
    const { sockets, loops, start } = await peersOnCpu(n, t, cpu, 1, steps, steps);
    if (!t.ok(loops.length >= 2, `a script loop bound to each CPU (${loops.map((l) => l.name).join(', ')})`)) return;
    const before = new Map(loops.map((l) => [l.name, wakeups(l.tid)]));
    t.equal(await start(), 'done', `the peer got ${steps} replies`);
    const state = new Float64Array(2);
    n.udpScriptStop(sockets[0], state);
    t.equal(state[0], steps, 'every step taken by the script');
    for (const l of loops) {
      const woken = wakeups(l.tid) - before.get(l.name)!;
      if (l.name === `script-cpu${cpu}`) t.ok(woken >= steps / 2, `the peer's CPU's loop served it (${woken} wakeups)`);
      else t.ok(woken < steps / 4, `${l.name} did not (${woken} wakeups)`);
    }
  });

  t.test('scripted replies on the native loop: many peers sending from one CPU are spread over the loops, not all served on theirs', { skip: cpus.length < 2 || !hasTaskset() ? 'needs two CPUs and taskset' : false }, async (t) => {
    const cpu = cpus[cpus.length - 1];
    const count = 8;
    const steps = 400;
    const { sockets, loops, start } = await peersOnCpu(n, t, cpu, count, steps, steps);
    if (!t.ok(loops.length >= 2, `a script loop bound to each CPU (${loops.map((l) => l.name).join(', ')})`)) return;
    const before = new Map(loops.map((l) => [l.name, wakeups(l.tid)]));
    t.equal(await start(), 'done', `the ${count} peers got ${steps} replies each`);
    const state = new Float64Array(2);
    for (const s of sockets) {
      n.udpScriptStop(s, state);
      t.equal(state[0], steps, 'every step taken by the script');
    }
    // Every loop served some of them: a loop holding a peer's socket for a
    // whole transfer wakes for most of its steps; one holding each only up
    // to its first look at the peer's CPU (16 steps) wakes a few times each.
    for (const l of loops) {
      const woken = wakeups(l.tid) - before.get(l.name)!;
      t.ok(woken >= steps / 2, `${l.name} served some of the transfers (${woken} wakeups)`);
    }
  });

  t.test('scripted replies on the native loop: a loop holding many sockets runs on any CPU, not only its own', { skip: cpus.length < 2 || !hasTaskset() ? 'needs two CPUs and taskset' : false }, async (t) => {
    const cpu = cpus[cpus.length - 1];
    // 12 peers take 100 steps each of scripts 400 long, then fall silent:
    // every socket stays held by a loop, 6 or so on each, more than 4.
    const count = 12;
    const taken = 100;
    const { sockets, loops, start } = await peersOnCpu(n, t, cpu, count, taken, 400);
    t.equal(await start(), 'done', `the ${count} peers got ${taken} replies each`);
    const allowed = (tid: string) => /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync(`/proc/self/task/${tid}/status`, 'utf8'))?.[1];
    const everywhere = /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    const free = loops.filter((l) => allowed(l.tid) === everywhere);
    t.ok(free.length > 0, `a loop holding more than 4 sockets may run on CPUs ${everywhere} (${loops.map((l) => `${l.name}: ${allowed(l.tid)}`).join(', ')})`);
    const state = new Float64Array(2);
    for (const s of sockets) {
      n.udpScriptStop(s, state);
      t.equal(state[0], taken, 'the steps the peer asked for, taken by the script');
    }
  });

  t.test('scripted replies on the native loop: what differs comes back in order with what follows; close while the loop holds it', async (t) => {
    const c = new Collector();
    const s = n.udpOpen('127.0.0.1', 0, 0, '', 0, 16, 1500, c);
    const peer = await dgram('udp4', '127.0.0.1');
    t.teardown(() => peer.close());
    n.udpConnect(s, '127.0.0.1', peer.address().port);
    const bytes = Buffer.from('go0go1' + 'a' + 'b');
    const plan = Int32Array.of(1, 1, 1, 1);
    const heard: string[] = [];
    peer.on('message', (m) => heard.push(m.toString()));
    n.udpScriptArm(s, bytes, plan, 3, 2, 0);
    const port = n.udpLocalPort(s);
    for (const m of ['go0', 'xx1', 'go1', 'later']) peer.send(m, port, '127.0.0.1');
    await c.until(() => c.got.length >= 3);
    t.same(c.got.map((g) => g.data.toString()), ['xx1', 'go1', 'later'], 'the datagram that differs and every one after, in order');
    const state = new Float64Array(2);
    n.udpScriptStop(s, state);
    t.equal(state[0], 1, 'one step taken');
    // Armed and handed to the loop, then closed with nothing received: the port is free at once.
    n.udpScriptArm(s, bytes, plan, 3, 2, 0);
    n.udpClose(s);
    const again = createSocket('udp4');
    t.teardown(() => again.close());
    again.bind(port, '127.0.0.1');
    await once(again, 'listening');
    t.pass('the port is free after close');
  });

  t.test('scripted replies: resume arms the held script again from the step that differed, without a copy', async (t) => {
    const c = new Collector();
    const s = open(n, t, '127.0.0.1', c);
    const peer = await dgram('udp4', '127.0.0.1');
    t.teardown(() => peer.close());
    n.udpConnect(s, '127.0.0.1', peer.address().port);
    const bytes = Buffer.from('go0go1' + 'a' + 'b');
    const heard: string[] = [];
    let wake = (): void => {};
    peer.on('message', (m) => (heard.push(m.toString()), wake()));
    const hear = (count: number) => new Promise<void>((resolve) => (wake = () => heard.length >= count && resolve()));
    n.udpScriptArm(s, bytes, Int32Array.of(1, 1, 1, 1), 3, 2, 0);
    const port = n.udpLocalPort(s);
    let got = hear(1);
    peer.send('go0', port, '127.0.0.1');
    await got;
    peer.send('go0', port, '127.0.0.1');
    await c.until(() => c.got.length >= 1);
    t.equal(c.got[0].data.toString(), 'go0', 'a repeat differs from step 1 and is the listener\'s');
    const state = new Float64Array(2);
    n.udpScriptStop(s, state);
    t.equal(state[0], 1, 'one step taken');
    bytes.fill(0); // the addon answers from its own copy
    t.equal(n.udpScriptResume(s), true, 'a step is left');
    got = hear(2);
    peer.send('go1', port, '127.0.0.1');
    await got;
    t.same(heard, ['a', 'b'], 'step 1 answered after resume');
    n.udpScriptStop(s, state);
    t.equal(state[0], 1, 'counted from the resume');
    t.equal(n.udpScriptResume(s), false, 'nothing left to resume');
  });

  t.test('scripted replies on the native loop: a datagram longer than a slot comes back reported -1 with its sender, the next whole', async (t) => {
    const c = new Collector();
    const s = open(n, t, '127.0.0.1', c, 16, 64);
    const peer = await dgram('udp4', '127.0.0.1');
    t.teardown(() => peer.close());
    n.udpConnect(s, '127.0.0.1', peer.address().port);
    const heard: string[] = [];
    let wake = (): void => {};
    peer.on('message', (m) => (heard.push(m.toString()), wake()));
    n.udpScriptArm(s, Buffer.from('go0go1ab'), Int32Array.of(1, 1, 1, 1), 3, 2, 0);
    const port = n.udpLocalPort(s);
    const answered = new Promise<void>((resolve) => (wake = () => resolve()));
    peer.send('go0', port, '127.0.0.1');
    await answered;
    t.same(heard, ['a'], 'step 0 answered by the loop');
    peer.send(Buffer.alloc(100, 'x'), port, '127.0.0.1');
    peer.send('next', port, '127.0.0.1');
    await c.until(() => c.got.length >= 2);
    t.equal(c.got[0].length, -1, 'the long one reported cut short');
    t.equal(c.got[0].port, peer.address().port, 'with its sender');
    t.equal(c.got[1].data.toString(), 'next', 'the next one whole');
  });

  t.test('scripted replies on the native loop: a reply the kernel refuses ends the script and reaches onError; what follows is the listener\'s', async (t) => {
    const c = new Collector();
    const s = open(n, t, '127.0.0.1', c);
    const peer = await dgram('udp4', '127.0.0.1');
    t.teardown(() => peer.close());
    n.udpConnect(s, '127.0.0.1', peer.address().port);
    // 65,535 bytes is more than an IPv4 datagram carries: sendto fails EMSGSIZE on the loop.
    const bytes = Buffer.alloc(3 + 65535);
    bytes.write('go0');
    n.udpScriptArm(s, bytes, Int32Array.of(1, 65535), 3, 1, 0);
    const port = n.udpLocalPort(s);
    peer.send('go0', port, '127.0.0.1');
    await c.until(() => c.errors.length >= 1);
    t.equal((c.errors[0] as NodeJS.ErrnoException).code, 'EMSGSIZE');
    t.equal((c.errors[0] as NodeJS.ErrnoException).syscall, 'sendmmsg');
    peer.send('after', port, '127.0.0.1');
    await c.until(() => c.got.length >= 1);
    t.equal(c.got[0].data.toString(), 'after', 'the socket works on');
    const state = new Float64Array(2);
    n.udpScriptStop(s, state);
    t.equal(state[0], 1, 'the step was taken');
  });

  t.test('scripted replies on the native loop: a worker thread ended while its socket is armed', async (t) => {
    const addon = process.env.NETBOOT_PLATFORM_ADDON;
    const code = `
      const { parentPort } = require('node:worker_threads');
      import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)}).then(({ native: n }) => {
        const s = n.udpOpen('127.0.0.1', 0, 0, '', 0, 8, 64, { onBatch() {}, onError() {} });
        n.udpConnect(s, '127.0.0.1', 9);
        n.udpScriptArm(s, Buffer.from('go0a'), Int32Array.of(1, 1), 3, 1, 0);
        parentPort.postMessage({ port: n.udpLocalPort(s) });
      });`;
    const worker = new Worker(code, { eval: true, env: { ...process.env, ...(addon ? { NETBOOT_PLATFORM_ADDON: addon } : {}) } });
    t.teardown(() => worker.terminate());
    const [{ port }] = (await once(worker, 'message')) as [{ port: number }];
    const exitCode = await worker.terminate();
    t.equal(exitCode, 1, 'terminated');
    const again = createSocket('udp4');
    t.teardown(() => again.close());
    again.bind(port, '127.0.0.1');
    await once(again, 'listening');
    t.pass('the armed socket was closed with its thread');
  });

  /**
   * A TFTP reader on a dgram socket: ACKs each window's last block (the
   * windows after block index `sent`), keeps the DATA it gets, and stops
   * ACKing at the last block or at `holdAt`, whose ACK the caller sends.
   */
  function tftpReader(peer: Socket, port: number, blksize: number, windowsize: number, sent: number, lastIndex: number) {
    const got = new Map<number, Buffer>();
    const wrong: string[] = [];
    let wake = (): void => {};
    let index = sent;
    const reader = { got, wrong, ack: (_i: number): void => {}, until: (_n: number): Promise<void> => Promise.resolve(), holdAt: Infinity };
    const ack = (i: number) => peer.send(Buffer.from([0, 4, (i >> 8) & 0xff, i & 0xff]), port, '127.0.0.1');
    peer.on('message', (m) => {
      if (m.readUInt16BE(0) !== 3) return;
      index++;
      if (m.readUInt16BE(2) !== (index & 0xffff) || m.length - 4 > blksize) wrong.push(`block ${index}: number ${m.readUInt16BE(2)}, ${m.length - 4} bytes`);
      got.set(index, Buffer.from(m.subarray(4)));
      if (index < lastIndex && index < reader.holdAt && (index - sent) % windowsize === 0) ack(index);
      wake();
    });
    const until = (n: number) => new Promise<void>((resolve) => (wake = () => got.size >= n && resolve()));
    reader.ack = ack;
    reader.until = until;
    return reader;
  }

  /** A file holding `content`, read once so the page cache holds it (a script reads only cached chunks); removed at the test's end. */
  function cachedFile(t: Test, content: Buffer): string {
    const dir = mkdtempSync(join(tmpdir(), 'nb-script-file-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'f');
    writeFileSync(file, content);
    readFileSync(file);
    return file;
  }

  for (const [blksize, windowsize, size] of [[512, 1, 300_017], [1468, 4, 1468 * 150], [8, 1, 70_000]] as const) {
    t.test(`a file-backed script (blksize ${blksize}, windowsize ${windowsize}, ${size} bytes): the file's blocks a chunk at a time, the final ACK to onBatch`, async (t) => {
      const content = Buffer.alloc(size);
      for (let i = 0; i < size; i++) content[i] = (i * 7 + (i >> 9)) & 0xff;
      const fd = openSync(cachedFile(t, content), 'r');
      const c = new Collector();
      const s = open(n, t, '127.0.0.1', c);
      const peer = await dgram('udp4', '127.0.0.1');
      t.teardown(() => peer.close());
      n.udpConnect(s, '127.0.0.1', peer.address().port);
      const lastIndex = Math.floor(size / blksize) + 1;
      const sent = 1; // block 1 went out before the script, as the driver sends it
      const reader = tftpReader(peer, n.udpLocalPort(s), blksize, windowsize, sent, lastIndex);
      t.equal(n.udpScriptArmFile(s, fd, size, blksize, windowsize, sent), true, 'armed from the cached file');
      closeSync(fd); // the socket holds its own descriptor
      const all = reader.until(lastIndex - sent);
      reader.ack(sent);
      await all;
      t.same(reader.wrong, [], 'every block numbered in order, none longer than blksize');
      for (let i = sent + 1; i <= lastIndex; i++) {
        const want = content.subarray((i - 1) * blksize, Math.min(size, i * blksize));
        if (!reader.got.get(i)?.equals(want)) t.fail(`block ${i} differs`);
      }
      t.equal(c.batches, 0, 'no onBatch while the file lasts');
      reader.ack(lastIndex);
      await c.until(() => c.got.length >= 1);
      t.same([...c.got[0].data], [0, 4, (lastIndex >> 8) & 0xff, lastIndex & 0xff], 'the final ACK is the listener\'s');
      const state = new Float64Array(2);
      n.udpScriptStop(s, state);
      t.equal(state[0], Math.ceil((lastIndex - sent) / windowsize), 'a step per window');
      t.equal(n.udpScriptResume(s), false, 'nothing left to resume');
    });
  }

  t.test('a file-backed script lays out the next chunk as the last reply of a chunk leaves, not when the next ACK comes', async (t) => {
    // blksize 512, lock-step: a chunk is 128 KiB of DATA packets, 254 blocks.
    const size = 512 * 600;
    const chunk = Math.floor((128 * 1024) / 516);
    const file = cachedFile(t, Buffer.alloc(size, 0x11));
    const fd = openSync(file, 'r+');
    t.teardown(() => closeSync(fd));
    const c = new Collector();
    const s = open(n, t, '127.0.0.1', c);
    const peer = await dgram('udp4', '127.0.0.1');
    t.teardown(() => peer.close());
    n.udpConnect(s, '127.0.0.1', peer.address().port);
    const lastIndex = size / 512 + 1;
    const reader = tftpReader(peer, n.udpLocalPort(s), 512, 1, 0, lastIndex);
    reader.holdAt = chunk;
    t.equal(n.udpScriptArmFile(s, fd, size, 512, 1, 0), true);
    const first = reader.until(chunk);
    reader.ack(0);
    await first;
    // Taken back under the loop's lock: whatever the loop did after the chunk's last reply is done.
    const state = new Float64Array(2);
    n.udpScriptStop(s, state);
    t.equal(state[0], chunk, 'the first chunk answered');
    // The next chunk's bytes change now; the script read them already.
    writeSync(fd, Buffer.alloc(512, 0x22), 0, 512, chunk * 512);
    t.equal(n.udpScriptResume(s), true, 'resumed');
    reader.holdAt = chunk + 1;
    const next = reader.until(chunk + 1);
    reader.ack(chunk);
    await next;
    t.ok(reader.got.get(chunk + 1)?.equals(Buffer.alloc(512, 0x11)), 'the block after the chunk as it was when the chunk\'s last reply left');
    t.equal(c.batches, 0, 'no onBatch');
  });

  t.test('a file-backed script: stopped mid-way and resumed, replaced by udpScriptArm; arguments checked', async (t) => {
    const size = 512 * 600;
    const fd = openSync(cachedFile(t, Buffer.alloc(size, 0x5a)), 'r');
    t.teardown(() => closeSync(fd));
    const c = new Collector();
    const s = open(n, t, '127.0.0.1', c);
    const peer = await dgram('udp4', '127.0.0.1');
    t.teardown(() => peer.close());
    n.udpConnect(s, '127.0.0.1', peer.address().port);
    const lastIndex = size / 512 + 1;
    t.equal(n.udpScriptArmFile(s, fd, size, 512, 1, lastIndex), false, 'nothing after the last block: not armed');
    const reader = tftpReader(peer, n.udpLocalPort(s), 512, 1, 0, lastIndex);
    reader.holdAt = 300; // past the first chunk
    t.equal(n.udpScriptArmFile(s, fd, size, 512, 1, 0), true);
    const some = reader.until(300);
    reader.ack(0);
    await some;
    const state = new Float64Array(2);
    n.udpScriptStop(s, state);
    t.equal(state[0], 300, 'a step per block up to the stop');
    t.equal(n.udpScriptResume(s), true, 'resumed');
    reader.holdAt = Infinity;
    const rest = reader.until(lastIndex);
    reader.ack(300);
    await rest;
    t.same(reader.wrong, [], 'every block in order');
    t.equal(reader.got.size, lastIndex, 'every block');
    // udpScriptArm replaces it (here with no steps), and the file is let go of.
    n.udpScriptArm(s, Buffer.from('xyz'), new Int32Array(0), 3, 0, 0);
    n.udpScriptStop(s, state);
    t.equal(n.udpScriptResume(s), false, 'the file-backed steps are gone');
    t.throws(() => n.udpScriptArmFile(s, fd, size, 4, 1, 0), { code: 'ERR_OUT_OF_RANGE' }, 'blksize under 8');
    t.throws(() => n.udpScriptArmFile(s, fd, size, 512, 0, 0), { code: 'ERR_OUT_OF_RANGE' }, 'windowsize 0');
    t.throws(() => n.udpScriptArmFile(s, fd, size, 512, 1, lastIndex + 1), { code: 'ERR_OUT_OF_RANGE' }, 'sent past the last block');
    t.throws(() => n.udpScriptArmFile(s, -1, size, 512, 1, 0), { code: 'ERR_OUT_OF_RANGE' }, 'a negative fd');
    expectErrno(t, () => n.udpScriptArmFile(s, 1_000_000, size, 512, 1, 0), 'EBADF', 'fcntl');
  });

  t.test('scripted replies: arguments checked; a script on a closed socket throws EBADF', async (t) => {
    const s = open(n, t, '127.0.0.1', new Collector());
    const b = Buffer.alloc(16);
    t.throws(() => n.udpScriptArm(s, b, Int32Array.of(1, 20), 4, 1, 0), { code: 'ERR_OUT_OF_RANGE' }, 'datagrams past the bytes');
    t.throws(() => n.udpScriptArm(s, b, Int32Array.of(2, 4), 4, 1, 0), { code: 'ERR_OUT_OF_RANGE' }, 'a count without lengths');
    t.throws(() => n.udpScriptArm(s, b, Int32Array.of(-1), 4, 1, 0), { code: 'ERR_OUT_OF_RANGE' }, 'a negative count');
    t.throws(() => n.udpScriptArm(s, b, Int32Array.of(1, -4), 4, 1, 0), { code: 'ERR_OUT_OF_RANGE' }, 'a negative length');
    t.throws(() => n.udpScriptArm(s, b, Int32Array.of(0, 0, 0, 0, 0), 4, 5, 0), { code: 'ERR_OUT_OF_RANGE' }, 'triggers past the bytes');
    t.throws(() => n.udpScriptArm(s, b, Int32Array.of(0), 4, 1, 2), { code: 'ERR_OUT_OF_RANGE' }, 'from past the steps');
    t.throws(() => n.udpScriptArm(s, b, Int32Array.of(0), 0, 1, 0), { code: 'ERR_OUT_OF_RANGE' }, 'empty triggers');
    t.throws(() => n.udpScriptArm(s, b, Uint32Array.of(0) as unknown as Int32Array, 4, 1, 0), { code: 'ERR_INVALID_ARG_TYPE' }, 'an Int32Array plan');
    t.throws(() => n.udpScriptStop(s, new Float64Array(1)), { code: 'ERR_INVALID_ARG_TYPE' }, 'a state of 2');
    const closed = n.udpOpen('127.0.0.1', 0, 0, '', 0, 4, 64, new Collector());
    n.udpClose(closed);
    expectErrno(t, () => n.udpScriptArm(closed, b, Int32Array.of(0), 4, 1, 0), 'EBADF', 'sendmmsg');
    expectErrno(t, () => n.udpScriptStop(closed, new Float64Array(2)), 'EBADF', 'sendmmsg');
    expectErrno(t, () => n.udpScriptResume(closed), 'EBADF', 'sendmmsg');
  });

  t.test('arguments are checked before any syscall', async (t) => {
    const s = open(n, t, '127.0.0.1', new Collector());
    const b = Buffer.alloc(100);
    t.throws(() => n.udpOpen('127.0.0.1', 0, 0, '', 0, 0, 64, new Collector()), { code: 'ERR_OUT_OF_RANGE' }, 'no slots');
    t.throws(() => n.udpOpen('127.0.0.1', 0, 0, '', 0, 1025, 64, new Collector()), { code: 'ERR_OUT_OF_RANGE' }, 'slots over UIO_MAXIOV');
    t.throws(() => n.udpOpen('127.0.0.1', 0, 0, '', 0, 4, 65537, new Collector()), { code: 'ERR_OUT_OF_RANGE' }, 'slot over 64 KiB');
    t.throws(() => n.udpOpen('localhost', 0, 0, '', 0, 4, 64, new Collector()), { code: 'ERR_INVALID_ARG_VALUE' }, 'a literal address only');
    t.throws(() => n.udpOpen('127.0.0.1', 0, 0, '', 0, 4, 64, {} as UdpListener), { code: 'ERR_INVALID_ARG_TYPE' }, 'a listener');
    t.throws(() => n.udpSend(s, b, 90, 11, '127.0.0.1', 9), { code: 'ERR_OUT_OF_RANGE' }, 'past the buffer');
    t.throws(() => n.udpSend(s, b, 0, 65536, '127.0.0.1', 9), { code: 'ERR_OUT_OF_RANGE' }, 'over a datagram');
    t.throws(() => n.udpSendBatch(s, b, Int32Array.of(60, 41), 2, '127.0.0.1', 9), { code: 'ERR_OUT_OF_RANGE' }, 'lengths past the buffer');
    t.throws(() => n.udpSendBatch(s, b, Int32Array.of(-1), 1, '127.0.0.1', 9), { code: 'ERR_OUT_OF_RANGE' }, 'a negative length');
    t.throws(() => n.udpSendBatch(s, b, Int32Array.of(1), 2, '127.0.0.1', 9), { code: 'ERR_OUT_OF_RANGE' }, 'count past lengths');
    t.throws(() => n.udpSendBatch(s, b, Uint32Array.of(1) as unknown as Int32Array, 1, '127.0.0.1', 9), { code: 'ERR_INVALID_ARG_TYPE' }, 'an Int32Array');
    t.throws(() => n.udpSend(s, b, 0, 1, '::1', 9), { code: 'ERR_INVALID_ARG_VALUE' }, 'IPv6 to an IPv4 socket');
    t.throws(() => n.udpSend(s, b, 0, 1, '127.0.0.1', 0), { code: 'ERR_OUT_OF_RANGE' }, 'port 0');
    t.throws(() => n.udpSend({ slab: b } as unknown as UdpSocketHandle, b, 0, 1), { code: 'ERR_INVALID_ARG_TYPE' }, 'not a socket');
    t.throws(() => n.udpClose(3 as unknown as UdpSocketHandle), { code: 'ERR_INVALID_ARG_TYPE' }, 'an fd is not a socket');
    expectErrno(t, () => n.udpSend(s, b, 0, 1), 'EDESTADDRREQ', 'sendmmsg');
  });
}
