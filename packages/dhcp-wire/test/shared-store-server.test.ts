import t, { type Test } from 'tap';
import { until } from '../../../test/support/until.js';
import { createSocket, type Socket } from 'node:dgram';
import {
  DhcpServer,
  decode,
  encode,
  formatIpv4,
  getOption,
  parseConfig,
  parseIpv4,
  type Claim,
  type DhcpMessage,
  type Lease,
  type Link,
  type Reservation,
  type SharedLeaseStore,
} from '@netboot/dhcp-wire';

/*
 * The server's side of a shared store, with a store in memory that another
 * "server" can write to behind its back and that can be switched off: what
 * goes out is only what the store agreed to. Traffic is relayed over
 * loopback: the server on 127.0.0.1, the relay (giaddr) on 127.0.0.2.
 */

const ip = (s: string) => parseIpv4(s)!;
const conf = parseConfig(
  `authoritative;
default-lease-time 600;
subnet 127.0.0.0 netmask 255.0.0.0 { range 127.0.0.10 127.0.0.12; }
`,
  'test.conf',
);
const link: Link = { name: 'lo', address: ip('127.0.0.1'), network: ip('127.0.0.0'), mask: ip('255.0.0.0') };

class MemoryStore implements SharedLeaseStore {
  readonly name = 'memory';
  rows = new Map<number, Lease>();
  down = false;
  calls = 0;
  /**
   * The next claim waits here (after saying so through `entered`) and then fails with what it is given, if
   * anything; with `finishes`, a claim the store had begun before it went down succeeds even so.
   */
  stall?: { entered: () => void; outcome: Promise<Error | undefined>; finishes?: boolean };
  private free(l: Lease | undefined, client: string, now: number) {
    return !l || l.client === client || l.state === 'released' || l.end <= now;
  }
  async load() {
    return [...this.rows.values()];
  }
  async reserve(r: Reservation, now: number): Promise<Claim> {
    return this.claim({ ip: r.ip, client: r.client, mac: r.mac, start: now, end: r.until, state: 'active' }, now);
  }
  async record(l: Lease, now: number): Promise<Claim> {
    return this.claim(l, now);
  }
  private async claim(l: Lease, now: number): Promise<Claim> {
    this.calls++;
    const stall = this.stall;
    if (stall) {
      this.stall = undefined;
      stall.entered();
      const err = await stall.outcome;
      if (err) throw err;
    }
    if (this.down && !stall?.finishes) throw new Error('connection refused');
    const held = this.rows.get(l.ip);
    if (!this.free(held, l.client, now)) return { ok: false, holders: [held!] };
    this.rows.set(l.ip, l);
    return { ok: true };
  }
  async lookup(addr: number, client: string) {
    return [...this.rows.values()].filter((l) => l.ip === addr || l.client === client);
  }
  async changes() {
    return [];
  }
  async close() {}
}

function bind(address: string, port = 0): Promise<Socket> {
  return new Promise((resolve) => {
    const s = createSocket({ type: 'udp4', reuseAddr: true });
    s.bind({ address, port }, () => resolve(s));
  });
}

async function setup(t: Test) {
  const store = new MemoryStore();
  const serverSocket = await bind('127.0.0.1');
  const port = serverSocket.address().port;
  const relay = await bind('127.0.0.2', port); // replies to a relay go to giaddr:<server port>
  const lines: string[] = [];
  const server = await DhcpServer.open({ config: conf, link, sockets: new Map([[port, serverSocket]]), serverPort: port, sharedStore: store, log: (l) => lines.push(l) });
  t.teardown(async () => {
    await server.close();
    relay.close();
  });
  let xid = 1;
  /** One request through the relay; the reply, or undefined after 300 ms. */
  const ask = (type: number, mac: string, extra: { code: number; data: Buffer }[] = [], ciaddr = 0) =>
    new Promise<DhcpMessage | undefined>((resolve) => {
      const id = xid++;
      const chaddr = Buffer.alloc(16);
      Buffer.from(mac, 'hex').copy(chaddr);
      const m: DhcpMessage = {
        op: 1, htype: 1, hlen: 6, hops: 1, xid: id, secs: 0, flags: 0, ciaddr, yiaddr: 0, siaddr: 0, giaddr: ip('127.0.0.2'),
        chaddr, sname: Buffer.alloc(0), file: Buffer.alloc(0), cookie: true,
        options: [{ code: 53, data: Buffer.from([type]) }, ...extra],
      };
      const timer = setTimeout(() => {
        relay.off('message', on);
        resolve(undefined);
      }, 300);
      const on = (b: Buffer) => {
        const d = decode(b);
        if (d.xid !== id) return;
        clearTimeout(timer);
        relay.off('message', on);
        resolve(d);
      };
      relay.on('message', on);
      relay.send(encode(m), port, '127.0.0.1');
    });
  return { store, server, lines, ask };
}

const u32 = (s: string) => Buffer.from(s.split('.').map(Number));
const type = (m: DhcpMessage | undefined) => (m ? getOption(m, 53)?.[0] : undefined);

