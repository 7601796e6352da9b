import { isIPv6 } from 'node:net';
import t from 'tap';
import fc from 'fast-check';
import { formatIp, parseIp } from '@netboot/mountd';

t.test('literals', async (t) => {
  t.same(parseIp('198.18.1.21'), { family: 4, bytes: Uint8Array.from([198, 18, 1, 21]) });
  t.same(parseIp('::ffff:198.18.1.21'), { family: 4, bytes: Uint8Array.from([198, 18, 1, 21]) }, 'IPv4-mapped is IPv4');
  t.same(parseIp('::FFFF:c612:115'), { family: 4, bytes: Uint8Array.from([198, 18, 1, 21]) });
  t.equal(formatIp(parseIp('2001:DB8:0:0:0:0:0:1')!), '2001:db8::1');
  t.equal(formatIp(parseIp('fe80::1%eth0')!), 'fe80::1', 'a zone is ignored');
  t.equal(formatIp(parseIp('2001:db8:0:1:0:0:0:1')!), '2001:db8:0:1::1', 'the longest zero run is compressed');
  t.equal(formatIp(parseIp('2001:0:0:1:0:0:0:1')!), '2001:0:0:1::1');
  t.equal(formatIp(parseIp('1:0:1:1:1:1:1:1')!), '1:0:1:1:1:1:1:1', 'a single zero word is not compressed');
  t.equal(formatIp(parseIp('::')!), '::');
  t.equal(formatIp(parseIp('::1.2.3.4')!), '::102:304');
  for (const bad of ['', '198.18.1', '198.18.1.256', '010.1.1.1', '1.2.3.4.5', ' 1.2.3.4', 'host', '1::2::3', '12345::', 'fe80::1%']) {
    t.equal(parseIp(bad), undefined, JSON.stringify(bad));
  }
});

t.test('IPv6 text round-trips through bytes, canonically', async (t) => {
  fc.assert(
    fc.property(fc.ipV6(), (text) => {
      const ip = parseIp(text)!;
      const canonical = formatIp(ip);
      if (!isIPv6(canonical) && ip.family === 6) throw new Error(`${canonical} is not IPv6`);
      const again = parseIp(canonical)!;
      if (again.family !== ip.family || again.bytes.some((b, i) => b !== ip.bytes[i])) throw new Error(`${text} -> ${canonical}`);
      if (formatIp(again) !== canonical) throw new Error(`${canonical} is not stable`);
      return true;
    }),
    { seed: 42, numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.ipV4(), (text) => formatIp(parseIp(text)!) === text),
    { seed: 42, numRuns: 200 },
  );
  t.pass();
});
