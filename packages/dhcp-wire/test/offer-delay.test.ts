import t from 'tap';
import { once } from 'node:events';
import { createSocket, type Socket } from 'node:dgram';
import { DhcpServer, decode, encode, parseConfig, parseIpv4, type DhcpMessage, type Link } from '@netboot/dhcp-wire';
import { until } from '../../../test/support/until.js';

/*
 * offerDelay: an OFFER is held for what the server's pacing asks (capped),
 * not sent at once; a server closed meanwhile sends nothing. The server
 * listens on 127.0.0.1; DISCOVERs come as from a relay on 127.0.0.2.
 */

const ip = (s: string) => parseIpv4(s)!;
const conf = parseConfig('authoritative;\nsubnet 127.0.0.0 netmask 255.0.0.0 {\n  range 127.0.0.10 127.0.0.12;\n}\n', 'test.conf');
const link: Link = { name: 'lo', address: ip('127.0.0.1'), network: ip('127.0.0.0'), mask: ip('255.0.0.0') };

async function bind(address: string): Promise<Socket> {
  const s = createSocket({ type: 'udp4', reuseAddr: true });
  s.bind({ address, port: 0 });
  await once(s, 'listening');
  return s;
}

function discover(xid: number, mac: string): DhcpMessage {
  const chaddr = Buffer.alloc(16);
  Buffer.from(mac, 'hex').copy(chaddr);
  return {
    op: 1, htype: 1, hlen: 6, hops: 1, xid, secs: 0, flags: 0, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: ip('127.0.0.2'),
    chaddr, sname: Buffer.alloc(0), file: Buffer.alloc(0), cookie: true, options: [{ code: 53, data: Buffer.from([1]) }],
  };
}

t.test('an OFFER waits as long as offerDelay says; closing drops a held one', async (t) => {
  const socket = await bind('127.0.0.1');
  const port = socket.address().port;
  const client = await bind('127.0.0.2');
  t.teardown(() => client.close());
  // What leaves the server's socket, and when.
  const sent: Array<{ xid: number; at: number }> = [];
  const send = socket.send.bind(socket) as (...a: unknown[]) => void;
  (socket as unknown as { send: (...a: unknown[]) => void }).send = (...a: unknown[]) => {
    sent.push({ xid: decode(a[0] as Buffer).xid, at: Date.now() });
    send(...a);
  };
  let delay = 300;
  const decided = new Map<number, number>();
  const server = new DhcpServer({
    config: conf, link, sockets: new Map([[port, socket]]), serverPort: port, log: () => {},
    offerDelay: () => delay,
    onExchange: (req) => decided.set(req.xid, Date.now()),
  });

  client.send(encode(discover(1, '020000000001')), port, '127.0.0.1');
  await until(() => decided.has(1), 'the first DISCOVER decided');
  t.equal(sent.length, 0, 'not sent when decided');
  await until(() => sent.length === 1, 'the held OFFER sent');
  t.ok(sent[0].at - decided.get(1)! >= delay - 20, `held about ${delay} ms (${sent[0].at - decided.get(1)!} ms)`);

  delay = 0;
  client.send(encode(discover(2, '020000000002')), port, '127.0.0.1');
  await until(() => sent.length === 2, 'the second OFFER sent');
  t.equal(sent[1].xid, 2, 'with no delay asked, at once');

  delay = 60_000;
  client.send(encode(discover(3, '020000000003')), port, '127.0.0.1');
  await until(() => decided.has(3), 'the third DISCOVER decided');
  await server.close();
  t.equal(sent.length, 2, 'a held OFFER is not sent by a closed server');
});
