import t from 'tap';
import fc from 'fast-check';
import {
  formatUaddr,
  isLoopback,
  localAddressFor,
  mergeUaddr,
  parseUaddr,
  taddrToUaddr,
  uaddrToTaddr,
} from '@netboot/portmap';

const RUNS = { seed: 42, numRuns: 200 };

t.test('universal addresses: IPv4 and IPv6 both ways', async (t) => {
  t.equal(formatUaddr('198.18.11.1', 2049), '198.18.11.1.8.1');
  t.equal(formatUaddr('::1', 111), '::1.0.111');
  t.same(parseUaddr('0.0.0.0.0.111'), { address: '0.0.0.0', port: 111, family: 4 });
  t.same(parseUaddr('fe80::1.255.255'), { address: 'fe80::1', port: 65535, family: 6 });
  t.same(parseUaddr('::ffff:127.0.0.1.3.232'), { address: '::ffff:127.0.0.1', port: 1000, family: 6 });
  for (const bad of ['', '1.2.3.4', '1.2.3.4.5', '1.2.3.4.256.1', '1.2.3.4.01.1', 'host.0.111', '1.2.3.4.-1.0', '/run/rpcbind.sock']) {
    t.equal(parseUaddr(bad), undefined, JSON.stringify(bad));
  }
  t.throws(() => formatUaddr('1.2.3.4', 65536), RangeError);
  t.throws(() => formatUaddr('nope', 1), RangeError);
});

t.test('universal addresses: property round trip', async (t) => {
  fc.assert(
    fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 0, max: 65535 }), (a, port) => {
      const u = parseUaddr(formatUaddr(a, port));
      return u !== undefined && u.address === a && u.port === port;
    }),
    RUNS,
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (s) => {
      const u = parseUaddr(s);
      return u === undefined || formatUaddr(u.address, u.port) === s;
    }),
    RUNS,
  );
  t.pass();
});

t.test('transport addresses: Linux sockaddr_in / sockaddr_in6 bytes', async (t) => {
  const sin = uaddrToTaddr('127.0.0.1.0.111')!;
  t.equal(sin.toString('hex'), '0200006f7f0000010000000000000000');
  t.equal(taddrToUaddr(sin), '127.0.0.1.0.111');
  const sin6 = uaddrToTaddr('fe80::1:2.8.1')!;
  t.equal(sin6.length, 28);
  t.equal(sin6.subarray(0, 4).toString('hex'), '0a000801');
  t.equal(taddrToUaddr(sin6), 'fe80::1:2.8.1');
  t.equal(taddrToUaddr(uaddrToTaddr('::ffff:10.1.2.3.0.1')!), '::ffff:a01:203.0.1');
  t.equal(taddrToUaddr(Buffer.from('0300', 'hex')), undefined);
  t.equal(taddrToUaddr(Buffer.from('09000000', 'hex')), undefined);
  t.equal(uaddrToTaddr('junk'), undefined);
  fc.assert(
    fc.property(fc.ipV4(), fc.integer({ min: 0, max: 65535 }), (a, p) => taddrToUaddr(uaddrToTaddr(formatUaddr(a, p))!) === formatUaddr(a, p)),
    RUNS,
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
      const u = taddrToUaddr(b);
      return u === undefined || parseUaddr(u) !== undefined;
    }),
    RUNS,
  );
});

t.test('loopback callers: 127.0.0.0/8 and ::1, also IPv4-mapped', async (t) => {
  for (const a of ['127.0.0.1', '127.9.8.7', '::1', '::ffff:127.0.0.1']) t.ok(isLoopback(a), a);
  for (const a of ['198.18.11.2', '::ffff:198.18.11.2', '::', '0.0.0.0', 'fe80::1', '128.0.0.1']) t.notOk(isLoopback(a), a);
});

t.test('a wildcard registration is answered with the address the caller reached', async (t) => {
  t.equal(mergeUaddr('0.0.0.0.8.1', '198.18.11.1'), '198.18.11.1.8.1');
  t.equal(mergeUaddr('198.18.5.5.8.1', '198.18.11.1'), '198.18.5.5.8.1');
  t.equal(mergeUaddr('0.0.0.0.8.1', undefined), '0.0.0.0.8.1');
  t.equal(mergeUaddr('::.8.1', '198.18.11.1'), '::.8.1');
  const ifs = [
    { address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4' as const, internal: true },
    { address: '198.18.11.1', netmask: '255.255.255.0', family: 'IPv4' as const, internal: false },
    { address: '198.19.0.1', netmask: '255.255.0.0', family: 'IPv4' as const, internal: false },
  ];
  t.equal(localAddressFor('198.19.4.4', ifs), '198.19.0.1');
  t.equal(localAddressFor('198.18.11.7', ifs), '198.18.11.1');
  t.equal(localAddressFor('127.0.0.1', ifs), '127.0.0.1');
  t.equal(localAddressFor('203.0.113.9', ifs), '198.18.11.1');
  t.equal(localAddressFor('2001:db8::1', ifs), undefined);
});
