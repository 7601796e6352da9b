import t, { type Test } from 'tap';
import { createSocket } from 'node:dgram';
import { mkdtemp, mkdir, writeFile, symlink, readFile, rm, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  encode,
  ErrorCode,
  Opcode,
  parseRemap,
  tftpGet,
  tftpPut,
  TftpClientError,
  TftpServer,
  type TftpServerOptions,
} from '@netboot/tftp-wire';
import { requireThat } from '../../../test/support/programs.js';
import { until } from '../../../test/support/until.js';
import { rawClient } from './raw-client.js';

async function setup(t: Test, opts: Partial<TftpServerOptions> = {}) {
  const base = await mkdtemp(join(tmpdir(), 'tftp-srv-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  const root = join(base, 'root');
  await mkdir(join(root, 'pxelinux.cfg'), { recursive: true });
  await writeFile(join(base, 'secret'), 'outside the root');
  await writeFile(join(root, 'hello'), 'hello world\n');
  await writeFile(join(root, 'pxelinux.cfg', 'default'), 'DEFAULT linux\n');
  await symlink(join(base, 'secret'), join(root, 'escape'));
  await symlink(base, join(root, 'updir'));
  await symlink('hello', join(root, 'inner-link'));
  const logs: string[] = [];
  const server = new TftpServer({ root, address: '127.0.0.1', port: 0, log: (l, m) => logs.push(`${l}: ${m}`), ...opts });
  const { port } = await server.listen();
  t.teardown(() => server.close());
  return { base, root, server, port, logs };
}


async function clientError(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
  } catch (err) {
    if (err instanceof TftpClientError) return err.code;
    throw err;
  }
  return undefined;
}

t.test('path escapes are refused with ERROR 2 and logged', async (t) => {
  const { port, logs } = await setup(t);
  const get = (name: string) => clientError(tftpGet(name, { host: '127.0.0.1', port }));
  for (const name of ['../etc/passwd', '/etc/passwd', '//etc/passwd', 'pxelinux.cfg/../../secret', 'escape', 'updir/secret', '/../secret']) {
    t.equal(await get(name), ErrorCode.ACCESS_VIOLATION, name);
  }
  t.ok(logs.some((l) => l.startsWith('warning:') && l.includes('filename ../etc/passwd') && l.includes('Access violation')));
  t.equal(await get('missing'), ErrorCode.FILE_NOT_FOUND, 'a missing file inside the root is ERROR 1');
  t.equal(await get('pxelinux.cfg'), ErrorCode.FILE_NOT_FOUND, 'a directory is not served');
});

t.test('names inside the root: leading slash stripped, absolute root path accepted, inner symlink followed', async (t) => {
  const { port, root, logs } = await setup(t);
  for (const name of ['hello', '/hello', '//hello', join(root, 'hello'), 'inner-link', './hello']) {
    const r = await tftpGet(name, { host: '127.0.0.1', port });
    t.equal(r.data!.toString(), 'hello world\n', name);
  }
  t.ok(logs.includes('info: RRQ from 127.0.0.1 filename hello'));
  // The server logs the end when the last ACK arrives, a moment after the client is done.
  await until(() => logs.some((l) => /^info: RRQ from 127\.0\.0\.1 filename hello: sent, 12 bytes in \d+\.\d{3} s$/.test(l)), 'end line');
  t.pass('end line');
});

t.test('remap rules rewrite names and log "remapped to"; an "a" rule refuses', async (t) => {
  const remap = parseRemap('rg \\\\ /\nri ^HELLO$ hello\na ^private/\n', 'test.map');
  const { port, logs } = await setup(t, { remap });
  const r = await tftpGet('pxelinux.cfg\\default', { host: '127.0.0.1', port });
  t.equal(r.data!.toString(), 'DEFAULT linux\n');
  t.ok(logs.includes('info: RRQ from 127.0.0.1 filename pxelinux.cfg\\default remapped to pxelinux.cfg/default'));
  t.equal((await tftpGet('HeLLo', { host: '127.0.0.1', port })).data!.toString(), 'hello world\n');
  t.equal(await clientError(tftpGet('private/x', { host: '127.0.0.1', port })), ErrorCode.ACCESS_VIOLATION);
});

t.test('uploads are refused unless create is on; then new files are stored, existing ones kept', async (t) => {
  const off = await setup(t);
  t.equal(await clientError(tftpPut('new', Buffer.from('x'), { host: '127.0.0.1', port: off.port })), ErrorCode.ACCESS_VIOLATION);
  const on = await setup(t, { create: true });
  const data = Buffer.alloc(5000, 7);
  await tftpPut('new', data, { host: '127.0.0.1', port: on.port, blksize: 1000, windowsize: 3, tsize: true });
  t.same(await readFile(join(on.root, 'new')), data);
  t.equal(await clientError(tftpPut('hello', data, { host: '127.0.0.1', port: on.port })), ErrorCode.ACCESS_VIOLATION, 'no overwrite');
  t.equal((await readFile(join(on.root, 'hello'))).toString(), 'hello world\n');
  await chmod(join(on.root, 'hello'), 0o666);
  await tftpPut('hello', data, { host: '127.0.0.1', port: on.port });
  t.same(await readFile(join(on.root, 'hello')), data, 'a world-writable file may be replaced (as tftp-hpa)');
  t.equal(await clientError(tftpPut('../up', data, { host: '127.0.0.1', port: on.port })), ErrorCode.ACCESS_VIOLATION);
  await tftpPut('text', Buffer.from('a\nb\rc\n'), { host: '127.0.0.1', port: on.port, mode: 'netascii' });
  t.equal((await readFile(join(on.root, 'text'))).toString(), 'a\nb\rc\n', 'netascii upload converted back');
  const back = await tftpGet('text', { host: '127.0.0.1', port: on.port, mode: 'netascii' });
  t.equal(back.data!.toString(), 'a\nb\rc\n', 'netascii download');
});

t.test('options: OACK only with what was asked; blksize clamped; plain RRQ gets DATA 1', async (t) => {
  const { port, root } = await setup(t, { blksizeMax: 1468 });
  await writeFile(join(root, 'f'), Buffer.alloc(3000, 1));
  const raw = await rawClient(t, { skipRepeats: true });
  raw.s.send(encode({ op: Opcode.RRQ, filename: 'f', mode: 'octet', options: [] }), port, '127.0.0.1');
  const first = await raw.next();
  t.match(first.p, { op: Opcode.DATA, block: 1 }, 'no options: DATA 1 directly');
  t.equal((first.p as { data: Buffer }).data.length, 512);
  raw.s.send(encode({ op: Opcode.ERROR, code: 0, message: 'done' }), first.port, '127.0.0.1');
  raw.s.send(
    encode({
      op: Opcode.RRQ,
      filename: 'f',
      mode: 'OCTET',
      options: [
        { name: 'tsize', value: 'enable' },
        { name: 'BLKSIZE', value: '70000' },
        { name: 'multicast', value: '' },
        { name: 'timeout', value: '0' },
      ],
    }),
    port,
    '127.0.0.1',
  );
  const oack = await raw.next();
  t.same(oack.p, { op: Opcode.OACK, options: [{ name: 'tsize', value: '3000' }, { name: 'BLKSIZE', value: '1468' }] });
  raw.s.send(encode({ op: Opcode.ERROR, code: 8, message: 'tsize probe' }), oack.port, '127.0.0.1');
});

t.test('a packet from a wrong TID gets ERROR 5 and the transfer goes on', async (t) => {
  const { port, root, logs } = await setup(t);
  await writeFile(join(root, 'f'), Buffer.alloc(2000, 3));
  const a = await rawClient(t, { skipRepeats: true });
  const b = await rawClient(t, { skipRepeats: true });
  a.s.send(encode({ op: Opcode.RRQ, filename: 'f', mode: 'octet', options: [] }), port, '127.0.0.1');
  const d1 = await a.next();
  t.match(d1.p, { op: Opcode.DATA, block: 1 });
  b.s.send(encode({ op: Opcode.ACK, block: 1 }), d1.port, '127.0.0.1');
  t.match((await b.next()).p, { op: Opcode.ERROR, code: ErrorCode.UNKNOWN_TID });
  const stray = new RegExp(`packet from 127\\.0\\.0\\.1:${b.s.address().port} on the transfer with 127\\.0\\.0\\.1:${a.s.address().port}: answered ERROR 5`);
  await until(() => logs.some((l) => stray.test(l)), 'the transfer logs the stray');
  t.pass('the transfer logs the stray');
  a.s.send(encode({ op: Opcode.ACK, block: 1 }), d1.port, '127.0.0.1');
  const d2 = await a.next();
  t.match(d2.p, { op: Opcode.DATA, block: 2 });
  t.equal(d2.port, d1.port, 'same TID');
  a.s.send(encode({ op: Opcode.ERROR, code: 0, message: 'enough' }), d1.port, '127.0.0.1');
});

t.test('over the transfer cap a request gets an ERROR, not silence; malformed requests get ERROR 4', async (t) => {
  const { port, root, server } = await setup(t, { maxTransfers: 1 });
  await writeFile(join(root, 'f'), Buffer.alloc(2000, 3));
  const a = await rawClient(t, { skipRepeats: true });
  a.s.send(encode({ op: Opcode.RRQ, filename: 'f', mode: 'octet', options: [] }), port, '127.0.0.1');
  const d1 = await a.next();
  t.equal(server.transfers, 1);
  const b = await rawClient(t, { skipRepeats: true });
  b.s.send(encode({ op: Opcode.RRQ, filename: 'f', mode: 'octet', options: [] }), port, '127.0.0.1');
  t.match((await b.next()).p, { op: Opcode.ERROR, code: ErrorCode.NOT_DEFINED, message: /busy/ });
  a.s.send(encode({ op: Opcode.ERROR, code: 0, message: 'stop' }), d1.port, '127.0.0.1');
  // The transfer ran on a worker thread, which reports its end a moment later.
  await until(() => server.transfers === 0, 'the stopped transfer is gone');
  t.pass('the stopped transfer is gone');
  b.s.send(Buffer.from([0, 1, 0x66]), port, '127.0.0.1');
  t.match((await b.next()).p, { op: Opcode.ERROR, code: ErrorCode.ILLEGAL_OPERATION });
  b.s.send(encode({ op: Opcode.RRQ, filename: 'f', mode: 'mail', options: [] }), port, '127.0.0.1');
  t.match((await b.next()).p, { op: Opcode.ERROR, code: ErrorCode.ILLEGAL_OPERATION, message: /mode/ });
});

t.test('client and server over IPv6 loopback, windowed, sizes around block edges', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'tftp-v6-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  const server = new TftpServer({ root: base, address: '::1', port: 0 });
  let port: number;
  try {
    port = (await server.listen()).port;
  } catch (e) {
    requireThat(t, false, `no IPv6 loopback here (${(e as Error).message})`);
    return;
  }
  t.teardown(() => server.close());
  for (const size of [0, 511, 512, 513, 100_000]) {
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i++) data[i] = (i * 13) & 0xff;
    await writeFile(join(base, `f${size}`), data);
    const r = await tftpGet(`f${size}`, { host: '::1', port, blksize: 512, windowsize: 4, tsize: true });
    t.same(r.data, data, `size ${size}`);
    t.equal(r.settings.tsize, size === 0 ? undefined : size, 'tsize (left out for an empty file)');
  }
});

