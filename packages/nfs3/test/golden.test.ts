import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { XdrError, decode, encode, type XdrCodec as Codec } from '@netboot/oncrpc-xdr';
import { Ftype, NfsStat, procedures } from '@netboot/nfs3';

/*
 * Real calls and replies, recorded at the RPC layer:
 * - libnfs-calls.json: the argument bytes Debian's libnfs sent (nfs-ls -R,
 *   nfs-ls -s, nfs-cat, nfs-cp) and the replies netboot answered;
 * - ganesha-replies.json: libnfs's calls and NFS-Ganesha's replies, captured
 *   with tshark on loopback (its `note` says how; capture-ganesha.mjs made it),
 *   so the codec is held to another server's bytes, not only to its own.
 * Each decodes, re-encodes byte for byte, and every proper prefix is a typed
 * XdrError.
 */
type Vector = { proc: keyof typeof procedures; args: string; res: string };
const load = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as { vectors: Vector[] };
const libnfs = load('libnfs-calls.json');
const ganesha = load('ganesha-replies.json');

function decodesExactly(t: Test, codec: Codec<unknown>, bytes: Buffer): unknown {
  const value = decode(codec, bytes);
  t.same(encode(codec, value), bytes, 're-encodes byte for byte');
  let typed = 0;
  for (let n = 0; n < bytes.length; n++) {
    try {
      decode(codec, bytes, 0, n);
    } catch (e) {
      if (e instanceof XdrError) typed++;
    }
  }
  t.equal(typed, bytes.length, 'every proper prefix is an XdrError');
  return value;
}

for (const [source, fixtures] of [['libnfs', libnfs], ['ganesha', ganesha]] as const) {
  for (const [i, v] of fixtures.vectors.entries()) {
    for (const kind of ['args', 'res'] as const) {
      t.test(`${source}: ${v.proc} ${kind} #${i}`, async (t) => {
        decodesExactly(t, procedures[v.proc][kind] as Codec<unknown>, Buffer.from(v[kind], 'hex'));
      });
    }
  }
}

t.test('the libnfs vectors cover the procedures of a mount, a listing, a read and a copy', async (t) => {
  const procs = new Set(libnfs.vectors.map((v) => v.proc));
  for (const p of ['NULL', 'FSINFO', 'GETATTR', 'LOOKUP', 'ACCESS', 'READDIRPLUS', 'READ', 'CREATE', 'SETATTR', 'WRITE', 'COMMIT', 'FSSTAT'] as const) {
    t.ok(procs.has(p), p);
  }
});

t.test("Ganesha's replies decode to what its export holds: hello (12 bytes) and the directory sub", async (t) => {
  const replies = (proc: Vector['proc']) => ganesha.vectors.filter((v) => v.proc === proc).map((v) => decode(procedures[proc].res as Codec<any>, Buffer.from(v.res, 'hex')));
  for (const r of replies('GETATTR')) {
    t.equal(r.status, NfsStat.OK, 'GETATTR: NFS3_OK');
    t.ok(r.attributes.type === Ftype.DIR || (r.attributes.type === Ftype.REG && r.attributes.size === 12n), 'GETATTR: the export root or hello');
  }
  const [found, missing] = replies('LOOKUP');
  t.match(found, { status: NfsStat.OK, attributes: { type: Ftype.REG, size: 12n, mode: 0o644 }, dirAttributes: { type: Ftype.DIR } }, 'LOOKUP hello: a 12-byte file, the directory\'s attributes after it');
  t.ok(found.object.length > 0 && found.object.length <= 64, `LOOKUP hello: a handle of ${found.object.length} bytes`);
  t.match(missing, { status: NfsStat.NOENT, dirAttributes: { type: Ftype.DIR } }, 'LOOKUP missing: NFS3ERR_NOENT with the directory\'s attributes');
  const [read] = replies('READ');
  t.match(read, { status: NfsStat.OK, count: 12, eof: true, attributes: { size: 12n } }, 'READ: 12 bytes to the end of the file');
  t.equal(Buffer.from(read.data).toString(), 'hello world\n', 'READ: the file\'s bytes');
  const [list] = replies('READDIRPLUS');
  t.equal(list.status, NfsStat.OK, 'READDIRPLUS: NFS3_OK');
  const names = list.entries.map((e: { name: Uint8Array }) => Buffer.from(e.name).toString());
  t.same(names.filter((n: string) => n !== '.' && n !== '..').sort(), ['hello', 'sub'], 'READDIRPLUS: every name of the directory');
  const hello = list.entries.find((e: { name: Uint8Array }) => Buffer.from(e.name).toString() === 'hello');
  t.match(hello, { attributes: { type: Ftype.REG, size: 12n } }, 'READDIRPLUS: an entry carries its attributes');
  t.same(Buffer.from(hello.handle), Buffer.from(found.object), 'READDIRPLUS: and the handle LOOKUP gave');
  t.equal(list.eof, true, 'READDIRPLUS: the whole directory in one reply');
  for (const r of replies('FSINFO')) t.match(r, { status: NfsStat.OK, rtmax: 1 << 20, wtmax: 1 << 20 }, 'FSINFO: the 1 MiB transfer size configured');
  for (const r of replies('ACCESS')) t.equal(r.status, NfsStat.OK, 'ACCESS: NFS3_OK');
});
