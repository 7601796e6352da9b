import t from 'tap';
import { parseRemap, RemapSyntaxError } from '@netboot/tftp-wire';

const get = { op: 'get' as const, address: '192.0.2.169' };

t.test('pxelinux quirks fixed the way admins write tftp-hpa maps', async (t) => {
  const map = parseRemap(
    [
      '# backslashes from Windows-minded clients',
      'rg \\\\ /',
      're ^/?(pxelinux\\.cfg/)(.*)$ \\1\\L\\2 # config names in lowercase',
      'ri ^BOOT/(.*) boot/\\U\\1\\E.img',
    ].join('\n'),
    'tftpd.map',
  );
  t.same(map.apply('pxelinux.cfg\\01-AA-BB', get), { refused: false, name: 'pxelinux.cfg/01-aa-bb', rule: 3 });
  t.same(map.apply('boot/kernel', get), { refused: false, name: 'boot/KERNEL.img', rule: 4 });
  t.same(map.apply('plain', get), { refused: false, name: 'plain' });
});

t.test('\\i, \\x, \\0, escaped whitespace and #', async (t) => {
  const map = parseRemap('r ^config$ cfg/\\i/\\x\\ \\#\\0');
  t.match(map.apply('config', get), { name: 'cfg/192.0.2.169/C00002A9 #config' });
  t.match(map.apply('config', { op: 'get', address: '2001:db8::1' }), { name: 'cfg/2001:db8::1/20010DB8000000000000000000000001 #config' });
});

t.test('e ends, s starts over, a refuses, G/P and 4/6 filter, ~ inverts', async (t) => {
  const map = parseRemap(['re ^a$ b', 'r ^b$ c', 'rs ^x y', 'r ^yy$ done', 'aP ^ro/', 'a6 ^v4only', '~a ^(ok|b|c|done|ro/|v4only)'].join('\n'));
  t.match(map.apply('a', get), { name: 'b' }, 'e stops before the b rule');
  t.match(map.apply('b', get), { name: 'c' });
  t.match(map.apply('xy', get), { name: 'done' }, 's restarts after rewriting');
  t.match(map.apply('ro/f', get), { refused: false });
  t.match(map.apply('ro/f', { op: 'put', address: '192.0.2.1' }), { refused: true });
  t.match(map.apply('v4only', { op: 'get', address: '2001:db8::1' }), { refused: true });
  t.match(map.apply('v4only', get), { refused: false });
  t.match(map.apply('other', get), { refused: true, rule: 7 }, '~a refuses what does not match');
});

t.test('rules that loop are stopped and refused', async (t) => {
  t.match(parseRemap('rg a aa').apply('a', get), { refused: true });
  t.match(parseRemap('rs a b\nrs b a').apply('a', get), { refused: true });
});

t.test('POSIX bracket classes', async (t) => {
  t.match(parseRemap('rg [[:upper:]] _').apply('AbC', get), { name: '_b_' });
});

t.test("a rule without a replacement rewrites to nothing, as in tftp-hpa's sample rules", async (t) => {
  // Written in the layout of tftp-hpa's sample.rules: tab-separated columns, trailing comments, \# escapes.
  const map = parseRemap(
    [
      '# operation\tregex\t\treplacement',
      'ri\t^[a-z]:\t\t\t\t# no replacement: the drive letter goes',
      'rg\t\\\\\t\t/\t\t# backslashes to slashes',
      'rg\t\\#\t\t@\t\t# hash marks to @',
      'e\t^ok/\t\t\t\t# always fine',
      'r\t^[^/]\t\t/\\0\t\t# make relative names absolute',
      'a\t\\.pvt$\t\t\t\t# never hand these out',
    ].join('\n'),
    'sample.rules',
  );
  t.match(map.apply('C:\\boot\\pxelinux.0', get), { refused: false, name: '/boot/pxelinux.0' });
  t.match(map.apply('ok/x#1', get), { refused: false, name: 'ok/x@1' });
  t.match(map.apply('keys.pvt', get), { refused: true });
});

t.test('syntax errors name file:line:column', async (t) => {
  const cases: [string, RegExp][] = [
    ['r ^a$ b\nrx ^a b', /^m:2:2: unknown operation "x"/],
    ['\n\nr', /^m:3:2: a rule needs a regular expression/],
    ['r (a b', /^m:1:3: bad regular expression/],
    ['~r a b', /^m:1:1: "~" cannot be combined with "r"/],
    ['r a b c', /^m:1:7: unexpected text/],
  ];
  for (const [text, message] of cases) {
    t.throws(() => parseRemap(text, 'm'), RemapSyntaxError);
    t.throws(() => parseRemap(text, 'm'), { message }, text);
  }
});
