import t from 'tap';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LeaseStore, parseLeaseFile, formatLease, parseIpv4, type Lease } from '@netboot/dhcp-wire';

const lease = (n: number, state: Lease['state'] = 'active'): Lease => ({
  ip: parseIpv4('198.18.21.0')! + n,
  client: `01020000000${n.toString(16).padStart(3, '0')}`,
  mac: `02:00:00:00:0${Math.floor(n / 256)}:${(n % 256).toString(16).padStart(2, '0')}`,
  start: 1000 * n,
  end: state === 'active' && n % 2 ? Infinity : 1000 * n + 600_000,
  state,
});

t.test('commits are durable records; concurrent commits share syncs; reload reads them back', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'dhcpd.leases');
  const live = new Map<number, Lease>();
  const { store, leases } = LeaseStore.open(path, { snapshot: () => live.values() });
  t.same(leases, []);
  const all = Array.from({ length: 50 }, (_, k) => lease(k + 1));
  await Promise.all(all.map((l) => (live.set(l.ip, l), store.commit(l))));
  await store.close();
  const back = LeaseStore.open(path, { snapshot: () => [] });
  t.same(back.leases, all);
  await back.store.close();
});

t.test('a record torn by a crash is dropped and cut, the rest survive', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'dhcpd.leases');
  writeFileSync(path, formatLease(lease(1)) + formatLease(lease(2)));
  appendFileSync(path, formatLease(lease(3)).slice(0, 20));
  const { store, leases } = LeaseStore.open(path, { snapshot: () => [] });
  t.same(leases, [lease(1), lease(2)]);
  await store.commit(lease(4));
  await store.close();
  t.same(parseLeaseFile(readFileSync(path, 'latin1')).leases, [lease(1), lease(2), lease(4)]);
});

t.test('compaction rewrites only the live leases by atomic rename', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'dhcpd.leases');
  const live = new Map<number, Lease>();
  const { store } = LeaseStore.open(path, { snapshot: () => live.values(), compactSlack: 20 });
  for (let round = 0; round < 10; round++) {
    for (let k = 1; k <= 5; k++) {
      const l = { ...lease(k), start: round };
      live.set(l.ip, l);
      await store.commit(l);
    }
  }
  await store.close();
  const { leases, bad } = parseLeaseFile(readFileSync(path, 'latin1'));
  t.equal(bad, 0);
  t.ok(leases.length < 50, `compacted to ${leases.length} records`);
  const last = new Map(leases.map((l) => [l.ip, l]));
  t.same([...last.values()].map((l) => l.start), [9, 9, 9, 9, 9]);
});