t.test('an address another server holds is learned and the next one offered', async (t) => {
  const { store, ask } = await setup(t);
  const now = Date.now();
  // The other server bound .10 behind this one's back.
  store.rows.set(ip('127.0.0.10'), { ip: ip('127.0.0.10'), client: '01aa', mac: 'aa', start: now, end: now + 600_000, state: 'active' });
  const offer = await ask(1, '020000000001');
  t.equal(type(offer), 2);
  t.equal(formatIpv4(offer!.yiaddr), '127.0.0.11', 'offered the next address, not the held one');
  t.equal(store.rows.get(ip('127.0.0.11'))?.client, '01020000000001', 'after holding it in the store');
  const ack = await ask(3, '020000000001', [{ code: 50, data: u32('127.0.0.11') }, { code: 54, data: u32('127.0.0.1') }]);
  t.equal(type(ack), 5);
  // A REQUEST for the held address is NAKed, after asking the store.
  const nak = await ask(3, '020000000002', [{ code: 50, data: u32('127.0.0.10') }]);
  t.equal(type(nak), 6, 'NAK for an address the other server bound');
});

t.test('renewal of a lease the other server made: this one knew nothing of it, the store says it is the client\'s', async (t) => {
  const { store, ask } = await setup(t);
  const now = Date.now();
  store.rows.set(ip('127.0.0.12'), { ip: ip('127.0.0.12'), client: '01020000000003', mac: '02:00:00:00:00:03', start: now, end: now + 600_000, state: 'active' });
  const ack = await ask(3, '020000000003', [], ip('127.0.0.12'));
  t.equal(type(ack), 5);
  t.equal(formatIpv4(ack!.yiaddr), '127.0.0.12');
});

t.test('a store that cannot be reached: no answer at all, one log line, and a line when it is back', async (t) => {
  const { store, lines, ask } = await setup(t);
  store.down = true;
  for (let i = 0; i < 5; i++) t.equal(await ask(1, `02000000001${i}`), undefined, `request ${i}: no answer`);
  t.equal(lines.filter((l) => /answering nothing that cannot be recorded/.test(l)).length, 1, 'the outage logged once');
  t.equal(store.rows.size, 0);
  store.down = false;
  const offer = await ask(1, '020000000020');
  t.equal(type(offer), 2, 'answers again (the unsent offers of the outage hold no address)');
  t.match(lines.join('\n'), /lease store memory is back after [\d.]+ s; 5 requests were left unanswered meanwhile/);
});

t.test('a claim begun during the outage that fails after the store is back does not log a second outage', async (t) => {
  const { store, lines, ask } = await setup(t);
  store.down = true;
  t.equal(await ask(1, '020000000030'), undefined, 'no answer while the store is down');
  // One claim begins during the outage and stays in the store (as on a connection the outage broke) ...
  let entered!: () => void;
  const inStore = new Promise<void>((resolve) => (entered = resolve));
  let fail!: (e: Error) => void;
  store.stall = { entered, outcome: new Promise<Error | undefined>((resolve) => (fail = resolve)) };
  const stalled = ask(1, '020000000031');
  await inStore;
  // ... the store comes back and a later claim succeeds ...
  store.down = false;
  t.equal(type(await ask(1, '020000000032')), 2, 'answered once the store is back');
  t.match(lines.join('\n'), /lease store memory is back after/);
  // ... then the old claim fails.
  fail(new Error('Connection terminated unexpectedly'));
  t.equal(await stalled, undefined, 'the failed claim is not answered');
  t.equal(type(await ask(1, '020000000033')), 2, 'and the server goes on answering');
  t.equal(lines.filter((l) => /answering nothing that cannot be recorded/.test(l)).length, 1, 'one outage, logged once');
});

t.test('a claim begun before the outage that succeeds after it was met does not end it, within one millisecond too', async (t) => {
  // Every claim begins and ends in the same millisecond, as a burst on a busy machine can.
  const frozen = Date.now();
  const realNow = Date.now;
  Date.now = () => frozen;
  t.teardown(() => {
    Date.now = realNow;
  });
  const { store, lines, ask } = await setup(t);
  let entered!: () => void;
  const inStore = new Promise<void>((resolve) => (entered = resolve));
  let finish!: (e: Error | undefined) => void;
  // A claim begins while the store is up and stays in it (its statement running when the database stops) ...
  store.stall = { entered, outcome: new Promise<Error | undefined>((resolve) => (finish = resolve)), finishes: true };
  const early = ask(1, '020000000040');
  await inStore;
  store.down = true;
  t.equal(await ask(1, '020000000041'), undefined, 'no answer once the store is down');
  // ... and succeeds after the outage was met.
  finish(undefined);
  await early;
  await until(() => lines.some((l) => /^DHCPOFFER .*02:00:00:00:00:40/.test(l)), 'the early claim answered');
  t.notMatch(lines.join('\n'), /is back after/, 'the early claim says nothing of the store now');
  t.equal(await ask(1, '020000000042'), undefined, 'still no answer while the store is down');
  store.down = false;
  t.equal(type(await ask(1, '020000000043')), 2, 'answered once the store is back');
  t.equal(lines.filter((l) => /answering nothing that cannot be recorded/.test(l)).length, 1, 'one outage, logged once');
  t.equal(lines.filter((l) => /is back after/.test(l)).length, 1, 'and its end once');
});
