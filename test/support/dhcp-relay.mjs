// The client side of DHCP as a relay agent sees it, for child scripts that
// play boot clients inside a network namespace (test/support/dhcp-probe.mjs,
// test/support/relay-client.mjs, bench/lib/boot-nodes.js): one UDP socket at
// the relay address, port 67, where the server sends every reply to a
// relayed request (RFC 2131 4.1, giaddr); the clients behind it are told
// apart by xid. Plain JavaScript over the built @netboot/dhcp-wire, so a
// child process runs it as it is.
import dgram from 'node:dgram';
import { decode, encode, getOption, parseIpv4 } from '@netboot/dhcp-wire';

/** A 32-bit value (an IPv4 address as a number) as option data. */
export const u32 = (n) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

/** A MAC as "02:00:..." (or bare hex) as bytes. */
export const macBytes = (mac) => Buffer.from(mac.replace(/:/g, ''), 'hex');

/**
 * A client's BOOTREQUEST as relayed: message type `type` (option 53) first,
 * then `options` ({ code, data }) in order; `fields` sets header fields
 * (xid, secs, ciaddr).
 */
export function clientMessage(type, mac, giaddr, options, fields = {}) {
  const chaddr = Buffer.alloc(16);
  mac.copy(chaddr);
  return {
    op: 1, htype: 1, hlen: 6, hops: 1, xid: 0, secs: 0, flags: 0, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr,
    chaddr, sname: Buffer.alloc(0), file: Buffer.alloc(0), cookie: true,
    options: [{ code: 53, data: Buffer.from([type]) }, ...options],
    ...fields,
  };
}

/**
 * Binds RELAY:67 and returns the relay's channel to SERVER. `exchange(msg,
 * timeouts, { accepts, retry })` sends `msg` and waits for the reply with its
 * xid (of a type in `accepts`, option 53, when given), once per entry of
 * `timeouts` (ms); `retry(msg, attempt)` changes the message before each
 * send (a new xid, the seconds elapsed). It resolves to { reply, retries },
 * or undefined when every try went unanswered.
 */
export async function relayChannel(relay, server) {
  // Room for a storm's replies in one burst: a relay that drops them would be counted as the server's retries.
  const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true, recvBufferSize: 4 * 1024 * 1024 });
  await new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(67, relay, resolve);
  });
  const waiting = new Map();
  socket.on('message', (m) => {
    let d;
    try {
      d = decode(m);
    } catch {
      return;
    }
    const w = waiting.get(d.xid);
    if (w && (!w.accepts || w.accepts.includes(getOption(d, 53)?.[0]))) {
      waiting.delete(d.xid);
      w.resolve(d);
    }
  });
  return {
    giaddr: parseIpv4(relay),
    async exchange(msg, timeouts, { accepts, retry } = {}) {
      for (const [attempt, timeout] of timeouts.entries()) {
        retry?.(msg, attempt);
        const reply = new Promise((resolve) => {
          const timer = setTimeout(() => {
            waiting.delete(msg.xid);
            resolve(undefined);
          }, timeout);
          waiting.set(msg.xid, {
            accepts,
            resolve: (d) => {
              clearTimeout(timer);
              resolve(d);
            },
          });
        });
        socket.send(encode(msg), 67, server);
        const d = await reply;
        if (d) return { reply: d, retries: attempt };
      }
      return undefined;
    },
    /** Sends without waiting for a reply (a RELEASE). */
    send: (msg) => new Promise((done) => socket.send(encode(msg), 67, server, done)),
    close: () => socket.close(),
  };
}
