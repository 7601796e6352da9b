import { MIGRATIONS, PgLeaseStore } from '@netboot/lease-pg';

// With a database (NETBOOT_LEASE_STORE=postgres://netboot@198.18.0.10/netboot, the password in
// ~/.pgpass or PGPASSWORD): open the store as a DHCP server does, creating or upgrading the
// schema, and list the leases every server sharing it has written.
const url = process.env.NETBOOT_LEASE_STORE;
if (url) {
  const store = await PgLeaseStore.open({ url, server: 'example' }); // `server`: this server's name in the rows
  for (const lease of await store.load()) console.log(lease);
  console.log(`${store.name}: leases listed`); // the URL with any password hidden
  await store.close();
} else {
  // Without one: the schema open() would create, step by step, for review by whoever runs the database.
  MIGRATIONS.forEach((sql, i) => console.log(`-- schema version ${i + 1}\n${sql.trim()}\n`));
}
