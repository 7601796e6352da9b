// Every wrapper with bad input in every argument position: wrong types,
// negative, huge and closed fds, huge lengths, names too long or with NUL
// bytes, closed sockets. Each call must return or throw (a promise must
// settle): nothing may crash the process. The sanitizer test runs this same
// file against an ASan+UBSan build of the addon.
import { createSocket } from 'node:dgram';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { platformSummary, socketFd, type NativeCalls } from '@netboot/platform';
import { requireNative } from './require-native.js';

const n = requireNative(t);
if (n) {
  const dir = mkdtempSync(join(tmpdir(), 'platform-stress-'));
  // Whatever a bad dirfd argument turns into, relative names stay in here.
  process.chdir(dir);
  const dirFd = openSync(dir, 'r');
  const fileFd = openSync(join(dir, 'file'), 'w+');
  t.teardown(() => {
    closeSync(fileFd);
    closeSync(dirFd);
    process.chdir(tmpdir());
    rmSync(dir, { recursive: true, force: true });
  });
  const c = n.constants;
  t.comment(`platform: ${platformSummary()}`);
  // Native UDP sockets: one the calls act on, one to close, and a port nobody listens on.
  let udpErrors = 0;
  const listener = { onBatch: () => {}, onError: () => void udpErrors++ };
  const udp = n.udpOpen('127.0.0.1', 0, 0, '', 0, 4, 64, listener);
  const udpToClose = n.udpOpen('127.0.0.1', 0, 0, '', 0, 4, 64, listener);
  const closedPort = n.udpLocalPort(udpToClose);
  const datagrams = Buffer.alloc(256, 0x61);
  const lengths = Int32Array.of(10, 20, 30, 40);
  t.teardown(() => {
    n.udpClose(udp);
    n.udpClose(udpToClose);
  });

  // Valid calls; the stress replaces one argument at a time.
  const base: Array<[keyof NativeCalls, unknown[]]> = [
    ['openat2', [dirFd, 'a', c.O_RDONLY, 0, c.RESOLVE_BENEATH]],
    ['openBeneathWalk', [dirFd, 'a', c.O_RDONLY, 0, c.RESOLVE_BENEATH]],
    ['fstatat', [dirFd, 'file', 0]],
    ['statxInto', [dirFd, 'file', 0, new BigInt64Array(13)]],
    ['fstat', [fileFd]],
    ['fchownat', [dirFd, 'file', -1, -1, 0]],
    ['fchmod', [fileFd, 0o600]],
    ['fchmodat', [dirFd, 'file', 0o600, 0]],
    ['utimensat', [dirFd, 'file', 1, 2, 3, 4, 0]],
    ['mkdirat', [dirFd, 'd', 0o700]],
    ['mknodat', [dirFd, 'fifo', c.S_IFIFO | 0o600, 0, 0]],
    ['mkfifoat', [dirFd, 'fifo2', 0o600]],
    ['linkat', [dirFd, 'file', dirFd, 'hard', 0]],
    ['symlinkat', ['file', dirFd, 'soft']],
    ['readlinkat', [dirFd, 'soft']],
    ['renameat2', [dirFd, 'hard', dirFd, 'hard2', 0]],
    ['unlinkat', [dirFd, 'hard2', 0]],
    ['readdir', [dirFd, 10]],
    ['readdirNames', [dirFd, 10]],
    ['statxNamesInto', [dirFd, ['file', 'd', 'gone'], 0, 3, new BigInt64Array(3 * 13)]],
    ['ftruncate', [fileFd, 10]],
    ['preadNowait', [fileFd, Buffer.alloc(64), 8, 16, 0]],
    ['pwriteSync', [fileFd, Buffer.alloc(64), 8, 16, 0, c.RWF_DSYNC]],
    ['cachedPages', [fileFd, 0, 4096]],
    ['fadvise', [fileFd, 0, 0, c.POSIX_FADV_WILLNEED]],
    ['lsetxattr', ['file', 'user.s', Buffer.from('v'), 0]],
    ['fsetxattr', [fileFd, 'user.s', Buffer.from('v'), 0]],
    ['lgetxattr', ['file', 'user.s']],
    ['fgetxattr', [fileFd, 'user.s']],
    ['llistxattr', ['file']],
    ['flistxattr', [fileFd]],
    ['syncfs', [fileFd]],
    ['ofdSetLock', [fileFd, c.F_WRLCK, 0n, 1n]],
    ['ofdGetLock', [fileFd, c.F_RDLCK, 0n, 1n]],
    ['ofdSetLockWait', [fileFd, c.F_WRLCK, 0n, 1n]],
    ['bindToDevice', [-1, 'lo']],
    ['receiveBufferForce', [-1, 4096]],
    ['receiveLowWater', [-1, 4096]],
    ['setSendBuffer', [-1, 4096]],
    ['sendBufferSize', [-1]],
    ['sendfile', [-1, fileFd, 0, 10]],
    ['sendNowait', [fileFd, [Buffer.alloc(16)], 1]],
    ['sendFileNowait', [fileFd, [Buffer.alloc(16)], 1, fileFd, 0, 10]],
    ['sendReadNowait', [fileFd, Buffer.alloc(64), 8, fileFd, 0, 16]],
    // A file, not a socket: ENOTSOCK, so no argument the stress leaves valid makes a duplicate.
    ['dupSocket', [fileFd]],
    ['sendfileAll', [-1, fileFd, 0, 10, () => {}]],
    ['icmpEcho', ['127.0.0.1', 50]],
    ['interfaceAddresses', []],
    ['udpOpen', ['127.0.0.1', 0, 0, '', 0, 4, 64, listener]],
    ['udpLocalPort', [udp]],
    ['udpReceiveBuffer', [udp, 65536]],
    ['udpSend', [udp, datagrams, 0, 16, '127.0.0.1', closedPort]],
    ['udpSendBatch', [udp, datagrams, lengths, 4, '127.0.0.1', closedPort]],
    ['udpConnect', [udp, '127.0.0.1', closedPort]],
    ['udpClose', [udpToClose]],
  ];

  const bad: unknown[] = [
    undefined, null, true, -1, -2, -100, -(2 ** 31), 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 64, 1e300, -1e300,
    0.5, -0.5, NaN, Infinity, -Infinity, 900_000, '', '3', 'x'.repeat(255), 'x'.repeat(256), 'x'.repeat(4095),
    'x'.repeat(4096), 'x'.repeat(100_000), 'a\0b', Buffer.alloc(0), Buffer.from('a\0b'), Buffer.alloc(4096, 0x61),
    Buffer.alloc(1 << 20, 0x61), Buffer.from([0xff, 0xfe]), new Uint16Array(4), new Uint8Array(3), new Float64Array(1),
    new ArrayBuffer(8), new DataView(new ArrayBuffer(4)), {}, [], [1, 2], () => 0, Symbol('s'), 0n, 1n, -1n, 2n ** 63n,
    2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n, 2n ** 200n, { valueOf: () => 3 }, new Date(),
  ];

  async function call(name: keyof NativeCalls, args: unknown[]): Promise<void> {
    const fn = n![name] as unknown as (...a: unknown[]) => unknown;
    try {
      const result = fn(...args);
      // A socket a mutated udpOpen still opened is closed again.
      if (name === 'udpOpen' && result !== null && typeof result === 'object') n!.udpClose(result as never);
      if (result instanceof Promise) {
        // A lock the call took is released so the next one can have it.
        await result.catch(() => undefined);
      }
    } catch {
      // Throwing is the expected answer to bad input.
    }
  }

  t.test('one bad argument at a time, in every position of every wrapper', async (t) => {
    let calls = 0;
    for (const [name, args] of base) {
      await call(name, []);
      await call(name, args.slice(0, 1));
      for (let position = 0; position < args.length; position++) {
        for (const value of bad) {
          const mutated = args.slice();
          mutated[position] = value;
          await call(name, mutated);
          calls++;
        }
      }
      await call(name, [...args, 'extra', 1, 2]);
      n.ofdSetLock(fileFd, c.F_UNLCK, 0n, 0n);
    }
    t.ok(calls > 1000, `${calls} calls, all returned or threw`);
  });

  t.test('closed fds and closed sockets', async (t) => {
    // Each fd is closed just before the call, with nothing in between that
    // could reuse its number, so no call lands on someone else's file.
    const fdCalls: Array<[keyof NativeCalls, (fd: number) => unknown[]]> = [
      ['openat2', (fd) => [fd, 'a', 0, 0, 0]],
      ['fstatat', (fd) => [fd, 'a', 0]],
      ['statxInto', (fd) => [fd, 'a', 0, new BigInt64Array(13)]],
      ['fstat', (fd) => [fd]],
      ['fchownat', (fd) => [fd, '', -1, -1, c.AT_EMPTY_PATH]],
      ['fchmod', (fd) => [fd, 0o600]],
      ['utimensat', (fd) => [fd, '', 0, c.UTIME_OMIT, 0, c.UTIME_OMIT, c.AT_EMPTY_PATH]],
      ['readdir', (fd) => [fd, 100]],
      ['ftruncate', (fd) => [fd, 0]],
      ['preadNowait', (fd) => [fd, Buffer.alloc(16), 0, 16, 0]],
      ['pwriteSync', (fd) => [fd, Buffer.alloc(16), 0, 16, 0, c.RWF_SYNC]],
      ['cachedPages', (fd) => [fd, 0, 4096]],
      ['fadvise', (fd) => [fd, 0, 0, c.POSIX_FADV_DONTNEED]],
      ['fsetxattr', (fd) => [fd, 'user.s', Buffer.from('v'), 0]],
      ['fgetxattr', (fd) => [fd, 'user.s']],
      ['flistxattr', (fd) => [fd]],
      ['syncfs', (fd) => [fd]],
      ['ofdSetLock', (fd) => [fd, c.F_WRLCK, 0n, 0n]],
      ['ofdGetLock', (fd) => [fd, c.F_WRLCK, 0n, 0n]],
      ['ofdSetLockWait', (fd) => [fd, c.F_WRLCK, 0n, 0n]],
      ['bindToDevice', (fd) => [fd, 'lo']],
      ['receiveBufferForce', (fd) => [fd, 4096]],
      ['receiveLowWater', (fd) => [fd, 4096]],
      ['setSendBuffer', (fd) => [fd, 4096]],
      ['sendBufferSize', (fd) => [fd]],
      ['sendfile', (fd) => [fd, fileFd, 0, 10]],
      ['sendfile', (fd) => [fileFd, fd, 0, 10]],
      ['sendNowait', (fd) => [fd, [Buffer.alloc(16)], 1]],
      ['sendFileNowait', (fd) => [fd, [Buffer.alloc(16)], 1, fileFd, 0, 10]],
      ['sendReadNowait', (fd) => [fd, Buffer.alloc(64), 8, fileFd, 0, 16]],
      ['sendReadNowait', (fd) => [-1, Buffer.alloc(64), 8, fd, 0, 16]],
      ['dupSocket', (fd) => [fd]],
      ['sendfileAll', (fd) => [fd, fileFd, 0, 10, () => {}]],
    ];
    for (const [name, args] of fdCalls) {
      const fd = openSync(join(dir, 'closing'), 'w+');
      closeSync(fd);
      await t.resolves(call(name, args(fd)), `${name} on a closed fd`);
      const socket = createSocket('udp4');
      socket.bind(0, '127.0.0.1');
      await once(socket, 'listening');
      const sfd = socketFd(socket);
      await new Promise<void>((resolve) => socket.close(() => resolve()));
      await t.resolves(call(name, args(sfd)), `${name} on a closed socket`);
    }
  });

  t.test('native UDP sockets: closed, huge counts, closed ports, many at once', async (t) => {
    const closed = n.udpOpen('127.0.0.1', 0, 0, '', 0, 4, 64, listener);
    n.udpClose(closed);
    for (const [name, args] of [
      ['udpLocalPort', [closed]],
      ['udpReceiveBuffer', [closed, 65536]],
      ['udpSend', [closed, datagrams, 0, 16, '127.0.0.1', closedPort]],
      ['udpSendBatch', [closed, datagrams, lengths, 4, '127.0.0.1', closedPort]],
      ['udpConnect', [closed, '127.0.0.1', closedPort]],
      ['udpClose', [closed]],
    ] as Array<[keyof NativeCalls, unknown[]]>) {
      await t.resolves(call(name, args), `${name} on a closed socket`);
    }
    // Counts and lengths at and past every limit; many datagrams to a closed port.
    const many = new Int32Array(70_000);
    for (const count of [0, 1, 65_535, 65_536, 65_537, 70_000, 2 ** 31, -1]) {
      await call('udpSendBatch', [udp, datagrams, many, count, '127.0.0.1', closedPort]);
    }
    for (const length of [0, 256, 257, 65_535, 65_536, 2 ** 31 - 1]) {
      await call('udpSend', [udp, datagrams, 0, length, '127.0.0.1', closedPort]);
      await call('udpSendBatch', [udp, datagrams, Int32Array.of(length, length), 2, '127.0.0.1', closedPort]);
    }
    await call('udpSend', [udp, datagrams, 255, 2, '127.0.0.1', closedPort]);
    await call('udpSendBatch', [udp, datagrams, Int32Array.of(2 ** 31 - 1, 2 ** 31 - 1, 2), 3, '127.0.0.1', closedPort]);
    // A connected socket whose peer is gone: ECONNREFUSED thrown or reported, never a crash.
    const lonely = n.udpOpen('127.0.0.1', 0, 0, '', 0, 1, 16, listener);
    n.udpConnect(lonely, '127.0.0.1', closedPort);
    for (let i = 0; i < 200; i++) {
      await call('udpSendBatch', [lonely, datagrams, lengths, 4]);
      if (i % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    n.udpClose(lonely);
    // Sockets opened and closed in numbers, some with a datagram on the way in.
    for (let i = 0; i < 500; i++) {
      const s = n.udpOpen(i % 2 ? '::1' : '127.0.0.1', 0, c.UDP_REUSEADDR, '', 1 << 16, 1 + (i % 64), 1 + i * 97, listener);
      if (i % 3 === 0) n.udpSend(s, datagrams, 0, 8, i % 2 ? '::1' : '127.0.0.1', n.udpLocalPort(s));
      n.udpClose(s);
    }
    t.pass(`returned or threw throughout (${udpErrors} socket errors reported)`);
  });

  t.test('many lock waits and echoes at once all settle', async (t) => {
    const waits: Array<Promise<unknown>> = [];
    for (let i = 0; i < 64; i++) {
      waits.push(n.ofdSetLockWait(fileFd, c.F_RDLCK, BigInt(i), 1n));
      waits.push(n.icmpEcho('127.0.0.1', 100).catch(() => false));
    }
    await Promise.all(waits);
    n.ofdSetLock(fileFd, c.F_UNLCK, 0n, 0n);
    t.pass('settled');
  });
}
