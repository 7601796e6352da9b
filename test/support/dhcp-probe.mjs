// A DHCP client that plays several kinds of boot client against one server,
// as a relay would (giaddr set, replies come back to port 67 here), so two
// servers can be asked exactly the same thing. Run in a namespace whose
// address is the relay address:
//
//   node dhcp-probe.mjs SERVER RELAY '[{"mac":"02:..","kind":"bios","request":"198.18.10.40"}, ...]'
//
// For each client: DISCOVER, then REQUEST of the offered address; clients of
// one MAC one after the other, different MACs at once; at the end every
// address acked is released. Prints one JSON line: per client { offer, ack },
// each null or
// { type, yiaddr, siaddr, sname, file, options: [[code, hex], ...] } with the
// options in the order the server sent them.
import { formatIpv4, getOption, parseIpv4 } from '@netboot/dhcp-wire';
import { clientMessage, macBytes as hex, relayChannel, u32 } from './dhcp-relay.mjs';

const [server, relay, clientsJson] = process.argv.slice(2);
const clients = JSON.parse(clientsJson);
const channel = await relayChannel(relay, server);
const PXE_PRL = [1, 2, 3, 5, 6, 11, 12, 13, 15, 16, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135];
const uuid = Buffer.concat([Buffer.from([0]), hex('4c4c4544003510538032b8c04f4e3732')]);

/** What each kind of client sends besides its message type, as the real firmware does. */
const KINDS = {
  bios: [
    [57, Buffer.from([0x04, 0xec])],
    [55, Buffer.from(PXE_PRL)],
    [97, uuid],
    [93, Buffer.from([0, 0])],
    [94, Buffer.from([1, 2, 1])],
    [60, Buffer.from('PXEClient:Arch:00000:UNDI:002001')],
  ],
  uefi: [
    [57, Buffer.from([0x05, 0xc0])],
    [55, Buffer.from([1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135])],
    [97, uuid],
    [94, Buffer.from([1, 3, 16])],
    [93, Buffer.from([0, 7])],
    [60, Buffer.from('PXEClient:Arch:00007:UNDI:003016')],
  ],
  ipxe: [
    [57, Buffer.from([0x05, 0xc0])],
    [93, Buffer.from([0, 0])],
    [94, Buffer.from([1, 2, 1])],
    [60, Buffer.from('PXEClient:Arch:00000:UNDI:002001')],
    [77, Buffer.from('iPXE')],
    [55, Buffer.from([1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203])],
    [175, hex('b1050113010101eb0300012212010101')],
  ],
  http: [
    [57, Buffer.from([0x05, 0xc0])],
    [55, Buffer.from([1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135])],
    [97, uuid],
    [94, Buffer.from([1, 3, 16])],
    [93, Buffer.from([0, 16])],
    [60, Buffer.from('HTTPClient:Arch:00016:UNDI:003001')],
  ],
  // No client identifier from any kind: dhcpd keys leases by it and by hardware address in ways netboot's one key
  // (option 61, else the MAC) does not follow when one MAC comes with and without it.
  plain: [
    [55, Buffer.from([1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42])],
    [12, Buffer.from('probe')],
  ],
  // A client asking for two options only (not the subnet mask), and one with no request list at all.
  minimal: [[55, Buffer.from([3, 6])]],
  nolist: [],
};

let xid = (process.pid * 7919) >>> 0;
function message(type, client, extra) {
  const kind = KINDS[client.kind].map(([code, data]) => ({ code, data }));
  return clientMessage(type, hex(client.mac), channel.giaddr, [...kind, ...extra], { secs: 4 });
}

/** Sends and waits for the reply with the same xid: one try of 2 s (the link is a veth pair; dhcpd's ping-check takes a second). */
async function exchange(msg) {
  const r = await channel.exchange(msg, [2000], { retry: (m) => (m.xid = xid = (xid + 1) >>> 0) });
  return r?.reply;
}

const text = (b) => {
  const end = b.indexOf(0);
  return Buffer.from(b.subarray(0, end < 0 ? b.length : end)).toString('latin1');
};
function describe(d) {
  if (!d) return null;
  return {
    type: getOption(d, 53)?.[0] ?? 0,
    yiaddr: formatIpv4(d.yiaddr),
    siaddr: formatIpv4(d.siaddr),
    sname: text(d.sname),
    file: text(d.file),
    options: d.options.map((o) => [o.code, Buffer.from(o.data).toString('hex')]),
  };
}

async function dora(client) {
  const wanted = client.request ? [{ code: 50, data: u32(parseIpv4(client.request)) }] : [];
  const offer = await exchange(message(1, client, wanted));
  if (!offer || getOption(offer, 53)?.[0] !== 2) return { offer: describe(offer), ack: null, raw: undefined };
  const sid = getOption(offer, 54);
  const ack = await exchange(message(3, client, [{ code: 50, data: u32(offer.yiaddr) }, ...(sid ? [{ code: 54, data: Buffer.from(sid) }] : [])]));
  return { offer: describe(offer), ack: describe(ack), raw: ack };
}

const results = new Array(clients.length);
const byMac = new Map();
clients.forEach((c, k) => byMac.set(c.mac, [...(byMac.get(c.mac) ?? []), k]));
await Promise.all(
  [...byMac.values()].map(async (indexes) => {
    for (const k of indexes) results[k] = await dora(clients[k]);
  }),
);
// Give back what was leased, so a server asked again later has these addresses free.
for (const [k, r] of results.entries()) {
  if (!r.raw || getOption(r.raw, 53)?.[0] !== 5) continue;
  const sid = getOption(r.raw, 54);
  const release = message(7, clients[k], sid ? [{ code: 54, data: Buffer.from(sid) }] : []);
  release.ciaddr = r.raw.yiaddr;
  release.xid = xid = (xid + 1) >>> 0;
  await channel.send(release);
}
console.log(JSON.stringify(results.map(({ offer, ack }) => ({ offer, ack }))));
channel.close();
