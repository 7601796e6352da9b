import { LockTable, Nlm4Stat } from '@netboot/nlm';

// The lock manager's state without sockets: POSIX byte-range locks per file handle,
// blocked requests granted in arrival order. startLockDaemon puts it on RPC (NLM v4 + NSM).
const table = new LockTable<string>(); // the context: what the adapter needs for the GRANTED callback
const statName = (stat: number) => Object.entries(Nlm4Stat).find(([, value]) => value === stat)?.[0];
const fh = Buffer.from('a file handle');
const node1 = { host: 'node1', svid: 101, oh: Buffer.from('node1:101') };
const node2 = { host: 'node2', svid: 202, oh: Buffer.from('node2:202') };
const firstKiB = { fh, exclusive: true, offset: 0n, length: 1024n }; // length 0n: to the end of the file

const first = table.lock({ ...firstKiB, owner: node1 }, { block: false, reclaim: false, context: 'node1' });
console.log(`node1 LOCK: ${statName(first.stat)}`); // GRANTED
const tested = table.test({ ...firstKiB, owner: node2 });
if (tested.stat === Nlm4Stat.DENIED) console.log(`node2 TEST: DENIED, held by svid ${tested.holder.svid}`);
const waiting = table.lock({ ...firstKiB, owner: node2 }, { block: true, reclaim: false, context: 'node2' });
console.log(`node2 blocking LOCK: ${statName(waiting.stat)}`); // BLOCKED

table.unlock({ ...firstKiB, owner: node1 });
for (const grant of table.takeGrants()) console.log(`granted to ${grant.context} after node1's UNLOCK`);
