// A DHCP client that talks to one chosen server as a relay would (giaddr set,
// replies come back to port 67 here), so a test can say which of two masters
// answers. Run in a namespace whose address is the relay address:
//
//   node relay-client.mjs SERVER RELAY '[{"op":"dora","mac":"02:..."},{"op":"renew","mac":"02:...","ip":"198.18.."}]'
//
// Prints one JSON line: per operation { mac, op, type, ip } (type "ack", "nak" or "none").
import dgram from 'node:dgram';
import { decode, encode, formatIpv4, getOption, parseIpv4 } from '@netboot/dhcp-wire';

const [server, relay, opsJson] = process.argv.slice(2);
const ops = JSON.parse(opsJson);
const giaddr = parseIpv4(relay);
const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
await new Promise((r) => socket.bind(67, relay, r));
const waiting = new Map();
socket.on('message', (m) => {
  let d;
  try {
    d = decode(m);
  } catch {
    return;
  }
  const w = waiting.get(d.xid);
  if (w) {
    waiting.delete(d.xid);
    w(d);
  }
});

let xid = (process.pid * 7919) >>> 0;
function message(type, mac, extra, ciaddr = 0) {
  const chaddr = Buffer.alloc(16);
  Buffer.from(mac.split(':').map((h) => parseInt(h, 16))).copy(chaddr);
  return {
    op: 1, htype: 1, hlen: 6, hops: 1, xid: 0, secs: 0, flags: 0, ciaddr, yiaddr: 0, siaddr: 0, giaddr,
    chaddr, sname: Buffer.alloc(0), file: Buffer.alloc(0), cookie: true,
    options: [{ code: 53, data: Buffer.from([type]) }, ...extra],
  };
}
const u32 = (n) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

/** Sends and waits for the reply with the same xid: three tries, a second each. */
async function exchange(msg) {
  for (let attempt = 0; attempt < 3; attempt++) {
    msg.xid = xid = (xid + 1) >>> 0;
    const reply = new Promise((resolve) => {
      const timer = setTimeout(() => {
        waiting.delete(msg.xid);
        resolve(undefined);
      }, 1000);
      waiting.set(msg.xid, (d) => {
        clearTimeout(timer);
        resolve(d);
      });
    });
    socket.send(encode(msg), 67, server);
    const d = await reply;
    if (d) return d;
  }
  return undefined;
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
socket.close();
