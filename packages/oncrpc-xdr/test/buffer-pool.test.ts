import t from 'tap';
import { BufferPool } from '@netboot/oncrpc-xdr';

t.test('lends, takes back what it lent once, and keeps at most `keep`', (t) => {
  const pool = new BufferPool(1024, 1);
  const a = pool.take(100);
  t.equal(a.length, 100, 'a view of the asked length');
  t.ok(pool.isLent(a));
  pool.give(a);
  t.notOk(pool.isLent(a), 'given back');
  pool.give(a);
  const b = pool.take();
  const c = pool.take();
  t.equal(b.buffer, a.buffer, 'reused');
  t.not(c.buffer, a.buffer, 'a second give() of the same buffer did not put it in the pool twice');
  pool.give(b);
  pool.give(c);
  const d = pool.take();
  const e = pool.take();
  t.not(d.buffer, e.buffer, 'only `keep` (1) kept: the other is new');
  pool.give(Buffer.alloc(1024));
  t.notOk(pool.isLent(Buffer.alloc(1024)), 'a buffer it never lent is not taken');
  t.end();
});
