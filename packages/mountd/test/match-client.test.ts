import t from 'tap';
import { decideMount, matchClient, matchClientSpec, MountStat, parseExports } from '@netboot/mountd';

const one = (line: string) => parseExports(line, 'exports', { warn: () => {} })[0];

t.test('single hosts, networks and IPv4-mapped peers', async (t) => {
  const exp = one('/diskless/198.18.1.21 198.18.1.21(rw,no_root_squash) 2001:db8::21(ro)');
  t.equal(matchClient(exp, '198.18.1.21')?.rw, true);
  t.equal(matchClient(exp, '::ffff:198.18.1.21')?.rw, true, 'a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d');
  t.equal(matchClient(exp, '198.18.1.22'), undefined, 'an unlisted client is not matched');
  t.equal(matchClient(exp, '2001:db8:0:0::21')?.rw, false, 'IPv6 compares as an address, not as text');
  t.equal(matchClient(exp, 'not-an-address'), undefined);

  const net = one('/usr 198.18.1.0/24(ro) 198.18.0.0/255.255.0.0(rw) 2001:db8::/32(rw)');
  t.equal(matchClientSpec(net, '198.18.1.200')?.text, '198.18.1.0/24', 'the first network that contains the client wins');
  t.equal(matchClientSpec(net, '198.18.7.1')?.text, '198.18.0.0/255.255.0.0');
  t.equal(matchClient(net, '198.19.0.1'), undefined);
  t.equal(matchClient(net, '2001:db8:ffff::1')?.rw, true);
  t.equal(matchClient(net, '2001:db9::1'), undefined);
  t.equal(matchClient(one('/all 0.0.0.0/0(rw)'), '203.0.113.9')?.rw, true);
});

t.test('exports(5) precedence: host, then network, then wildcard, then anonymous, whatever the order written', async (t) => {
  const exp = one('/srv *(ro) *.lab(rw,all_squash) 198.18.1.0/24(rw,async) node1.lab(rw,no_root_squash) 198.18.1.9(ro,insecure)');
  t.equal(matchClientSpec(exp, '198.18.1.9', ['node9.lab'])?.text, '198.18.1.9', 'a host address beats a network written before it');
  t.equal(matchClientSpec(exp, '198.18.1.9', ['node1.lab'])?.text, 'node1.lab', 'among hosts, the first written wins');
  t.equal(matchClientSpec(exp, '198.18.1.10', ['node1.lab'])?.text, 'node1.lab', 'a host beats a network');
  t.equal(matchClientSpec(exp, '198.18.1.11', ['node2.lab'])?.text, '198.18.1.0/24', 'a network beats a wildcard');
  t.equal(matchClientSpec(exp, '198.18.2.11', ['node2.lab'])?.text, '*.lab', 'a wildcard beats anonymous');
  t.equal(matchClientSpec(exp, '198.18.2.11', ['node2.elsewhere'])?.text, '*');
  t.equal(matchClientSpec(exp, '198.18.2.11')?.text, '*');
});

t.test('wildcards match names case-insensitively, and the address text when there is no name', async (t) => {
  const exp = one('/srv *.example.org(rw) node?? n[0-4]x(rw) m[!0-4]y(rw) 198.18.3.*(rw)');
  t.equal(matchClientSpec(exp, '198.18.9.1', ['WS7.Example.ORG.'])?.text, '*.example.org');
  t.equal(matchClientSpec(exp, '198.18.9.1', ['example.org']), undefined, '* needs at least the dot before it here');
  t.equal(matchClientSpec(exp, '198.18.9.1', ['node12'])?.text, 'node??');
  t.equal(matchClientSpec(exp, '198.18.9.1', ['node123']), undefined);
  t.equal(matchClientSpec(exp, '198.18.9.1', ['n3x'])?.text, 'n[0-4]x');
  t.equal(matchClientSpec(exp, '198.18.9.1', ['n5x']), undefined);
  t.equal(matchClientSpec(exp, '198.18.9.1', ['m5y'])?.text, 'm[!0-4]y');
  t.equal(matchClientSpec(exp, '198.18.9.1', ['m3y']), undefined);
  t.equal(matchClientSpec(exp, '198.18.3.77')?.text, '198.18.3.*', 'as nfs-utils, an unnamed client is matched by its address text');
});

t.test('named hosts match only through verified names', async (t) => {
  const exp = one('/srv node1(rw)');
  t.equal(matchClient(exp, '198.18.1.5'), undefined);
  t.equal(matchClient(exp, '198.18.1.5', ['NODE1'])?.rw, true);
});

t.test('MNT decisions', async (t) => {
  const exports = parseExports(
    ['/diskless/198.18.1.21 198.18.1.21(rw,no_root_squash)', '/usr 198.18.1.0/24(ro)', '/usr/share 198.18.9.0/24(rw,insecure)', '/pub *(ro,insecure)'].join('\n'),
    'exports',
  );
  const d = (path: string, address: string, port = 800) => decideMount(exports, { path, address, port });
  t.match(d('/diskless/198.18.1.21', '198.18.1.21'), { granted: true, subpath: '', options: { rw: true } });
  t.match(d('/diskless/198.18.1.21/', '198.18.1.21'), { granted: true, path: '/diskless/198.18.1.21' });
  t.match(d('/diskless/198.18.1.21', '198.18.1.22'), { granted: false, status: MountStat.ACCES, why: /client not listed/ });
  t.match(d('/diskless/198.18.1.21', '198.18.1.21', 40000), { granted: false, status: MountStat.ACCES, why: /source port 40000 is not below 1024/ });
  t.match(d('/pub', '203.0.113.1', 40000), { granted: true }, 'insecure exports take any port');
  t.match(d('/nowhere', '198.18.1.21'), { granted: false, status: MountStat.NOENT, why: 'not exported' });
  t.match(d('relative', '198.18.1.21'), { granted: false, status: MountStat.NOENT });
  t.match(d('/diskless', '198.18.1.21'), { granted: false, status: MountStat.NOENT }, 'a directory above an export is not exported');
  t.match(d('/usr/lib/x', '198.18.1.7'), { granted: true, subpath: 'lib/x', export: { path: '/usr' } });
  t.match(d('/usr/share/doc', '198.18.9.7', 2000), { granted: true, subpath: 'doc', export: { path: '/usr/share' } }, 'the deepest export wins');
  t.match(d('/usr/share/doc', '198.18.1.7'), { granted: true, subpath: 'share/doc', export: { path: '/usr' } }, 'falls back to an export above that lists the client');
  t.match(d('/usr/../diskless/198.18.1.21', '198.18.1.7'), { granted: false, status: MountStat.ACCES }, '.. is resolved before matching');
});
