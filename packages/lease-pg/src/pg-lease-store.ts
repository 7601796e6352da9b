import pg from 'pg';
import { formatIpv4, parseIpv4, type Claim, type Lease, type Reservation, type SharedLeaseStore } from '@netboot/dhcp-wire';
import { migrate } from './migrations.js';

export interface PgLeaseStoreOptions {
  /** postgres://USER@HOST[:PORT]/DB (a password from PGPASSWORD or ~/.pgpass; ?host=/dir for a unix socket). */
  url: string;
  /** Names this server in the rows it writes (the `server` column), for admins. */
  server: string;
  /** Connections at most (default 16): concurrent claims, which PostgreSQL commits together. */
  connections?: number;
  /** A call that has not finished in this time fails, and its request is not answered (default 5000 ms). */
  timeoutMs?: number;
}

interface Row {
  what?: string;
  ip: string;
  client: string;
  mac: string;
  start_ms: string;
  end_ms: string | null;
  state: string;
  seq: string;
}

const COLUMNS = 'host(ip) AS ip, client, mac, start_ms, end_ms, state, seq';

/*
 * An OFFER's address is held with one statement: the client's own live row
 * elsewhere wins when asked for (it is told, not overwritten); otherwise the
 * address is taken if nobody holds it, it is free again (released or ended),
 * or it is this client's offer. A bound lease of this client on the address
 * stays as it is: the offer is for the address it already has.
 */
const RESERVE = `
WITH own AS (
  SELECT ${COLUMNS} FROM netboot_lease4
  WHERE $7 AND client = $2 AND ip <> $1::inet AND state IN ('active', 'offered') AND (end_ms IS NULL OR end_ms > $4)
  ORDER BY state = 'active' DESC LIMIT 1
), claimed AS (
  INSERT INTO netboot_lease4 AS l (ip, client, mac, start_ms, end_ms, state, server)
  SELECT $1::inet, $2, $3, $4, $5, 'offered', $6 WHERE NOT EXISTS (SELECT 1 FROM own)
  ON CONFLICT (ip) DO UPDATE SET client = EXCLUDED.client, mac = EXCLUDED.mac, start_ms = EXCLUDED.start_ms,
    end_ms = EXCLUDED.end_ms, state = 'offered', server = EXCLUDED.server, seq = nextval('netboot_lease4_seq')
  WHERE (l.client = EXCLUDED.client AND l.state <> 'active') OR l.state = 'released' OR l.end_ms <= EXCLUDED.start_ms
  RETURNING 1
)
SELECT 'claimed' AS what, NULL AS ip, NULL AS client, NULL AS mac, NULL AS start_ms, NULL AS end_ms, NULL AS state, NULL AS seq FROM claimed
UNION ALL SELECT 'own', * FROM own
UNION ALL SELECT 'holder', ${COLUMNS} FROM netboot_lease4 WHERE ip = $1::inet AND NOT EXISTS (SELECT 1 FROM claimed)`;

/*
 * A lease is recorded with one statement: it takes the address if the row is
 * this client's (or, for a DECLINE, the declining client's), free again, or
 * absent. A client keeps the bound lease it has: binding it elsewhere while
 * that one lasts is refused (and it is told), which is what keeps an address
 * ACKed by one server from being freed by the other; two such binds at the
 * same moment meet the one-bound-lease constraint at commit. A bind drops
 * the client's other rows that no longer count (offers, ended leases).
 */
const RECORD = `
WITH own AS (
  SELECT ${COLUMNS} FROM netboot_lease4
  WHERE $6 = 'active' AND client = $2 AND ip <> $1::inet AND state = 'active' AND (end_ms IS NULL OR end_ms > $9)
  LIMIT 1
), claimed AS (
  INSERT INTO netboot_lease4 AS l (ip, client, mac, start_ms, end_ms, state, server)
  SELECT $1::inet, $2, $3, $4, $5, $6, $7 WHERE NOT EXISTS (SELECT 1 FROM own)
  ON CONFLICT (ip) DO UPDATE SET client = EXCLUDED.client, mac = EXCLUDED.mac, start_ms = EXCLUDED.start_ms,
    end_ms = EXCLUDED.end_ms, state = EXCLUDED.state, server = EXCLUDED.server, seq = nextval('netboot_lease4_seq')
  WHERE l.client = EXCLUDED.client OR l.client = $8 OR l.state = 'released' OR l.end_ms <= $9
  RETURNING 1
), moved AS (
  DELETE FROM netboot_lease4
  WHERE $6 = 'active' AND client = $2 AND ip <> $1::inet AND (state = 'offered' OR (state = 'active' AND end_ms <= $9))
    AND EXISTS (SELECT 1 FROM claimed)
)
SELECT 'claimed' AS what, NULL AS ip, NULL AS client, NULL AS mac, NULL AS start_ms, NULL AS end_ms, NULL AS state, NULL AS seq FROM claimed
UNION ALL SELECT 'own', * FROM own
UNION ALL SELECT 'holder', ${COLUMNS} FROM netboot_lease4 WHERE ip = $1::inet AND NOT EXISTS (SELECT 1 FROM claimed)`;

/** The constraint that refuses a second bound lease for one client (migration 2). */
const ONE_BOUND_LEASE = 'netboot_lease4_one_bound_lease';

/** Rows read again on every look for changes: writes that committed after a later one was already seen. */
const CHANGES_OVERLAP = 1000;

