import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createLink } from './support/netns.js';
import { netbootCli, repoRoot } from './support/paths.js';
import { run, start } from './support/processes.js';
import { requirePrograms, requireNetns } from './support/programs.js';

/*
 * File names in legacy encodings through a client nobody here wrote: libnfs'
 * nfs-ls, nfs-cat and nfs-cp against `netboot nfs` across a veth link. The
 * libnfs 4.0 utilities take the path in an nfs:// URL as raw bytes (no
 * %XX decoding: `caf%E9` is a name of six bytes), and an argv string from
 * Node is always UTF-8, so the URLs reach them through `xargs -0`, which
 * passes the bytes it reads unchanged.
 */

const LATIN1 = Buffer.from('caf\xe9.txt', 'latin1');
const SJIS_DIR = Buffer.from([0x93, 0xfa, 0x96, 0x7b, 0x8c, 0xea]); // 日本語
const EUCKR = Buffer.from([0xc7, 0xd1, 0xb1, 0xb9, 0xbe, 0xee, 0x2e, 0x74, 0x78, 0x74]); // 한국어.txt
const INVALID = Buffer.from([0xff, 0xfe, 0x41, 0x80]);
const SJIS_NEW = Buffer.from([0x83, 0x65, 0x83, 0x58, 0x83, 0x67]); // テスト
const LATIN1_NEW = Buffer.from('na\xefve', 'latin1');

const slash = Buffer.from('/');
const bytesPath = (...parts: (string | Buffer)[]) => Buffer.concat(parts.flatMap((p, i) => (i ? [slash, Buffer.from(p)] : [Buffer.from(p)])));

t.test('libnfs lists, reads and writes Latin-1, Shift-JIS, EUC-KR and invalid UTF-8 names byte for byte', async (t) => {
  if (!requireNetns(t)) return;
  const progs = requirePrograms(t, { 'nfs-ls': 'libnfs-utils', 'nfs-cat': 'libnfs-utils', 'nfs-cp': 'libnfs-utils', xargs: 'findutils' });
  if (!progs) return;
  const link = createLink(t, { subnet: 47, label: 'nfsnm' });
  const dir = mkdtempSync(join(tmpdir(), 'nfs-names-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const exp = join(dir, 'export');
  mkdirSync(exp);
  writeFileSync(bytesPath(exp, LATIN1), 'latin-1\n');
  mkdirSync(bytesPath(exp, SJIS_DIR));
  writeFileSync(bytesPath(exp, SJIS_DIR, EUCKR), 'euc-kr in shift-jis\n');
  writeFileSync(bytesPath(exp, INVALID), 'not utf-8\n');
  const exportsFile = join(dir, 'exports');
  writeFileSync(exportsFile, `${exp} ${link.clientAddr}(rw,no_root_squash,insecure)\n`);
  const server = start(t, process.execPath, [netbootCli, 'nfs', '--exports', exportsFile, '--listen', link.serverAddr, '--state-dir', join(dir, 'state')], {
    ns: link.server,
    cwd: repoRoot,
  });
  await server.waitFor(/NFS v3 port 2049/);
  const url = (...parts: (string | Buffer)[]) => Buffer.concat([Buffer.from(`nfs://${link.serverAddr}`), bytesPath(exp, ...parts), Buffer.from('?version=3')]);
  /** A libnfs utility with byte-exact arguments, through xargs -0. */
  const client = (prog: string, args: Buffer[]) =>
    run(progs.xargs, ['-0', prog], { ns: link.client, timeoutMs: 60_000, input: Buffer.concat(args.flatMap((a) => [a, Buffer.alloc(1)])) });

  const ls = await client(progs['nfs-ls'], [Buffer.from('-R'), url()]);
  t.equal(ls.code, 0, `nfs-ls -R: ${ls.stderr}`);
  for (const [what, name] of [
    ['Latin-1', LATIN1],
    ['Shift-JIS directory', SJIS_DIR],
    ['EUC-KR inside it', Buffer.concat([SJIS_DIR, slash, EUCKR])],
    ['invalid UTF-8', INVALID],
  ] as const) {
    t.ok(ls.stdoutBytes.includes(name), `nfs-ls -R lists the ${what} name as its bytes`);
  }
  t.notOk(ls.stdoutBytes.includes(Buffer.from('\ufffd')), 'no replacement characters');

  const cat = await client(progs['nfs-cat'], [url(LATIN1)]);
  t.equal(cat.stdout, 'latin-1\n', 'nfs-cat of the Latin-1 name');
  const deep = await client(progs['nfs-cat'], [url(SJIS_DIR, EUCKR)]);
  t.equal(deep.stdout, 'euc-kr in shift-jis\n', 'nfs-cat of an EUC-KR name in a Shift-JIS directory');
  t.match(server.output(), /mount request from [\d.]+:\d+ for \S*\/export\/\\x93\\xfa\\x96\{\\x8c\\xea: granted/, 'libnfs mounted the Shift-JIS directory; the log shows its bytes as \\xNN');
  const invalid = await client(progs['nfs-cat'], [url(INVALID)]);
  t.equal(invalid.stdout, 'not utf-8\n', 'nfs-cat of an invalid UTF-8 name');
  const encoded = await client(progs['nfs-cat'], [Buffer.from(`nfs://${link.serverAddr}${exp}/caf%E9.txt?version=3`)]);
  t.not(encoded.code, 0, 'caf%E9.txt is another name: libnfs does not decode %XX');

  const local = join(dir, 'local.bin');
  writeFileSync(local, 'uploaded through libnfs\n');
  const up = await client(progs['nfs-cp'], [Buffer.from(local), url(SJIS_DIR, SJIS_NEW)]);
  t.equal(up.code, 0, `nfs-cp to a new Shift-JIS name: ${up.stderr}`);
  t.ok(readdirSync(bytesPath(exp, SJIS_DIR), { encoding: 'buffer' }).some((n) => n.equals(SJIS_NEW)), 'made under its exact bytes');
  t.equal(readFileSync(bytesPath(exp, SJIS_DIR, SJIS_NEW), 'utf8'), 'uploaded through libnfs\n', 'with the contents sent');
  const up2 = await client(progs['nfs-cp'], [Buffer.from(local), url(LATIN1_NEW)]);
  t.equal(up2.code, 0, `nfs-cp to a new Latin-1 name: ${up2.stderr}`);
  t.ok(readdirSync(Buffer.from(exp), { encoding: 'buffer' }).some((n) => n.equals(LATIN1_NEW)), 'made under its exact Latin-1 bytes');

  const back = join(dir, 'back.txt');
  const down = await client(progs['nfs-cp'], [url(LATIN1), Buffer.from(back)]);
  t.equal(down.code, 0, `nfs-cp from the Latin-1 name: ${down.stderr}`);
  t.equal(readFileSync(back, 'utf8'), 'latin-1\n', 'the contents came back');
  t.equal(await server.stop(), 0, 'stops cleanly');
});
