import { createSocket } from 'node:dgram';
import { closeSync, fsyncSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, Socket as NetSocket, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import t, { type Test } from 'tap';
import { readInto, socketFd } from '@netboot/platform';
import { expectErrno, requireNative } from './require-native.js';
import { evictableDir } from '../../../test/support/evictable-dir.js';

const n = requireNative(t);

/** `server` listening on a loopback port and a client connected to it, both closed when `t` ends. */
async function clientOf(t: Test, server: Server): Promise<Socket> {
  t.teardown(() => server.close());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = connect((server.address() as { port: number }).port, '127.0.0.1');
  t.teardown(() => client.destroy());
  await once(client, 'connect');
  return client;
}

/**
 * A client connected to a server whose side does not read until told, so the client's sends fill the
 * socket: its descriptor, the server's side once accepted, and `drain`, which then reads until `sent`
 * bytes came and gives how many did and the first `keep` of them.
 */
async function pausedPeer(t: Test) {
  let accepted: Socket | undefined;
  const server = createServer((s) => {
    accepted = s;
    s.pause();
  });
  const client = await clientOf(t, server);
  const peer = async (): Promise<Socket> => {
    while (!accepted) await once(server, 'connection');
    return accepted;
  };
  const drain = async (sent: number, keep: number) => {
    const s = await peer();
    const chunks: Buffer[] = [];
    let got = 0;
    s.on('data', (chunk: Buffer) => {
      if (got < keep) chunks.push(chunk);
      got += chunk.length;
    });
    s.resume();
    while (got < sent) await once(s, 'data');
    return { got, head: Buffer.concat(chunks).subarray(0, keep) };
  };
  return { fd: socketFd(client), peer, drain };
}

if (n) {
  t.test('bindToDevice on a bound dgram socket', async (t) => {
    const socket = createSocket('udp4');
    t.teardown(() => socket.close());
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    const fd = socketFd(socket);
    n.bindToDevice(fd, 'lo');
    // Bound to lo, it still hears loopback.
    const sender = createSocket('udp4');
    t.teardown(() => sender.close());
    const got = once(socket, 'message');
    sender.send('ping', socket.address().port, '127.0.0.1');
    t.equal(String((await got)[0]), 'ping');
    expectErrno(t, () => n.bindToDevice(fd, 'no-such-if0'), 'ENODEV', 'setsockopt');
    t.throws(() => n.bindToDevice(fd, 'x'.repeat(16)), { code: 'ERR_OUT_OF_RANGE' }, 'longer than IFNAMSIZ');
    const file = openSync('/dev/null', 'r');
    expectErrno(t, () => n.bindToDevice(file, 'lo'), 'ENOTSOCK', 'setsockopt');
    closeSync(file);
  });

  t.test('receiveBufferForce past net.core.rmem_max', async (t) => {
    const socket = createSocket('udp4');
    t.teardown(() => socket.close());
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    const fd = socketFd(socket);
    const max = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
    const want = max + (1 << 20);
    const set = n.receiveBufferForce(fd, want);
    if (process.getuid?.() === 0) {
      t.equal(set, true, 'root (CAP_NET_ADMIN) may pass the cap');
      // The kernel reports twice what was asked (its bookkeeping share).
      t.equal(socket.getRecvBufferSize(), 2 * want, 'the buffer is past rmem_max');
    } else t.equal(set, false, 'without CAP_NET_ADMIN: false, the buffer as it was');
    t.throws(() => n.receiveBufferForce(fd, 0), { code: 'ERR_OUT_OF_RANGE' }, 'zero bytes');
    t.throws(() => n.receiveBufferForce(fd, 2 ** 30), { code: 'ERR_OUT_OF_RANGE' }, 'past INT_MAX / 2');
    const file = openSync('/dev/null', 'r');
    expectErrno(t, () => n.receiveBufferForce(file, 4096), 'ENOTSOCK', 'setsockopt');
    closeSync(file);
  });

  t.test('receiveLowWater: a TCP socket polls readable once it holds that many bytes', async (t) => {
    let accepted: Socket | undefined;
    const server = createServer((s) => (accepted = s));
    const client = await clientOf(t, server);
    while (!accepted) await once(server, 'connection');
    const reader = accepted;
    n.receiveLowWater(socketFd(reader), 1000);
    const chunks: number[] = [];
    reader.on('data', (chunk: Buffer) => chunks.push(chunk.length));
    await new Promise((r) => client.write(Buffer.alloc(500, 1), r));
    // Two turns of the loop, each polling the socket, which holds 500 bytes by now: under the mark, no read.
    for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
    t.same(chunks, [], 'nothing read below the mark');
    client.write(Buffer.alloc(500, 2));
    await once(reader, 'data');
    t.same(chunks, [1000], 'the 1000 bytes read at once');
    n.receiveLowWater(socketFd(reader), 1);
    client.write(Buffer.alloc(1, 3));
    await once(reader, 'data');
    t.same(chunks, [1000, 1], 'back at 1, any byte is read');
    t.throws(() => n.receiveLowWater(socketFd(reader), 0), { code: 'ERR_OUT_OF_RANGE' }, 'zero bytes');
    t.throws(() => n.receiveLowWater(socketFd(reader), 2 ** 31), { code: 'ERR_OUT_OF_RANGE' }, 'past INT_MAX');
    const file = openSync('/dev/null', 'r');
    expectErrno(t, () => n.receiveLowWater(file, 4096), 'ENOTSOCK', 'setsockopt');
    closeSync(file);
  });

  t.test("setSendBuffer: a fixed send buffer, which a listener's connections inherit", async (t) => {
    // Under net.core.wmem_max, which caps it (208 KiB by default), so the kernel takes all of it.
    const want = Math.min(64 * 1024, Math.floor(Number(readFileSync('/proc/sys/net/core/wmem_max', 'utf8')) / 2));
    let accepted: Socket | undefined;
    const server = createServer((s) => (accepted = s));
    t.teardown(() => server.close());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    // The kernel reports twice what it took (its bookkeeping share).
    t.equal(n.setSendBuffer(socketFd(server), want), 2 * want, 'the size the kernel reports');
    t.equal(n.sendBufferSize(socketFd(server)), 2 * want);
    const client = connect((server.address() as { port: number }).port, '127.0.0.1');
    t.teardown(() => client.destroy());
    await once(client, 'connect');
    while (!accepted) await once(server, 'connection');
    const peer = accepted;
    t.teardown(() => peer.destroy());
    t.equal(n.sendBufferSize(socketFd(peer)), 2 * want, "an accepted connection has the listener's");
    t.equal(n.setSendBuffer(socketFd(client), want / 2), want, "a connected socket's is set too");
    t.throws(() => n.setSendBuffer(socketFd(client), 0), { code: 'ERR_OUT_OF_RANGE' }, 'zero bytes');
    t.throws(() => n.setSendBuffer(socketFd(client), 2 ** 30), { code: 'ERR_OUT_OF_RANGE' }, 'past INT_MAX / 2');
    const file = openSync('/dev/null', 'r');
    expectErrno(t, () => n.setSendBuffer(file, 4096), 'ENOTSOCK', 'setsockopt');
    expectErrno(t, () => n.sendBufferSize(file), 'ENOTSOCK', 'getsockopt');
    closeSync(file);
  });

  t.test('sendfile to a non-blocking socket', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'platform-sendfile-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const body = Buffer.alloc(4 << 20, 'abcdefgh');
    writeFileSync(join(dir, 'body'), body);
    const inFd = openSync(join(dir, 'body'), 'r');
    t.teardown(() => closeSync(inFd));
    const { fd: outFd, drain } = await pausedPeer(t);
    // Nobody reads yet: the socket fills, and sendfile says EAGAIN instead of blocking the loop.
    let offset = 0;
    let sawAgain = false;
    for (let calls = 0; calls < 10_000 && offset < body.length; calls++) {
      try {
        offset += n.sendfile(outFd, inFd, offset, body.length - offset);
      } catch (error) {
        t.equal((error as NodeJS.ErrnoException).code, 'EAGAIN');
        t.equal((error as NodeJS.ErrnoException).syscall, 'sendfile');
        sawAgain = true;
        break;
      }
    }
    t.ok(sawAgain, 'a full socket is EAGAIN, not a wait');
    t.ok(offset > 0, 'some bytes went');
    const { got, head } = await drain(offset, 8);
    t.ok(got <= offset);
    t.same(head, body.subarray(0, 8), 'the file bytes arrive');
    expectErrno(t, () => n.sendfile(outFd, 1 << 28, 0, 10), 'EBADF', 'sendfile');
    t.throws(() => n.sendfile(outFd, inFd, -1, 10), { code: 'ERR_OUT_OF_RANGE' });
    t.throws(() => n.sendfile(outFd, inFd, 0, 2 ** 31), { code: 'ERR_OUT_OF_RANGE' });
  });

  t.test('sendNowait: buffers in order in one call, -1 once the socket is full, errors thrown', async (t) => {
    const { fd, peer, drain } = await pausedPeer(t);
    const parts = [Buffer.from('one '), new Uint8Array(Buffer.from('two ')), Buffer.from('three four').subarray(0, 6)];
    t.equal(n.sendNowait(fd, parts, 3), 14, 'every byte of the three');
    t.equal(n.sendNowait(fd, parts, 0), 0, 'none offered');
    // Nobody reads: the socket fills and the call says -1 rather than waiting.
    const big = Buffer.alloc(1 << 20, 0x61);
    let sent = 14;
    let full = false;
    for (let calls = 0; calls < 10_000; calls++) {
      const k = n.sendNowait(fd, [big], 1);
      if (k < 0) {
        full = true;
        break;
      }
      t.ok(k > 0 && k <= big.length, 'a part or all of it');
      sent += k;
    }
    t.ok(full, 'a full socket is -1, not a wait');
    const { got, head } = await drain(sent, 14);
    t.equal(got, sent, 'every byte taken arrives');
    t.equal(String(head), 'one two three ', 'in order, views cut where they say');
    t.throws(() => n.sendNowait(fd, [big, 'x' as unknown as Uint8Array], 2), { code: 'ERR_INVALID_ARG_TYPE' }, 'a string among them');
    t.throws(() => n.sendNowait(fd, big as unknown as Uint8Array[], 1), { code: 'ERR_INVALID_ARG_TYPE' }, 'not an array');
    t.throws(() => n.sendNowait(fd, [big], 2), { code: 'ERR_OUT_OF_RANGE' }, 'more than the array holds');
    t.throws(() => n.sendNowait(fd, new Array(65).fill(parts[0]), 65), { code: 'ERR_OUT_OF_RANGE' }, 'more than 64');
    const file = openSync('/dev/null', 'r');
    expectErrno(t, () => n.sendNowait(file, parts, 1), 'ENOTSOCK', 'sendmsg');
    closeSync(file);
    const serverSide = await peer();
    serverSide.destroy();
    await once(serverSide, 'close');
    // The peer is gone: a send fails (EPIPE or ECONNRESET) instead of raising SIGPIPE.
    let failed: string | undefined;
    for (let calls = 0; calls < 100 && !failed; calls++) {
      try {
        n.sendNowait(fd, parts, 1);
      } catch (e) {
        failed = (e as NodeJS.ErrnoException).code;
      }
    }
    t.ok(failed === 'EPIPE' || failed === 'ECONNRESET', `the closed peer is ${failed}`);
  });

  t.test('sendFileNowait: buffers then the file range in order, short where the file ends, -1 once the socket is full', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'sendfile-nowait-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const bytes = Buffer.alloc(300_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31) % 253;
    writeFileSync(join(dir, 'f'), bytes);
    const file = openSync(join(dir, 'f'), 'r');
    t.teardown(() => closeSync(file));
    const { fd, drain } = await pausedPeer(t);
    const head = [Buffer.from('head '), Buffer.from('of it ')];
    t.equal(n.sendFileNowait(fd, head, 2, file, 1000, 5000), 11 + 5000, 'the buffers and the range');
    t.equal(n.sendFileNowait(fd, head, 0, file, 299_000, 4000), 1000, 'short: the file ends first');
    t.equal(n.sendFileNowait(fd, head, 1, file, 0, 0), 5, 'the buffers alone');
    const expected = Buffer.concat([head[0]!, head[1]!, bytes.subarray(1000, 6000), bytes.subarray(299_000), head[0]!]);
    // Nobody reads: the socket fills and the call says -1 rather than waiting.
    let sent = expected.length;
    let full = false;
    for (let calls = 0; calls < 10_000; calls++) {
      const k = n.sendFileNowait(fd, [], 0, file, 0, bytes.length);
      if (k < 0) {
        full = true;
        break;
      }
      sent += k;
    }
    t.ok(full, 'a full socket is -1, not a wait');
    const { got, head: arrived } = await drain(sent, expected.length);
    t.equal(got, sent, 'every byte taken arrives');
    t.ok(arrived.equals(expected), 'in order: buffers, then the file bytes');
    t.throws(() => n.sendFileNowait(fd, head, 3, file, 0, 1), { code: 'ERR_OUT_OF_RANGE' }, 'more buffers than the array holds');
    t.throws(() => n.sendFileNowait(fd, head, 2, file, -1, 1), { code: 'ERR_OUT_OF_RANGE' }, 'a negative position');
    t.throws(() => n.sendFileNowait(fd, head, 2, file, 0, 2 ** 31), { code: 'ERR_OUT_OF_RANGE' }, 'a length past what sendfile takes');
    const devnull = openSync('/dev/null', 'r');
    expectErrno(t, () => n.sendFileNowait(devnull, head, 1, file, 0, 1), 'ENOTSOCK', 'sendmsg');
    closeSync(devnull);
  });

  t.test('sendReadNowait: a head and a cached file range in one send; -1 for a range not read, -2 once full', async (t) => {
    const { fd: sock, drain } = await pausedPeer(t);
    const dir = mkdtempSync(join(tmpdir(), 'platform-send-read-'));
    const content = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');
    writeFileSync(join(dir, 'f'), content);
    const file = openSync(join(dir, 'f'), 'r');
    t.teardown(() => {
      closeSync(file);
      rmSync(dir, { recursive: true, force: true });
    });
    const buf = Buffer.alloc(64, 0x2e);
    buf.write('HEAD:');
    t.equal(n.sendReadNowait(sock, buf, 5, file, 10, 20), 25, 'the head and 20 bytes of the file');
    t.equal(n.sendReadNowait(sock, buf, 5, file, 0n, 0), 5, 'the head alone');
    t.equal(n.sendReadNowait(sock, buf, 0, file, 30, 6), 6, 'the file alone, to its last byte');
    t.equal(n.sendReadNowait(sock, buf, 5, file, 30, 7), -1, 'a range past the end of the file: nothing sent');
    t.equal(n.sendReadNowait(sock, buf, 0, file, 0, 0), 0, 'nothing offered');
    t.throws(() => n.sendReadNowait(sock, buf, 65, file, 0, 0), { code: 'ERR_OUT_OF_RANGE' }, 'a head longer than the buffer');
    t.throws(() => n.sendReadNowait(sock, buf, 5, file, 0, 60), { code: 'ERR_OUT_OF_RANGE' }, 'a body past the end of the buffer');
    t.throws(() => n.sendReadNowait(sock, buf, 0, file, -1, 1), { code: 'ERR_OUT_OF_RANGE' }, 'a negative position');
    t.throws(() => n.sendReadNowait(sock, 'x' as unknown as Buffer, 0, file, 0, 1), { code: 'ERR_INVALID_ARG_TYPE' }, 'not a buffer');
    expectErrno(t, () => n.sendReadNowait(sock, buf, 0, 1 << 28, 0, 1), 'EBADF', 'preadv2');
    const dev = openSync('/dev/null', 'r');
    expectErrno(t, () => n.sendReadNowait(dev, buf, 0, file, 0, 1), 'ENOTSOCK', 'sendmsg');
    closeSync(dev);

    // A file whose pages the page cache let go of: nothing is read or sent.
    const disk = evictableDir('platform-send-read-cold-');
    writeFileSync(join(disk, 'cold'), Buffer.alloc(1 << 20, 0x63));
    const cold = openSync(join(disk, 'cold'), 'r');
    t.teardown(() => {
      closeSync(cold);
      rmSync(disk, { recursive: true, force: true });
    });
    fsyncSync(cold); // DONTNEED lets go of clean pages only
    n.fadvise(cold, 0, 0, n.constants.POSIX_FADV_DONTNEED);
    t.same(n.cachedPages(cold, 0, 1 << 20).cached, 0, 'the file is not in the page cache');
    t.equal(n.sendReadNowait(sock, buf, 5, cold, 4096, 32), -1, 'an uncached range: nothing sent');

    // Nobody reads: the socket fills and the call says -2, its buffer holding head and body.
    const big = Buffer.alloc(1 << 20, 0x61);
    let sent = 36;
    let full = false;
    for (let calls = 0; calls < 10_000; calls++) {
      const k = n.sendReadNowait(sock, big, big.length - 16, file, 0, 16);
      if (k === -2) {
        full = true;
        break;
      }
      t.ok(k > 0 && k <= big.length, 'a part or all of it');
      sent += k;
    }
    t.ok(full, 'a full socket is -2, not a wait');
    t.equal(big.toString('latin1', big.length - 16), content.toString('latin1', 0, 16), 'the body read into place');
    const { got, head } = await drain(sent, 36);
    t.equal(got, sent, 'every byte taken arrives');
    t.equal(head.toString('latin1'), `HEAD:abcdefghijklmnopqrstHEAD:uvwxyz`, 'in order, each body behind its head');
  });

  t.test('dupSocket: the connection lives on under the duplicate after the original handle closes', async (t) => {
    const server = createServer({ pauseOnConnect: true }, (accepted) => {
      const fd = n.dupSocket(socketFd(accepted));
      accepted.destroy();
      const adopted = new NetSocket({ fd, readable: true, writable: true });
      adopted.on('data', (d: Buffer) => adopted.write(`echo ${d}`));
    });
    const client = await clientOf(t, server);
    client.write('hello');
    t.equal(String((await once(client, 'data'))[0]), 'echo hello', 'served through the duplicate');
    const file = openSync('/dev/null', 'r');
    expectErrno(t, () => n.dupSocket(file), 'ENOTSOCK', 'fcntl');
    closeSync(file);
    expectErrno(t, () => n.dupSocket(file), 'EBADF', 'fstat');
  });

  t.test('readInto: an accepted socket reads into the given buffer; a false return stops it until resume()', async (t) => {
    const shared = Buffer.alloc(64);
    const seen: string[] = [];
    let accepted: Socket | undefined;
    let installed: boolean | undefined;
    let refused: boolean | undefined;
    const server = createServer({ pauseOnConnect: true }, (s) => {
      accepted = s;
      installed = readInto(s, shared, (count, into) => {
        t.equal(into, shared, 'the bytes are in the buffer given');
        seen.push(into.toString('latin1', 0, count));
        s.write(`got ${count}`);
        // The first read stops reading.
        return seen.length > 1;
      });
      // A second call once reading may have started: refused, nothing changed.
      s.resume();
      refused = readInto(s, Buffer.alloc(8), () => true);
    });
    const client = await clientOf(t, server);
    client.write('hello');
    t.equal(String((await once(client, 'data'))[0]), 'got 5');
    t.equal(installed, true);
    t.equal(refused, false, 'a socket already reading is left as it is');
    client.write('again');
    const next = once(client, 'data');
    accepted!.resume();
    t.equal(String((await next)[0]), 'got 5');
    t.same(seen, ['hello', 'again']);
  });

  t.test('icmpEcho: loopback answers, a silent address does not', async (t) => {
    t.equal(await n.icmpEcho('127.0.0.1', 2000), true, '127.0.0.1 answers');
    // 198.18.0.0/15 is for benchmarks: nothing routes it here, so nobody answers within the timeout.
    t.equal(await n.icmpEcho('198.18.254.254', 200), false);
    t.throws(() => n.icmpEcho('not-an-address', 100), { code: 'ERR_INVALID_ARG_VALUE' });
    t.throws(() => n.icmpEcho('127.0.0.1', 0), { code: 'ERR_OUT_OF_RANGE' });
    t.throws(() => n.icmpEcho('127.0.0.1', 600_000), { code: 'ERR_OUT_OF_RANGE' });
  });
}

if (n) {
  t.test('interfaceAddresses lists loopback with its address', async (t) => {
    const table = n.interfaceAddresses();
    t.match(table.lo, [{ address: '127.0.0.1', netmask: '255.0.0.0', up: true }]);
    for (const addresses of Object.values(table)) t.ok(Array.isArray(addresses));
  });
}
