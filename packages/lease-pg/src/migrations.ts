import type { PoolClient } from 'pg';

/**
 * The schema, one step per version: step N takes a database at version N-1
 * to N. Steps are only ever appended; a released step is never edited, since
 * databases out there are already past it.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: one row per address. `ip` is the primary key, so an address can be
  // held by one client only; every claim is an INSERT ... ON CONFLICT on it.
  // Times are milliseconds since the epoch as the servers' clocks give them;
  // end_ms NULL is BOOTP's infinite lease. 'offered' rows hold an OFFER's
  // address for a minute. `seq` grows with every write, so a server can read
  // what the others changed since it last looked.
  `
  CREATE SEQUENCE netboot_lease4_seq;
  CREATE TABLE netboot_lease4 (
    ip inet PRIMARY KEY,
    client text NOT NULL,
    mac text NOT NULL,
    start_ms bigint NOT NULL,
    end_ms bigint,
    state text NOT NULL CHECK (state IN ('offered', 'active', 'released', 'abandoned')),
    server text NOT NULL,
    seq bigint NOT NULL DEFAULT nextval('netboot_lease4_seq')
  );
  CREATE INDEX netboot_lease4_client ON netboot_lease4 (client);
  CREATE INDEX netboot_lease4_seq_idx ON netboot_lease4 (seq);
  -- For people: the same rows with times as timestamps.
  CREATE VIEW netboot_leases AS
    SELECT ip, mac, state, to_timestamp(start_ms / 1000.0) AS starts,
           CASE WHEN end_ms IS NULL THEN 'infinity'::timestamptz ELSE to_timestamp(end_ms / 1000.0) END AS ends,
           server, client
    FROM netboot_lease4;
  `,
  // 2: a client holds one bound lease at a time. Checked at commit, so the
  // statement that binds a client's new address may drop its ended one
  // first, and two servers binding one client to two addresses at the same
  // moment cannot both commit.
  `
  DELETE FROM netboot_lease4 a USING netboot_lease4 b
    WHERE a.client = b.client AND a.state = 'active' AND b.state = 'active' AND a.seq < b.seq;
  ALTER TABLE netboot_lease4 ADD CONSTRAINT netboot_lease4_one_bound_lease
    EXCLUDE USING btree (client WITH =) WHERE (state = 'active') DEFERRABLE INITIALLY DEFERRED;
  `,
];

/** Any number, the same in every netboot: the lock that lets one server at a time create or upgrade the schema. */
const MIGRATION_LOCK = 0x6e62_6c34;

/**
 * Brings the schema to the newest version, in one transaction under an
 * advisory lock (two servers starting together do it once). Refuses a
 * database that a newer netboot already upgraded past what this one knows.
 */
export async function migrate(client: PoolClient): Promise<{ from: number; to: number }> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS netboot_schema (version integer NOT NULL)');
    const r = await client.query<{ version: number }>('SELECT version FROM netboot_schema');
    const from = r.rows[0]?.version ?? 0;
    if (from > MIGRATIONS.length) {
      throw new Error(`the lease schema is at version ${from}, newer than this netboot knows (${MIGRATIONS.length}); run the newer netboot, or another database`);
    }
    for (let v = from; v < MIGRATIONS.length; v++) await client.query(MIGRATIONS[v]);
    if (r.rows.length === 0) await client.query('INSERT INTO netboot_schema (version) VALUES ($1)', [MIGRATIONS.length]);
    else await client.query('UPDATE netboot_schema SET version = $1', [MIGRATIONS.length]);
    await client.query('COMMIT');
    return { from, to: MIGRATIONS.length };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  }
}
