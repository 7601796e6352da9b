import t from 'tap';
import { Ftype, NfsStat, StableHow } from '@netboot/nfs3';
import { harness } from './harness.js';

t.test('create, write, read, getattr, lookup, readdirplus', async (t) => {
  const h = await harness(t);
  const c = await h.client();
  t.equal((await c.null()) !== undefined, true);
  const fi = await c.fsinfo(h.root);
  t.equal(fi.status, 0);
  if (fi.status === 0) t.ok(fi.rtmax >= 1024 * 1024, 'rtmax >= 1 MiB over TCP');
  const cr = await c.create(h.root, 'hello.txt');
  t.equal(cr.status, 0);
  if (cr.status !== 0) return;
  const fh = cr.object!;
  const w = await c.write(fh, 0n, Buffer.from('hello world'), StableHow.FILE_SYNC);
  t.equal(w.status, 0);
  const r = await c.read(fh, 0n, 100);
  t.equal(r.status, 0);
  if (r.status === 0) {
    t.equal(r.data.toString(), 'hello world');
    t.equal(r.eof, true);
  }
  const l = await c.lookup(h.root, 'hello.txt');
  t.equal(l.status, 0);
  if (l.status === 0) t.same(l.object, fh);
  const miss = await c.lookup(h.root, 'nope');
  t.equal(miss.status, NfsStat.NOENT);
  const rd = await c.readdirplus(h.root);
  t.equal(rd.status, 0);
  if (rd.status === 0) t.same(rd.entries.map((e) => e.name.toString()).sort(), ['.', '..', 'hello.txt']);
  const ga = await c.getattr(fh);
  t.equal(ga.status, 0);
  if (ga.status === 0) {
    t.equal(ga.attributes.type, Ftype.REG);
    t.equal(ga.attributes.size, 11n);
  }
});
