import { createHash, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createNetns } from './support/netns.js';
import { netbootCli } from './support/paths.js';
import { run, start } from './support/processes.js';
import { canUseNetns, requirePrograms, requireThat } from './support/programs.js';

/*
 * Debian's TFTP clients (tftp-hpa's tftp, atftp, curl) fetch and put files
 * through `netboot tftp`. With root the server listens on port 69 inside a
 * namespace this test creates and the clients run there too; otherwise it
 * uses a free high port on 127.0.0.1.
 */

const MiB = 1024 * 1024;
const sizes: Record<string, number> = { e0: 0, f511: 511, f512: 512, f513: 513, m64: 64 * MiB, m100: 100 * MiB };

/** Random megabytes, each stamped with its index, so a misplaced or repeated block changes the hash. */
async function makeFile(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const fh = await open(path, 'w');
  const seed = randomBytes(MiB);
  for (let at = 0; at < size; at += MiB) {
    const n = Math.min(MiB, size - at);
    seed.writeUInt32BE(at / MiB, 0);
    const part = seed.subarray(0, n);
    hash.update(part);
    await fh.write(part, 0, n, at);
  }
  await fh.close();
  return hash.digest('hex');
}

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function freePort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const progs = requirePrograms(t, { tftp: 'tftp-hpa', atftp: 'atftp', curl: 'curl' });

