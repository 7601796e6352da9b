import t from 'tap';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tftpGet, tftpPut, TftpClientError } from '@netboot/tftp-wire';
import { start, type Running } from '../support/processes.js';
import { netbootCli } from '../support/paths.js';

// "Nobody gets in", TFTP: every way out of the root a client can spell is
// refused with an ERROR (never file contents, never silence) and logged.
// The server is the shipped command, `netboot tftp`, on loopback.

const root = mkdtempSync(join(tmpdir(), 'hostile-tftp-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
mkdirSync(join(root, 'pxelinux.cfg'));
writeFileSync(join(root, 'pxelinux.0'), 'the boot loader');
writeFileSync(join(root, 'kept.bin'), 'must not change');
chmodSync(join(root, 'kept.bin'), 0o644);
symlinkSync('/etc', join(root, 'etc-link'));
symlinkSync('/etc/passwd', join(root, 'passwd-link'));
symlinkSync('pxelinux.0', join(root, 'inside-link'));
const secret = readFileSync('/etc/passwd');

async function server(args: string[]): Promise<{ proc: Running; port: number }> {
  const proc = start(t, process.execPath, [netbootCli, 'tftp', '--root', root, '--listen', '127.0.0.1', '--port', '0', ...args]);
  const m = await proc.waitFor(/listening on \S+ port (\d+)/);
  return { proc, port: Number(m[1]) };
}

const retry = { initialMs: 500, maxMs: 2000, maxRetries: 3 };

/** Fetches `name`; returns the TFTP error code, or the data when the server sent a file. */
async function get(port: number, name: string): Promise<{ code?: number; data?: Buffer }> {
  try {
    const r = await tftpGet(name, { host: '127.0.0.1', port, retry });
    return { data: r.data ?? Buffer.alloc(0) };
  } catch (e) {
    if (e instanceof TftpClientError) return { code: e.code };
    throw e;
  }
}

/** Waits for a log line naming this request (the server logs every one, refusals as warnings). */
async function logged(proc: Running, name: string): Promise<string> {
  const escaped = name.slice(0, 60).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = await proc.waitFor(new RegExp(`(?:RRQ|WRQ) from 127\\.0\\.0\\.1 filename ${escaped}[^\\n]*: [^\\n]*`), 5000);
  return m[0];
}

t.test('reads that try to leave the root', async (t) => {
  const { proc, port } = await server([]);
  t.same((await get(port, 'pxelinux.0')).data?.toString(), 'the boot loader', 'a legitimate read works');
  t.same((await get(port, 'inside-link')).data?.toString(), 'the boot loader', 'a symlink staying inside works');

  const cases: [string, string][] = [
    ['../etc/passwd', 'parent directory'],
    ['pxelinux.cfg/../../etc/passwd', 'parent directory inside a path'],
    ['/etc/passwd', 'absolute path outside the root'],
    ['//etc/passwd', 'doubled slash absolute path'],
    ['..\\..\\etc\\passwd', 'backslash parent directory'],
    ['\\etc\\passwd', 'backslash absolute path'],
    ['pxelinux.cfg\\..\\..\\etc\\passwd', 'mixed backslash form'],
    ['etc-link/passwd', 'through a symlink to /etc'],
    ['passwd-link', 'a symlink to /etc/passwd'],
    ['%2e%2e%2fetc%2fpasswd', 'URL-encoded parent directory'],
    ['%2Fetc%2Fpasswd', 'URL-encoded absolute path'],
    ['..%2f..%2fetc%2fpasswd', 'half URL-encoded'],
    [`${'a'.repeat(300)}`, 'a name over 255 bytes'],
    [`pxelinux.cfg/${'b'.repeat(256)}/../../../etc/passwd`, 'a long name hiding a parent directory'],
  ];
  for (const [name, what] of cases) {
    const r = await get(port, name);
    t.ok(r.code !== undefined && r.data === undefined, `${what} (${name.slice(0, 40)}): refused with ERROR ${r.code}`);
    t.not(r.data?.equals(secret), true, `${what}: /etc/passwd not sent`);
    const line = await logged(proc, name);
    t.match(line, /Access violation|File not found|refused/, `${what}: logged "${line.slice(0, 140)}"`);
  }
  const escapes = ['../etc/passwd', '/etc/passwd', '//etc/passwd', 'etc-link/passwd', 'passwd-link', '..\\..\\etc\\passwd'];
  for (const name of escapes) {
    const r = await get(port, name);
    if (name.includes('\\')) t.ok(r.code === 1 || r.code === 2, `${name}: a backslash is a plain byte here, so not found or refused (ERROR ${r.code})`);
    else t.equal(r.code, 2, `${name}: ERROR 2 (access violation)`);
  }
  t.equal(proc.child.exitCode, null, 'the server is still running');
});

t.test('uploads', async (t) => {
  const off = await server([]);
  let code: number | undefined;
  await tftpPut('new.bin', Buffer.from('x'), { host: '127.0.0.1', port: off.port, retry }).catch((e: TftpClientError) => (code = e.code));
  t.equal(code, 2, 'WRQ without --create: ERROR 2');
  t.match(await logged(off.proc, 'new.bin'), /uploads are disabled/, 'and logged');

  const on = await server(['--create']);
  code = undefined;
  await tftpPut('kept.bin', Buffer.from('overwritten'), { host: '127.0.0.1', port: on.port, retry }).catch((e: TftpClientError) => (code = e.code));
  t.equal(code, 2, 'WRQ over an existing file that is not world-writable: ERROR 2');
  t.match(await logged(on.proc, 'kept.bin'), /Access violation|refused/, 'and logged');
  t.equal(readFileSync(join(root, 'kept.bin'), 'utf8'), 'must not change', 'the file is untouched');

  for (const name of ['../escaped.bin', '/tmp/escaped.bin', 'etc-link/escaped.bin']) {
    code = undefined;
    await tftpPut(name, Buffer.from('x'), { host: '127.0.0.1', port: on.port, retry }).catch((e: TftpClientError) => (code = e.code));
    t.equal(code, 2, `WRQ ${name}: ERROR 2`);
    t.match(await logged(on.proc, name), /Access violation/, 'and logged');
  }
});

t.test('backslashes turned into slashes by a remap rule still cannot climb out', async (t) => {
  const rules = join(root, '..', `remap-${process.pid}`);
  writeFileSync(rules, 'rg \\\\ /\n');
  t.teardown(() => rmSync(rules, { force: true }));
  const { proc, port } = await server(['--remap', rules]);
  t.same((await get(port, '\\pxelinux.0')).data?.toString(), 'the boot loader', 'a DOS-style legitimate name works');
  for (const name of ['..\\..\\etc\\passwd', '\\..\\etc\\passwd', 'etc-link\\passwd', '\\\\etc\\passwd']) {
    const r = await get(port, name);
    t.ok(r.code === 2 || r.code === 1, `${name}: refused with ERROR ${r.code}`);
    t.equal(r.data, undefined, 'no data');
    t.match(await logged(proc, name), /Access violation|File not found/, 'and logged');
  }
});

t.test('a file name cannot forge log lines or write terminal escapes', async (t) => {
  const { proc, port } = await server([]);
  const forged = 'nope\ntftp: RRQ from 198.18.9.9 filename pxelinux.0: sent, 1 bytes in 0.001 s\u001b[2J\u009b31m';
  const r = await get(port, forged);
  t.equal(r.code, 1, 'refused (not found)');
  await proc.waitFor(/filename nope/);
  t.notMatch(proc.output(), /^tftp: RRQ from 198\.18\.9\.9/m, 'no forged line');
  t.notMatch(proc.output(), /[\u001b\u009b]/, 'no escape sequence reached the log');
  t.match(proc.output(), /filename nope\\x0atftp: RRQ from 198\.18\.9\.9/, 'control characters are logged as \\xNN');
});