/**
 * Leases in PostgreSQL, shared by every netboot server pointed at the same
 * database. Each claim is a single statement on the row of its address (the
 * primary key), committed before it resolves, so no two servers can give one
 * address to two clients, and an ACK sent after it names a lease that
 * survives any crash of the server (as far as the database's own durability
 * goes: keep synchronous_commit on).
 */
export class PgLeaseStore implements SharedLeaseStore {
  readonly name: string;
  private lastSeq = 0;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly server: string,
    url: string,
  ) {
    this.name = redact(url);
  }

  /** Connects, creates or upgrades the schema, and returns the store; fails if the database cannot be reached. */
  static async open(opts: PgLeaseStoreOptions): Promise<PgLeaseStore> {
    const timeout = opts.timeoutMs ?? 5000;
    const pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.connections ?? 16,
      connectionTimeoutMillis: timeout,
      query_timeout: timeout,
      idleTimeoutMillis: 30_000,
      application_name: `netboot dhcp ${opts.server}`.slice(0, 63),
    });
    // A connection the server dropped while idle: the pool forgets it; the next claim reports the outage.
    pool.on('error', () => {});
    const store = new PgLeaseStore(pool, opts.server, opts.url);
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (e) {
      await pool.end().catch(() => {});
      throw new Error(`cannot reach the lease database ${store.name}: ${(e as Error).message}`);
    }
    try {
      await migrate(client);
    } catch (e) {
      client.release();
      await pool.end().catch(() => {});
      throw new Error(`lease database ${store.name}: ${(e as Error).message}`);
    }
    client.release();
    return store;
  }

  async load(): Promise<Lease[]> {
    const r = await this.pool.query<Row>(`SELECT ${COLUMNS} FROM netboot_lease4 ORDER BY seq`);
    for (const row of r.rows) this.lastSeq = Math.max(this.lastSeq, Number(row.seq));
    return toLeases(r.rows);
  }

  async reserve(o: Reservation, now: number, ownFirst: boolean): Promise<Claim> {
    const r = await this.pool.query<Row>(RESERVE, [formatIpv4(o.ip), o.client, o.mac, now, o.until, this.server, ownFirst]);
    if (r.rows.some((row) => row.what === 'claimed')) return { ok: true };
    const holders = r.rows.filter((row) => row.what !== 'claimed');
    // The client's own bound lease on this very address: the offer is for what it has.
    const holder = holders.find((row) => row.what === 'holder');
    if (holder && holder.client === o.client && holder.state === 'active' && (holder.end_ms === null || Number(holder.end_ms) > now)) {
      return { ok: true };
    }
    return { ok: false, holders: toLeases(holders) };
  }

  async record(lease: Lease, now: number): Promise<Claim> {
    // A DECLINE's row names "declined-by-<client>"; the declining client may take over its own address.
    const owner = lease.client.startsWith('declined-by-') ? lease.client.slice('declined-by-'.length) : lease.client;
    const end = lease.end === Infinity ? null : lease.end;
    let r: pg.QueryResult<Row>;
    try {
      r = await this.pool.query<Row>(RECORD, [formatIpv4(lease.ip), lease.client, lease.mac, lease.start, end, lease.state, this.server, owner, now]);
    } catch (e) {
      // Another server bound this client elsewhere in the same moment: its lease stands.
      if ((e as { constraint?: string }).constraint === ONE_BOUND_LEASE) return { ok: false, holders: await this.lookup(lease.ip, lease.client) };
      throw e;
    }
    if (r.rows.some((row) => row.what === 'claimed')) return { ok: true };
    return { ok: false, holders: toLeases(r.rows) };
  }

  /**
   * Rows written since the last look. A write that commits after a later one
   * was already read is caught by reading the last CHANGES_OVERLAP again; one
   * slower than that is missed here, which costs a refused claim (and the
   * row then), never a wrong answer.
   */
  async changes(): Promise<Lease[]> {
    const r = await this.pool.query<Row>(`SELECT ${COLUMNS} FROM netboot_lease4 WHERE seq > $1 ORDER BY seq LIMIT 20000`, [
      Math.max(0, this.lastSeq - CHANGES_OVERLAP),
    ]);
    for (const row of r.rows) this.lastSeq = Math.max(this.lastSeq, Number(row.seq));
    return toLeases(r.rows);
  }

  /** Rows on an address or of a client, as the database has them now. */
  async lookup(ip: number, client: string): Promise<Lease[]> {
    const r = await this.pool.query<Row>(`SELECT ${COLUMNS} FROM netboot_lease4 WHERE ip = $1::inet OR client = $2 ORDER BY seq`, [formatIpv4(ip), client]);
    return toLeases(r.rows);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * Rows as the policy learns them, offers first: the policy keeps one lease
 * per client, the last it was told, and a client's bound lease must win over
 * an offer another server made it meanwhile.
 */
function toLeases(rows: Row[]): Lease[] {
  return [...rows.filter((r) => r.state === 'offered'), ...rows.filter((r) => r.state !== 'offered')].map(toLease);
}

/** A row as the policy sees it: a held offer is a short lease of its client. */
function toLease(row: Row): Lease {
  return {
    ip: parseIpv4(row.ip)!,
    client: row.client,
    mac: row.mac,
    start: Number(row.start_ms),
    end: row.end_ms === null ? Infinity : Number(row.end_ms),
    state: row.state === 'offered' ? 'active' : (row.state as Lease['state']),
  };
}

/** The URL without its password, for log lines. */
export function redact(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:@/]*):[^@/]*@/, '$1:***@');
}
