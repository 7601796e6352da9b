import t from 'tap';
import { readFileSync } from 'node:fs';
import { XdrError, decode, encode, type XdrCodec as Codec } from '@netboot/oncrpc-xdr';
import { procedures } from '@netboot/nfs3';

/*
 * Real calls: the argument bytes Debian's libnfs sent (nfs-ls -R, nfs-ls -s,
 * nfs-cat, nfs-cp) and the replies netboot answered, recorded at the RPC
 * layer. Each decodes, re-encodes byte for byte, and every proper prefix is
 * a typed XdrError.
 */
const fixtures = JSON.parse(readFileSync(new URL('./fixtures/libnfs-calls.json', import.meta.url), 'utf8')) as {
  vectors: { proc: keyof typeof procedures; args: string; res: string }[];
};

for (const [i, v] of fixtures.vectors.entries()) {
  for (const kind of ['args', 'res'] as const) {
    t.test(`${v.proc} ${kind} #${i}`, async (t) => {
      const codec = procedures[v.proc][kind] as Codec<unknown>;
      const bytes = Buffer.from(v[kind], 'hex');
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
    });
  }
}

t.test('the vectors cover the procedures of a mount, a listing, a read and a copy', async (t) => {
  const procs = new Set(fixtures.vectors.map((v) => v.proc));
  for (const p of ['NULL', 'FSINFO', 'GETATTR', 'LOOKUP', 'ACCESS', 'READDIRPLUS', 'READ', 'CREATE', 'SETATTR', 'WRITE', 'COMMIT', 'FSSTAT'] as const) {
    t.ok(procs.has(p), p);
  }
});