if (progs) {
  const dir = await mkdtemp(join(tmpdir(), 'tftp-clients-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'root');
  const out = join(dir, 'out');
  await run('mkdir', ['-p', root, out]);
  const hashes: Record<string, string> = {};
  for (const [name, size] of Object.entries(sizes)) hashes[name] = await makeFile(join(root, name), size);

  const ns = canUseNetns() ? createNetns(t, 'tftp') : undefined;
  const port = ns ? 69 : await freePort();
  const server = start(t, process.execPath, [netbootCli, 'tftp', '--root', root, '--listen', '127.0.0.1', '--port', String(port), '--create', '--verbose'], { ns });
  await server.waitFor(/tftp: listening on 127\.0\.0\.1 port \d+/);

  const fetchers: Record<string, (name: string, local: string) => [string, string[]]> = {
    'tftp-hpa (no options)': (name, local) => [progs.tftp, ['127.0.0.1', String(port), '-m', 'binary', '-c', 'get', name, local]],
    'atftp blksize 1468': (name, local) => [progs.atftp, ['--option', 'blksize 1468', '-g', '-r', name, '-l', local, '127.0.0.1', String(port)]],
    'atftp windowsize 16': (name, local) => [progs.atftp, ['--option', 'windowsize 16', '-g', '-r', name, '-l', local, '127.0.0.1', String(port)]],
    'atftp tsize 0': (name, local) => [progs.atftp, ['--option', 'tsize 0', '-g', '-r', name, '-l', local, '127.0.0.1', String(port)]],
    'curl --tftp-blksize 1468': (name, local) => [progs.curl, ['-sS', '--tftp-blksize', '1468', '-o', local, `tftp://127.0.0.1:${port}/${name}`]],
  };

  // Each client fetches every size in turn; the clients run side by side to keep the wall time down.
  await t.test('every client fetches 0, 511, 512, 513 bytes, 64 MiB and 100 MiB byte-identical', async (t) => {
    await Promise.all(
      Object.entries(fetchers).map(([client, argv], k) =>
        t.test(client, async (t) => {
          for (const name of Object.keys(sizes)) {
            const local = join(out, `${k}-${name}`);
            const [cmd, args] = argv(name, local);
            const r = await run(cmd, args, { ns, timeoutMs: 150_000 });
            t.notOk(r.timedOut, `${client} ${name} finished in time`);
            t.equal(r.code, 0, `${client} ${name} exit status${r.stderr ? `: ${r.stderr.trim()}` : ''}`);
            t.equal(await sha256(local).catch(() => 'missing'), hashes[name], `${client} ${name} byte-identical`);
            await rm(local, { force: true });
          }
        }),
      ),
    );
  });

  t.test('tftp-hpa without options gets DATA 1 directly; the others get an OACK', async (t) => {
    const log = server.output();
    t.match(log, /RRQ from 127\.0\.0\.1 filename m100: no options, DATA 1 directly/);
    t.match(log, /OACK blksize=1468/);
    t.match(log, /OACK windowsize=16/);
    t.match(log, /OACK tsize=104857600/);
    t.match(log, /RRQ from 127\.0\.0\.1 filename m100: sent, 104857600 bytes in \d+\.\d+ s/);
  });

  t.test('puts with --create: tftp-hpa, atftp and curl', async (t) => {
    const src = join(dir, 'upload');
    const data = randomBytes(3 * MiB + 77);
    await writeFile(src, data);
    const want = createHash('sha256').update(data).digest('hex');
    const puts: [string, string, string[]][] = [
      ['tftp-hpa', 'up-hpa', ['127.0.0.1', String(port), '-m', 'binary', '-c', 'put', src, 'up-hpa']],
      ['atftp', 'up-atftp', ['--option', 'blksize 1468', '--option', 'windowsize 8', '-p', '-l', src, '-r', 'up-atftp', '127.0.0.1', String(port)]],
      ['curl', 'up-curl', ['-sS', '-T', src, `tftp://127.0.0.1:${port}/up-curl`]],
    ];
    for (const [client, name, args] of puts) {
      const cmd = client === 'tftp-hpa' ? progs.tftp : client === 'atftp' ? progs.atftp : progs.curl;
      const r = await run(cmd, args, { ns, timeoutMs: 60_000 });
      t.equal(r.code, 0, `${client} put exit status${r.stderr ? `: ${r.stderr.trim()}` : ''}`);
      t.equal(await sha256(join(root, name)).catch(() => 'missing'), want, `${client} put stored byte-identical`);
    }
    const again = await run(progs.curl, ['-sS', '-T', src, `tftp://127.0.0.1:${port}/up-curl`], { ns, timeoutMs: 30_000 });
    t.not(again.code, 0, 'an existing file is not overwritten');
    t.equal((await stat(join(root, 'up-curl'))).size, data.length);
  });

  // tftp-hpa is left out: in a namespace with only loopback, its getaddrinfo (AI_ADDRCONFIG) cannot resolve "::1".
  t.test('IPv6: curl fetches over ::1', async (t) => {
    const port6 = ns ? 69 : await freePort();
    const server6 = start(t, process.execPath, [netbootCli, 'tftp', '--root', root, '--listen', '::1', '--port', String(port6)], { ns });
    try {
      await server6.waitFor(/tftp: listening on ::1 port \d+/);
    } catch {
      requireThat(t, false, `no IPv6 loopback here: ${server6.output().trim()}`);
      return;
    }
    for (const name of ['e0', 'f511', 'f513']) {
      const local = join(out, `v6-${name}`);
      const r = await run(progs.curl, ['-sS', '-g', '--tftp-blksize', '1468', '-o', local, `tftp://[::1]:${port6}/${name}`], { ns, timeoutMs: 60_000 });
      t.equal(r.code, 0, `curl ${name}${r.stderr ? `: ${r.stderr.trim()}` : ''}`);
      t.equal(await sha256(local).catch(() => 'missing'), hashes[name], `curl over IPv6 ${name} byte-identical`);
    }
    t.match(server6.output(), /RRQ from ::1 filename f513/);
  });

  t.test('path escapes are refused with ERROR 2 (access violation)', async (t) => {
    for (const name of ['../etc/passwd', '/etc/passwd', '//etc/passwd']) {
      const r = await run(progs.tftp, ['127.0.0.1', String(port), '-m', 'binary', '-c', 'get', name, join(out, 'escape')], { ns, timeoutMs: 20_000 });
      t.match(r.stdout + r.stderr, /Error code 2/, `tftp-hpa get ${name}`);
    }
    t.match(server.output(), /warning: RRQ from 127\.0\.0\.1 filename \/etc\/passwd: Access violation/);
  });
}
