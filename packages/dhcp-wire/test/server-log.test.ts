import t from 'tap';
import { once } from 'node:events';
import { createSocket, type Socket } from 'node:dgram';
import { DhcpServer, encode, parseConfig, parseIpv4, type DhcpMessage, type Link } from '@netboot/dhcp-wire';

/*
 * What the server logs about clients: text a client chose (its host name
 * through a config's log() statement) cannot forge a log line, and a flood
 * of undecodable datagrams is one line per interval. The server listens on
 * 127.0.0.1; DISCOVERs come as from a relay on 127.0.0.2.
 */

const ip = (s: string) => parseIpv4(s)!;
const conf = parseConfig(
  `authoritative;
subnet 127.0.0.0 netmask 255.0.0.0 {
  range 127.0.0.10 127.0.0.12;
  log(info, concat("host name ", option host-name));
}
`,
  'test.conf',
);
const link: Link = { name: 'lo', address: ip('127.0.0.1'), network: ip('127.0.0.0'), mask: ip('255.0.0.0') };

async function bind(address: string): Promise<Socket> {
  const s = createSocket({ type: 'udp4', reuseAddr: true });
  s.bind({ address, port: 0 });
  await once(s, 'listening');
  return s;
}

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

  const chaddr = Buffer.alloc(16);
  Buffer.from('020000000001', 'hex').copy(chaddr);
  const discover: DhcpMessage = {
    op: 1, htype: 1, hlen: 6, hops: 1, xid: 7, secs: 0, flags: 0, ciaddr: 0, yiaddr: 0, siaddr: 0, giaddr: ip('127.0.0.2'),
    chaddr, sname: Buffer.alloc(0), file: Buffer.alloc(0), cookie: true,
    options: [{ code: 53, data: Buffer.from([1]) }, { code: 12, data: Buffer.from('node1\nDHCPACK on 127.0.0.99 to forged') }],
  };
  client.send(encode(discover), port, '127.0.0.1');
  t.equal(await logged(/^host name /), 'host name node1\\x0aDHCPACK on 127.0.0.99 to forged', 'the newline a client sent is shown, not written');
  t.notOk(lines.some((l) => l.includes('\n')), 'no line holds a newline');

  for (let i = 0; i < 20; i++) client.send(Buffer.from([1, 2, 3, i]), port, '127.0.0.1');
  await logged(/malformed/);
  // The datagram after the twenty is a DISCOVER: once it is logged, all twenty were handled.
  client.send(encode({ ...discover, xid: 8, options: [{ code: 53, data: Buffer.from([1]) }, { code: 12, data: Buffer.from('node2') }] }), port, '127.0.0.1');
  await logged(/^host name node2$/);
  t.equal(lines.filter((l) => /malformed/.test(l)).length, 1, 'twenty malformed datagrams, one line');
});
