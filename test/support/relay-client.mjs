// A DHCP client that talks to one chosen server as a relay would (giaddr set,
// replies come back to port 67 here), so a test can say which of two masters
// answers. Run in a namespace whose address is the relay address:
//
//   node relay-client.mjs SERVER RELAY '[{"op":"dora","mac":"02:..."},{"op":"renew","mac":"02:...","ip":"198.18.."}]'
//
// Prints one JSON line: per operation { mac, op, type, ip } (type "ack", "nak" or "none").
import { formatIpv4, getOption, parseIpv4 } from '@netboot/dhcp-wire';
import { clientMessage, macBytes, relayChannel, u32 } from './dhcp-relay.mjs';

const [server, relay, opsJson] = process.argv.slice(2);
const ops = JSON.parse(opsJson);
const channel = await relayChannel(relay, server);

let xid = (process.pid * 7919) >>> 0;
const message = (type, mac, extra, ciaddr = 0) => clientMessage(type, macBytes(mac), channel.giaddr, extra, { ciaddr });

/** Sends and waits for the reply with the same xid: three tries, a second each. */
async function exchange(msg) {
  const r = await channel.exchange(msg, [1000, 1000, 1000], { retry: (m) => (m.xid = xid = (xid + 1) >>> 0) });
  return r?.reply;
}

const typeOf = (d) => (d ? ({ 2: 'offer', 5: 'ack', 6: 'nak' }[getOption(d, 53)?.[0]] ?? 'other') : 'none');
const results = [];
for (const op of ops) {
  if (op.op === 'dora') {
    const offer = await exchange(message(1, op.mac, []));
    if (typeOf(offer) !== 'offer') {
      results.push({ mac: op.mac, op: op.op, type: typeOf(offer), ip: null });
      continue;
    }
    const sid = getOption(offer, 54);
    const ack = await exchange(message(3, op.mac, [{ code: 50, data: u32(offer.yiaddr) }, { code: 54, data: Buffer.from(sid) }]));
    results.push({ mac: op.mac, op: op.op, type: typeOf(ack), ip: ack && ack.yiaddr ? formatIpv4(ack.yiaddr) : null });
  } else {
    // RENEWING/REBINDING: ciaddr set, no server identifier, so whichever server hears it may answer.
    const ack = await exchange(message(3, op.mac, [], parseIpv4(op.ip)));
    results.push({ mac: op.mac, op: op.op, type: typeOf(ack), ip: ack && ack.yiaddr ? formatIpv4(ack.yiaddr) : null });
  }
}
console.log(JSON.stringify(results));
channel.close();