t.test('UEFI: tsize probe, ERROR 8 (info, not a warning), then a new request from the same port', async (t) => {
  const { port, root, logs, server } = await setup(t);
  await writeFile(join(root, 'f'), Buffer.alloc(3000, 1));
  const a = await rawClient(t, { skipRepeats: true });
  const probe = { op: Opcode.RRQ, filename: 'f', mode: 'octet', options: [{ name: 'tsize', value: '0' }, { name: 'blksize', value: '1468' }] } as const;
  a.s.send(encode({ ...probe, options: [...probe.options] }), port, '127.0.0.1');
  const oack = await a.next();
  t.match(oack.p, { op: Opcode.OACK, options: [{ name: 'tsize', value: '3000' }, { name: 'blksize', value: '1468' }] });
  a.s.send(encode({ op: Opcode.ERROR, code: 8, message: 'User aborted the transfer' }), oack.port, '127.0.0.1');
  await until(() => logs.some((l) => l.startsWith('info:') && l.includes('client ended after the OACK')), 'the end of the probe logged');
  t.pass('the end of the probe logged');
  t.notOk(logs.some((l) => l.startsWith('warning:')), 'no warning for the probe');
  // The ERROR 8 of a second probe is lost; the client asks again from the same port with other options.
  a.s.send(encode({ ...probe, options: [...probe.options] }), port, '127.0.0.1');
  const oack2 = await a.next();
  a.s.send(encode({ op: Opcode.RRQ, filename: 'f', mode: 'octet', options: [{ name: 'blksize', value: '1468' }] }), port, '127.0.0.1');
  const oack3 = await a.next();
  t.same(oack3.p, { op: Opcode.OACK, options: [{ name: 'blksize', value: '1468' }] });
  t.not(oack3.port, oack2.port, 'a new transfer');
  await until(() => server.transfers === 1, 'the abandoned one is gone');
  t.pass('the abandoned one is gone');
  a.s.send(encode({ op: Opcode.ACK, block: 0 }), oack3.port, '127.0.0.1');
  t.match((await a.next()).p, { op: Opcode.DATA, block: 1 });
  a.s.send(encode({ op: Opcode.ERROR, code: 0, message: 'enough' }), oack3.port, '127.0.0.1');
});

