import t, { type Test } from 'tap';
import pg from 'pg';
import { parseIpv4, type Lease } from '@netboot/dhcp-wire';
import { MIGRATIONS, PgLeaseStore, redact } from '@netboot/lease-pg';
import { startTestPostgres } from '../../../test/support/postgres.js';

/*
 * The store against a real PostgreSQL (a cluster this test makes with
 * initdb and serves on a unix socket of its own). Each subtest uses a
 * database of its own in that cluster.
 */

const ip = (s: string) => parseIpv4(s)!;
const HOUR = 3_600_000;

function lease(addr: string, client: string, start: number, end: number, state: Lease['state'] = 'active'): Lease {
  return { ip: ip(addr), client, mac: `02:00:00:00:00:${client.slice(-2)}`, start, end, state };
}

t.test('PostgreSQL lease store', async (t) => {
  const server = await startTestPostgres(t, 5441);
  if (!server) return;
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  t.teardown(() => admin.end());
  let n = 0;
  const freshDb = async () => {
    const name = `leases${++n}`;
    await admin.query(`CREATE DATABASE ${name}`);
    return server.url.replace('/postgres?', `/${name}?`);
  };
  const open = async (t: Test, url: string, name = 'a') => {
    const s = await PgLeaseStore.open({ url, server: name });
    t.teardown(() => s.close());
    return s;
  };

  t.test('creates the versioned schema on first start, once', async (t) => {
    const url = await freshDb();
    const a = await open(t, url);
    const b = await open(t, url, 'b');
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    t.teardown(() => db.end());
    const v = await db.query('SELECT version FROM netboot_schema');
    t.same(v.rows, [{ version: MIGRATIONS.length }], 'one version row, the newest');
    t.same(await a.load(), []);
    t.same(await b.load(), []);
    await db.query('UPDATE netboot_schema SET version = 99');
    await t.rejects(PgLeaseStore.open({ url, server: 'c' }), /schema is at version 99, newer than this netboot knows/);
  });

  t.test('an unreachable database is refused at start, naming it without its password', async (t) => {
    await t.rejects(PgLeaseStore.open({ url: 'postgres://u:secret@/x?host=/nonexistent-dir', server: 'a', timeoutMs: 1000 }), /cannot reach the lease database postgres:\/\/u:\*\*\*@/);
    t.equal(redact('postgresql://me:pw@db.example:5432/leases'), 'postgresql://me:***@db.example:5432/leases');
  });

  t.test('claim, renew, release, expire, decline', async (t) => {
    const s = await open(t, await freshDb());
    const now = Date.now();
    // An offer holds the address against other clients.
    t.same(await s.reserve({ ip: ip('198.18.0.10'), client: '01aa', mac: 'm', until: now + 60_000 }, now, true), { ok: true });
    const other = await s.reserve({ ip: ip('198.18.0.10'), client: '01bb', mac: 'm', until: now + 60_000 }, now, true);
    t.equal(other.ok, false, "another client's offer on the address is refused");
    t.same(!other.ok && other.holders.map((h) => h.client), ['01aa'], 'and told who holds it');
    // The lease.
    t.same(await s.record(lease('198.18.0.10', '01aa', now, now + HOUR), now), { ok: true });
    const taken = await s.record(lease('198.18.0.10', '01bb', now, now + HOUR), now);
    t.equal(taken.ok, false, "another client's lease on a bound address is refused");
    // Renewal: the same client again, later end.
    t.same(await s.record(lease('198.18.0.10', '01aa', now + 1000, now + 2 * HOUR), now + 1000), { ok: true });
    // An offer to the bound client on its own address keeps the lease bound.
    t.same(await s.reserve({ ip: ip('198.18.0.10'), client: '01aa', mac: 'm', until: now + 60_000 }, now + 2000, true), { ok: true });
    // Own lease first: the client is told about its lease instead of getting a second address.
    const second = await s.reserve({ ip: ip('198.18.0.11'), client: '01aa', mac: 'm', until: now + 60_000 }, now + 2000, true);
    t.same(!second.ok && second.holders.map((h) => [h.ip, h.state, h.end]), [[ip('198.18.0.10'), 'active', now + 2 * HOUR]]);
    let rows = await s.load();
    t.same(rows.map((r) => [r.ip, r.client, r.state]), [[ip('198.18.0.10'), '01aa', 'active']], 'still one bound row');
    // Release frees it for anyone.
    t.same(await s.record({ ...lease('198.18.0.10', '01aa', now, now + 3000), state: 'released' }, now + 3000), { ok: true });
    t.same(await s.record(lease('198.18.0.10', '01bb', now + 4000, now + 4000 + HOUR), now + 4000), { ok: true });
    // Expiry frees it too: 01bb's lease ends, 01cc takes the address after that, not before.
    t.same(await s.record(lease('198.18.0.10', '01bb', now + 5000, now + 6000), now + 5000), { ok: true }, 'a short renewal');
    t.equal((await s.record(lease('198.18.0.10', '01cc', now + 5500, now + HOUR), now + 5500)).ok, false, 'not before it ends');
    t.same(await s.record(lease('198.18.0.10', '01cc', now + 7000, now + HOUR), now + 7000), { ok: true }, 'after it ends');
    // Decline: the client that holds it abandons it; nobody gets it until the abandonment ends.
    t.same(await s.record({ ...lease('198.18.0.10', 'declined-by-01cc', now + 8000, now + HOUR), state: 'abandoned' }, now + 8000), { ok: true });
    t.equal((await s.record(lease('198.18.0.10', '01dd', now + 9000, now + HOUR), now + 9000)).ok, false, 'an abandoned address stays out');
    // BOOTP's infinite lease never ends.
    t.same(await s.record(lease('198.18.0.12', '01ee', now, Infinity), now), { ok: true });
    t.equal((await s.record(lease('198.18.0.12', '01ff', now, now + HOUR), now + 100 * 365 * 24 * HOUR)).ok, false, 'infinite lease still held a century later');
    rows = await s.load();
    t.same(rows.find((r) => r.ip === ip('198.18.0.12'))?.end, Infinity);
  });

  t.test('a client keeps its bound lease; once it ends, a new one drops the old row and the offers', async (t) => {
    const s = await open(t, await freshDb());
    const now = Date.now();
    t.same(await s.record(lease('198.18.0.20', '01aa', now, now + HOUR), now), { ok: true });
    t.same(await s.reserve({ ip: ip('198.18.0.22'), client: '01aa', mac: 'm', until: now + 60_000 }, now, false), { ok: true });
    const moved = await s.record(lease('198.18.0.21', '01aa', now, now + HOUR), now);
    t.same(!moved.ok && moved.holders.map((h) => h.ip), [ip('198.18.0.20')], 'binding it elsewhere is refused while its lease lasts');
    t.same(await s.record(lease('198.18.0.20', '01aa', now, now + 1000), now), { ok: true }, 'a short renewal');
    t.same(await s.record(lease('198.18.0.21', '01aa', now + 2000, now + HOUR), now + 2000), { ok: true }, 'after it ended');
    t.same((await s.load()).map((r) => r.ip), [ip('198.18.0.21')], 'the ended lease and the offer are gone');
    t.same((await s.lookup(ip('198.18.0.20'), '01aa')).map((r) => r.ip), [ip('198.18.0.21')]);
  });

  t.test('two stores binding one client to two addresses at the same moment: one wins', async (t) => {
    const url = await freshDb();
    const [a, b] = [await open(t, url, 'a'), await open(t, url, 'b')];
    const now = Date.now();
    let both = 0;
    let neither = 0;
    for (let c = 0; c < 30; c++) {
      const client = `02${c.toString(16).padStart(2, '0')}`;
      const [ra, rb] = await Promise.all([
        a.record(lease(`198.18.2.${c}`, client, now, now + HOUR), now),
        b.record(lease(`198.18.3.${c}`, client, now, now + HOUR), now),
      ]);
      if (ra.ok && rb.ok) both++;
      if (!ra.ok && !rb.ok) neither++;
    }
    t.equal(both, 0, 'never both');
    t.equal(neither, 0, 'never neither');
    const rows = await a.load();
    t.equal(rows.length, 30, 'one bound row per client');
  });

  t.test('two stores racing for one pool never give an address to two clients', async (t) => {
    const url = await freshDb();
    const stores = [await open(t, url, 'a'), await open(t, url, 'b')];
    const POOL = 40;
    const CLIENTS = 60;
    const now = Date.now();
    const granted = new Map<number, Set<string>>(); // ip -> clients whose lease was recorded on it
    const held = new Map<string, number>(); // client -> ip
    // Each client asks both servers at once, as a broadcast DISCOVER reaches both; each server
    // tries addresses from its own starting point, learning holders as its claims are refused.
    const serve = async (store: PgLeaseStore, start: number, client: string) => {
      const known = new Set<number>();
      for (let k = 0; k < POOL; k++) {
        const addr = ip('198.18.1.0') + ((start + k) % POOL);
        if (known.has(addr)) continue;
        const r = await store.reserve({ ip: addr, client, mac: 'm', until: now + 60_000 }, now, true);
        if (!r.ok) {
          for (const h of r.holders) if (h.client === client) return; // already has one through the other server
          known.add(addr);
          continue;
        }
        const rec = await store.record(lease(`198.18.1.${addr & 255}`, client, now, now + HOUR), now);
        if (rec.ok) {
          if (!granted.has(addr)) granted.set(addr, new Set());
          granted.get(addr)!.add(client);
          held.set(client, addr);
        }
        return;
      }
    };
    const jobs: Promise<void>[] = [];
    for (let c = 0; c < CLIENTS; c++) {
      const client = `01${c.toString(16).padStart(2, '0')}`;
      jobs.push(serve(stores[0], 0, client), serve(stores[1], 0, client));
    }
    await Promise.all(jobs);
    const doubles = [...granted].filter(([, cs]) => cs.size > 1).map(([a, cs]) => `${a}: ${[...cs]}`);
    t.same(doubles, [], 'zero addresses recorded for two clients');
    const rows = (await stores[0].load()).filter((r) => r.state === 'active' && r.end > now + 60_000);
    t.equal(rows.length, POOL, `the pool of ${POOL} is full (${CLIENTS} clients asked)`);
    t.equal(new Set(rows.map((r) => r.client)).size, rows.length, 'each bound row a different client');
    t.same(
      rows.filter((r) => !granted.get(r.ip)?.has(r.client)),
      [],
      "every row's client is the one its lease was granted to",
    );
  });
});
