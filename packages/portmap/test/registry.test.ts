import t from 'tap';
import fc from 'fast-check';
import { Registry, RpcbStats, toMapping } from '@netboot/portmap';

const reg = (prog: number, vers: number, netid: string, addr = '0.0.0.0.8.1') => ({ prog, vers, netid, addr, owner: 'unknown' });

t.test('one registration per program, version and netid', async (t) => {
  const r = new Registry();
  t.ok(r.set(reg(100003, 3, 'tcp')));
  t.notOk(r.set(reg(100003, 3, 'tcp', '0.0.0.0.9.9')), 'taken: refused, not replaced');
  t.ok(r.set(reg(100003, 3, 'udp')));
  t.ok(r.set(reg(100003, 4, 'tcp')));
  t.equal(r.list().length, 3);
  t.equal(r.find(100003, 3, 'tcp', false)?.addr, '0.0.0.0.8.1');
});

t.test('lookup with any version falls back to the first registered version on that netid', async (t) => {
  const r = new Registry();
  r.set(reg(100005, 3, 'tcp', '0.0.0.0.78.80'));
  r.set(reg(100005, 1, 'tcp', '0.0.0.0.78.81'));
  r.set(reg(100005, 2, 'udp', '0.0.0.0.78.82'));
  t.equal(r.find(100005, 0, 'tcp', true)?.vers, 3, 'version 0 finds a registered version');
  t.equal(r.find(100005, 1, 'tcp', true)?.vers, 1, 'the exact version wins');
  t.equal(r.find(100005, 0, 'tcp', false), undefined, 'exact lookups do not fall back');
  t.equal(r.find(100005, 0, 'udp', true)?.vers, 2);
  t.equal(r.find(100005, 0, 'tcp6', true), undefined, 'never across netids');
  t.equal(r.find(100099, 0, 'tcp', true), undefined);
});

t.test('unset drops one netid or every netid', async (t) => {
  const r = new Registry();
  for (const n of ['tcp', 'udp', 'tcp6']) r.set(reg(7, 1, n));
  t.same(r.unset(7, 1, 'udp').map((e) => e.netid), ['udp']);
  t.same(r.unset(7, 1).map((e) => e.netid), ['tcp', 'tcp6']);
  t.same(r.unset(7, 1), []);
});

t.test('the version 2 view shows IPv4 TCP and UDP only', async (t) => {
  t.same(toMapping(reg(1, 2, 'tcp', '0.0.0.0.8.1')), { prog: 1, vers: 2, prot: 6, port: 2049 });
  t.same(toMapping(reg(1, 2, 'udp', '198.18.1.1.0.111')), { prog: 1, vers: 2, prot: 17, port: 111 });
  t.equal(toMapping(reg(1, 2, 'tcp6', '::.8.1')), undefined);
  t.equal(toMapping(reg(1, 2, 'local', '/run/rpcbind.sock')), undefined);
});

t.test('GETSTAT counters: calls, successful changes, lookups per program', async (t) => {
  const s = new RpcbStats();
  s.call(0, 3);
  s.call(0, 3);
  s.call(2, 99); // out of the table: ignored
  s.set(1, true);
  s.set(1, false);
  s.lookup(0, 100005, 3, 'udp', true);
  s.lookup(0, 100005, 3, 'udp', false);
  s.refusedCall(2, 100003, 3, 1, 'udp');
  const [v2, v3, v4] = s.snapshot();
  t.equal(v2.info[3], 2);
  t.equal(v3.setinfo, 1);
  t.same(v2.addrinfo, [{ prog: 100005, vers: 3, netid: 'udp', success: 1, failure: 1 }]);
  t.same(v4.rmtinfo, [{ prog: 100003, vers: 3, proc: 1, netid: 'udp', success: 0, failure: 1, indirect: 0 }]);
  for (let i = 0; i < 1000; i++) s.lookup(0, i, 1, 'tcp', false);
  t.equal(s.snapshot()[0].addrinfo.length, 256, 'rows are bounded');
});

t.test('property: the registry agrees with a map model under any sequence of SET and UNSET', async (t) => {
  const op = fc.record(
    { set: fc.boolean(), prog: fc.integer({ min: 1, max: 3 }), vers: fc.integer({ min: 1, max: 3 }), netid: fc.constantFrom('tcp', 'udp', 'tcp6', '') },
    { noNullPrototype: true },
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      const r = new Registry();
      const model = new Map<string, true>();
      for (const o of ops) {
        if (o.set && o.netid !== '') {
          const key = `${o.prog}/${o.vers}/${o.netid}`;
          if (r.set(reg(o.prog, o.vers, o.netid)) === model.has(key)) return false;
          model.set(key, true);
        } else if (!o.set) {
          const removed = r.unset(o.prog, o.vers, o.netid).length;
          let expected = 0;
          for (const key of [...model.keys()]) {
            const [p, v, n] = key.split('/');
            if (Number(p) === o.prog && Number(v) === o.vers && (o.netid === '' || n === o.netid)) {
              model.delete(key);
              expected++;
            }
          }
          if (removed !== expected) return false;
        }
      }
      return r.list().length === model.size && r.list().every((e) => model.has(`${e.prog}/${e.vers}/${e.netid}`));
    }),
    { seed: 42, numRuns: 200 },
  );
  t.pass();
});