t.test('random datagrams to the request port and to a transfer port do not disturb the server', async (t) => {
  const { port, root, logs } = await setup(t);
  await writeFile(join(root, 'f'), Buffer.alloc(1500, 9));
  const a = await rawClient(t, { skipRepeats: true });
  a.s.send(encode({ op: Opcode.RRQ, filename: 'f', mode: 'octet', options: [] }), port, '127.0.0.1');
  const d1 = await a.next();
  const noise = createSocket('udp4');
  await new Promise<void>((r) => noise.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => noise.close());
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  const sent: Promise<unknown>[] = [];
  for (let i = 0; i < 300; i++) {
    const junk = Buffer.alloc(rand() % 40);
    for (let k = 0; k < junk.length; k++) junk[k] = rand() & 0xff;
    if (junk.length >= 2 && i % 2 === 0) junk.writeUInt16BE(1 + (rand() % 6), 0);
    sent.push(new Promise((r) => noise.send(junk, i % 3 === 0 ? d1.port : port, '127.0.0.1', r)));
  }
  // All of it is queued at the server's sockets ahead of what follows, so the server reads it first.
  await Promise.all(sent);
  // Junk from the client's own address and port, on its transfer, is dropped (datagrams of one socket arrive in order).
  a.s.send(Buffer.from([0, 4]), d1.port, '127.0.0.1');
  a.s.send(encode({ op: Opcode.ACK, block: 1 }), d1.port, '127.0.0.1');
  let next = await a.next();
  while (next.port !== d1.port || next.p.op !== Opcode.DATA) next = await a.next();
  t.match(next.p, { op: Opcode.DATA, block: 2 }, 'the transfer goes on');
  a.s.send(encode({ op: Opcode.ACK, block: 2 }), d1.port, '127.0.0.1');
  const r = await tftpGet('f', { host: '127.0.0.1', port });
  t.equal(r.bytes, 1500, 'and new requests are served');
  t.ok(logs.filter((l) => l.includes('malformed')).length <= 20, 'malformed packets are logged rate-limited');
});

