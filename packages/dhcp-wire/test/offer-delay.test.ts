import t from 'tap';
import { DhcpServer, decode, encode, parseConfig } from '@netboot/dhcp-wire';
import { until } from '../../../test/support/until.js';
import { bind, discover, link } from './loopback.js';

/*
 * offerDelay: an OFFER is held for what the server's pacing asks (capped),
 * not sent at once; a server closed meanwhile sends nothing. The server
 * listens on 127.0.0.1; DISCOVERs come as from a relay on 127.0.0.2.
 */

const conf = parseConfig('authoritative;\nsubnet 127.0.0.0 netmask 255.0.0.0 {\n  range 127.0.0.10 127.0.0.12;\n}\n', 'test.conf');

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
