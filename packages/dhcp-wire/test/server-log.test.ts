import t from 'tap';
import { DhcpServer, encode, parseConfig } from '@netboot/dhcp-wire';
import { bind, discover, link } from './loopback.js';

/*
 * What the server logs about clients: text a client chose (its host name
 * through a config's log() statement) cannot forge a log line, and a flood
 * of undecodable datagrams is one line per interval. The server listens on
 * 127.0.0.1; DISCOVERs come as from a relay on 127.0.0.2.
 */

const conf = parseConfig(
  `authoritative;
subnet 127.0.0.0 netmask 255.0.0.0 {
  range 127.0.0.10 127.0.0.12;
  log(info, concat("host name ", option host-name));
}
`,
  'test.conf',
);

t.test('log lines: client text escaped, malformed datagrams rate-limited', async (t) => {
  const socket = await bind('127.0.0.1');
  const port = socket.address().port;
  const client = await bind('127.0.0.2');
  let wake = () => {};
  const lines: string[] = [];
  const server = new DhcpServer({ config: conf, link, sockets: new Map([[port, socket]]), serverPort: port, log: (l) => (lines.push(l), wake()) });
  t.teardown(async () => {
    await server.close();
    client.close();
  });
  /** Resolves when a logged line matches, bounded by 5 s. */
  const logged = (re: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no log line matched ${re}: ${JSON.stringify(lines)}`)), 5000);
      wake = () => {
        const hit = lines.find((l) => re.test(l));
        if (hit) {
          clearTimeout(timer);
          resolve(hit);
        }
      };
      wake();
    });

  client.send(encode(discover(7, '020000000001', [{ code: 12, data: Buffer.from('node1\nDHCPACK on 127.0.0.99 to forged') }])), port, '127.0.0.1');
  t.equal(await logged(/^host name /), 'host name node1\\x0aDHCPACK on 127.0.0.99 to forged', 'the newline a client sent is shown, not written');
  t.notOk(lines.some((l) => l.includes('\n')), 'no line holds a newline');

  for (let i = 0; i < 20; i++) client.send(Buffer.from([1, 2, 3, i]), port, '127.0.0.1');
  await logged(/malformed/);
  // The datagram after the twenty is a DISCOVER: once it is logged, all twenty were handled.
  client.send(encode(discover(8, '020000000001', [{ code: 12, data: Buffer.from('node2') }])), port, '127.0.0.1');
  await logged(/^host name node2$/);
  t.equal(lines.filter((l) => /malformed/.test(l)).length, 1, 'twenty malformed datagrams, one line');
});
