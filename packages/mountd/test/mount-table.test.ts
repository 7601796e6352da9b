import { deepStrictEqual } from 'node:assert/strict';
import t from 'tap';
import fc from 'fast-check';
import { MountTable } from '@netboot/mountd';

t.test('add, remove, removeHost', async (t) => {
  const m = new MountTable();
  t.equal(m.add('198.18.1.21', '/diskless/198.18.1.21'), true);
  t.equal(m.add('198.18.1.21', '/diskless/198.18.1.21'), false, 'a repeated MNT is recorded once');
  m.add('198.18.1.21', '/usr');
  m.add('198.18.1.22', '/usr');
  t.equal(m.remove('198.18.1.22', '/home'), false);
  t.equal(m.remove('198.18.1.22', '/usr'), true);
  t.equal(m.removeHost('198.18.1.21'), 2);
  t.same(m.list(), []);
});

t.test('the rmtab text is what nfs-utils writes', async (t) => {
  const m = new MountTable();
  m.add('198.18.1.21', '/diskless/198.18.1.21');
  m.add('2001:db8::5', '/srv/with space:colon');
  t.equal(m.toText(), '198.18.1.21:/diskless/198.18.1.21:0x00000001\n2001:db8::5:/srv/with\\040space\\072colon:0x00000001\n');
  t.same(MountTable.fromText('198.18.1.9:/usr\n').list(), [{ hostname: '198.18.1.9', directory: '/usr' }], 'a line without a count is read');
});

t.test('rmtab text round-trips any host address and path', async (t) => {
  const host = fc.oneof(fc.ipV4(), fc.ipV6());
  const path = fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => `/${s}`);
  fc.assert(
    fc.property(fc.array(fc.record({ hostname: host, directory: path }), { maxLength: 8 }), (entries) => {
      const m = new MountTable();
      for (const e of entries) m.add(e.hostname, e.directory);
      deepStrictEqual(MountTable.fromText(m.toText()).list(), m.list());
      return true;
    }),
    { seed: 42, numRuns: 200 },
  );
  t.pass('200 tables round-trip');
});