t.test('read transfers on worker threads and on the main thread give the same bytes and log lines', async (t) => {
  for (const threads of [0, 2]) {
    const on = await setup(t, { threads });
    const sizes = [0, 511, 512, 513, 70_000];
    for (const size of sizes) await writeFile(join(on.root, `f${size}`), Buffer.alloc(size, size % 251));
    for (const size of sizes) {
      const got = await tftpGet(`f${size}`, { host: '127.0.0.1', port: on.port, blksize: 512, windowsize: 4 });
      t.ok(got.data!.equals(Buffer.alloc(size, size % 251)), `threads ${threads}: ${size} bytes`);
    }
    await until(() => sizes.every((n) => on.logs.some((l) => l.startsWith(`info: RRQ from 127.0.0.1 filename f${n}: sent, ${n} bytes in `))), `threads ${threads}: one "sent" line per transfer`);
    t.pass(`threads ${threads}: one "sent" line per transfer`);
  }
});

t.test('closing the server tells a client mid-transfer on a worker thread', async (t) => {
  const on = await setup(t, { threads: 1 });
  await writeFile(join(on.root, 'big'), Buffer.alloc(100_000, 1));
  const raw = await rawClient(t, { skipRepeats: true });
  raw.s.send(encode({ op: Opcode.RRQ, filename: 'big', mode: 'octet', options: [] }), on.port, '127.0.0.1');
  const first = await raw.next();
  t.match(first.p, { op: Opcode.DATA, block: 1 }, 'DATA 1 from the thread');
  t.equal(on.server.transfers, 1);
  await on.server.close();
  const end = await raw.next();
  t.match(end.p, { op: Opcode.ERROR, code: ErrorCode.NOT_DEFINED, message: 'server shutting down' }, 'ERROR from the transfer port');
  t.equal(end.port, first.port);
});
