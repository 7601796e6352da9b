import t from 'tap';
import { DEFAULT_EXPORT_OPTIONS, ExportsError, parseExports, type ExportsWarning } from '@netboot/mountd';

const DISKLESS = `# /etc/exports of a diskless master (the guide's layout)
/diskless/198.18.1.21 198.18.1.21(rw,sync,no_root_squash,no_subtree_check)
/diskless/198.18.1.22 198.18.1.22(rw,sync,no_root_squash,no_subtree_check)
/usr    198.18.1.0/24(ro,sync)   # shared, read-only
/opt    198.18.1.0/255.255.255.0(ro,sync,no_subtree_check)
/home   198.18.1.0/24(rw,sync,root_squash,anonuid=1000,anongid=1000) \\
        admin.example.org(rw,no_root_squash)
`;

function parse(text: string) {
  const warnings: ExportsWarning[] = [];
  const exports = parseExports(text, '/etc/exports', { warn: (w) => warnings.push(w) });
  return { exports, warnings };
}

function errorOf(text: string): ExportsError {
  try {
    parseExports(text, '/etc/exports');
  } catch (e) {
    if (e instanceof ExportsError) return e;
    throw e;
  }
  throw new Error(`no error for ${JSON.stringify(text)}`);
}

t.test('a realistic diskless /etc/exports', async (t) => {
  const { exports, warnings } = parse(DISKLESS);
  t.same(warnings, []);
  t.same(
    exports.map((e) => [e.path, e.source.line, e.clients.map((c) => [c.kind, c.text, c.line, c.column])]),
    [
      ['/diskless/198.18.1.21', 2, [['host', '198.18.1.21', 2, 23]]],
      ['/diskless/198.18.1.22', 3, [['host', '198.18.1.22', 3, 23]]],
      ['/usr', 4, [['cidr', '198.18.1.0/24', 4, 9]]],
      ['/opt', 5, [['cidr', '198.18.1.0/255.255.255.0', 5, 9]]],
      ['/home', 6, [['cidr', '198.18.1.0/24', 6, 9], ['host', 'admin.example.org', 7, 9]]],
    ],
  );
  const root = exports[0].clients[0];
  t.same(root.options, { ...DEFAULT_EXPORT_OPTIONS, rw: true, sync: true, rootSquash: false, subtreeCheck: false });
  t.equal(root.address, '198.18.1.21');
  t.equal(root.family, 4);
  t.same(exports[2].clients[0].options, DEFAULT_EXPORT_OPTIONS, '/usr ro,sync is exactly the defaults');
  t.same([exports[3].clients[0].address, exports[3].clients[0].prefix], ['198.18.1.0', 24], 'a netmask becomes a prefix');
  const home = exports[4].clients;
  t.same([home[0].options.anonuid, home[0].options.anongid, home[0].options.rootSquash], [1000, 1000, true]);
  t.same([home[1].name, home[1].options.rw, home[1].options.rootSquash], ['admin.example.org', true, false]);
});

t.test('defaults are those of exports(5) and modern nfs-utils', async (t) => {
  t.same(DEFAULT_EXPORT_OPTIONS, {
    rw: false,
    sync: true,
    rootSquash: true,
    allSquash: false,
    anonuid: 65534,
    anongid: 65534,
    secure: true,
    subtreeCheck: false,
    crossmnt: false,
    nohide: false,
  });
  const { exports } = parse('/srv host1()\n');
  t.same(exports[0].clients[0].options, DEFAULT_EXPORT_OPTIONS, 'an empty option list gives the defaults');
});

t.test('every option word', async (t) => {
  const o = (opts: string) => parse(`/x h(${opts})`).exports[0].clients[0].options;
  t.same(
    o('rw,async,no_root_squash,all_squash,anonuid=7,anongid=8,insecure,subtree_check,fsid=12,crossmnt,nohide'),
    { rw: true, sync: false, rootSquash: false, allSquash: true, anonuid: 7, anongid: 8, secure: false, subtreeCheck: true, fsid: 12, crossmnt: true, nohide: true },
  );
  t.same(o('rw,ro').rw, false, 'the last word wins, as nfs-utils');
  t.same(o('all_squash,no_all_squash').allSquash, false);
  t.same(o('nohide,hide').nohide, false);
  t.same(o('crossmnt,nocrossmnt').crossmnt, false);
  t.same(o('sync,async,sync').sync, true);
  t.equal(o('fsid=root').fsid, 0, 'fsid=root is fsid 0');
  t.equal(o('fsid=0x10').fsid, 16, 'fsid is read as strtoul base 0');
  t.equal(o('fsid=010').fsid, 8);
  t.equal(o('fsid=6C0D3B9E-1F2A-4B5C-8D7E-9F0A1B2C3D4E').fsid, '6c0d3b9e-1f2a-4b5c-8d7e-9f0a1b2c3d4e');
  t.same(o('wdelay,no_wdelay,secure_locks,insecure_locks,auth_nlm,no_auth_nlm,acl,no_acl,sec=sys,no_pnfs'), DEFAULT_EXPORT_OPTIONS, 'no-effect options are accepted');
  t.same(o('rw,').rw, true, 'a trailing comma is accepted, as nfs-utils');
});

t.test('client kinds', async (t) => {
  const { exports } = parse('/x 198.18.1.5(rw) node7 NODE8.Example.ORG. 2001:db8::1 2001:db8::/32 198.18.3.9/24 *.example.org node?? n[0-9]x * \n');
  const c = exports[0].clients;
  t.same(
    c.map((s) => [s.kind, s.address ?? s.name ?? s.pattern ?? s.text, s.prefix, s.family]),
    [
      ['host', '198.18.1.5', undefined, 4],
      ['host', 'node7', undefined, undefined],
      ['host', 'node8.example.org', undefined, undefined],
      ['host', '2001:db8::1', undefined, 6],
      ['cidr', '2001:db8::', 32, 6],
      ['cidr', '198.18.3.0', 24, 4],
      ['wildcard', '*.example.org', undefined, undefined],
      ['wildcard', 'node??', undefined, undefined],
      ['wildcard', 'n[0-9]x', undefined, undefined],
      ['anonymous', '*', undefined, undefined],
    ],
  );
});

t.test('comments, continuations, quotes and octal escapes', async (t) => {
  const { exports } = parse(
    [
      '   # an indented comment',
      '',
      '"/srv/with space" h1(rw) # trailing comment h2(rw)',
      '/srv/oct\\040al h2(ro)',
      '/srv/utf\\303\\251 h3',
      '/srv/back\\slash h4(rw)',
      '/srv/cont \\',
      '   h5(rw) \\',
      '\th6(ro)',
      '/srv/"mid quote"d h7(rw)',
      '/crlf h8(rw)\r',
    ].join('\n'),
  );
  t.same(
    exports.map((e) => [e.path, e.clients.map((c) => c.text)]),
    [
      ['/srv/with space', ['h1']],
      ['/srv/oct al', ['h2']],
      ['/srv/utfé', ['h3']],
      ['/srv/back\\slash', ['h4']],
      ['/srv/cont', ['h5', 'h6']],
      ['/srv/mid quoted', ['h7']],
      ['/crlf', ['h8']],
    ],
  );
  t.same([exports[4].clients[1].line, exports[4].clients[1].column], [9, 2], 'a continued spec keeps its own line and column');
});

t.test('default options block after the path', async (t) => {
  const { exports, warnings } = parse('/srv -rw,no_root_squash h1 h2(ro) h3(sync)\n');
  const [h1, h2, h3] = exports[0].clients;
  t.same([h1.options.rw, h1.options.rootSquash], [true, false]);
  t.same([h2.options.rw, h2.options.rootSquash], [false, false], 'a spec overrides the line defaults');
  t.same([h3.options.rw, h3.options.rootSquash], [true, false]);
  t.same(warnings, [], 'no "no options" warning when the line has defaults');
});

t.test('lines naming the same path merge, duplicates warn', async (t) => {
  const { exports, warnings } = parse('/srv/ h1(rw)\n/srv//. h2(ro) h1(ro)\n');
  t.equal(exports.length, 1);
  t.equal(exports[0].path, '/srv');
  t.same(exports[0].clients.map((c) => [c.text, c.options.rw]), [['h1', true], ['h2', false]]);
  t.match(warnings, [{ line: 2, column: 16, message: /h1 is listed twice for \/srv; the first listing is used/ }]);
});

t.test('what nfs-utils accepts with a warning', async (t) => {
  const { exports, warnings } = parse('/a (rw)\n/b\n/c h1\n/d h1(ro) (rw)\n');
  t.same(exports.map((e) => e.clients.map((c) => [c.kind, c.options.rw])), [[['anonymous', true]], [['anonymous', false]], [['host', false]], [['host', false], ['anonymous', true]]]);
  t.match(warnings, [
    { line: 1, column: 4, message: /no client name before \(rw\).*write \*\(rw\)/ },
    { line: 2, column: 1, message: /no client given for \/b: it is exported to everyone/ },
    { line: 3, column: 4, message: /no options for h1; it gets the defaults/ },
    { line: 4, column: 11, message: /no client name before \(rw\)/ },
  ]);
});

t.test('every error names file:line:column, what is wrong and how to fix it', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['/a host (rw)', '1:9', /\(rw\) is separated from host by a space.*write host\(rw\) \(no space\)/],
    ['/a\n/b -sync h1 (rw,no_root_squash)', '2:13', /separated from h1 by a space/],
    ['/a @trusted(rw)', '1:4', /netgroup @trusted is not supported.*list the hosts/],
    ['/a gss/krb5(rw)', '1:4', /Kerberos clients are not supported/],
    ['/a h(rw,foo)', '1:9', /unknown option "foo"/],
    ['/a h(rw,no_root_sqash)', '1:9', /unknown option "no_root_sqash"; did you mean no_root_squash\?/],
    ['/a h(,rw)', '1:6', /empty option; remove the extra comma/],
    ['/a h(rw,,sync)', '1:9', /empty option/],
    ['/a h(anonuid=)', '1:6', /anonuid= is not a user or group id/],
    ['/a h(anongid=-2)', '1:6', /anongid=-2 is not a user or group id/],
    ['/a h(anonuid=4294967296)', '1:6', /not a user or group id/],
    ['/a h(fsid=zz)', '1:6', /fsid=zz is not a file system id/],
    ['/a h(sec=krb5)', '1:6', /sec=krb5: netboot does not offer Kerberos security \(krb5\); it serves AUTH_SYS only; write sec=sys/],
    ['/a h(rw,sec=krb5i)', '1:9', /sec=krb5i: netboot does not offer Kerberos security \(krb5i\); it serves AUTH_SYS only/],
    ['/a h(sec=sys:krb5p)', '1:6', /sec=sys:krb5p: netboot does not offer Kerberos security \(krb5p\)/],
    ['/a h(sec=lkey)', '1:6', /sec=lkey: netboot serves AUTH_SYS only/],
    ['/a h(nordirplus)', '1:6', /option nordirplus is not supported/],
    ['/a h(refer=/x@y)', '1:6', /option refer=\/x@y is not supported/],
    ['/a h(rw', '1:8', /option list has no closing \)/],
    ['/a h(rw)x', '1:9', /unexpected "x" after the option list/],
    ['/a h(rw)(sync)', '1:9', /unexpected "\(sync\)" after the option list/],
    ['/a h)', '1:5', /unexpected \)/],
    ['/a h(rw) -sync', '1:10', /default options -sync must come right after the path/],
    ['/a -foo h1', '1:5', /unknown option "foo"/],
    ['relative h(rw)', '1:1', /export path "relative" is not absolute; write the full path/],
    ['h1(rw)', '1:1', /a line must start with the directory to export/],
    ['/a "unterminated h(rw)', '1:4', /this double quote is never closed/],
    ['/a 198.18.1.0/33(rw)', '1:15', /prefix length \/33 is longer than 32 bits/],
    ['/a 2001:db8::/129', '1:15', /longer than 128 bits/],
    ['/a 198.18.1.0/255.0.255.0', '1:15', /netmask 255.0.255.0 is not contiguous/],
    ['/a 198.18.1.0/ffff::', '1:15', /neither a prefix length nor a netmask/],
    ['/a 300.1.1.1/8', '1:4', /"300.1.1.1" is not an IP address/],
    ['/a host_name!(rw)', '1:13', /"host_name!" is not a host name, address, network or wildcard/],
    ['/a n[0-9(rw)', '1:5', /a \[ in this wildcard is never closed/],
    ['/a n*%(rw)', '1:6', /"%" cannot appear in a host name pattern/],
    ['/a\\400 h', '1:3', /\\400 is not a byte/],
    [`/${'x'.repeat(1024)} h(rw)`, '1:1', /MOUNT carries at most 1024/],
    ['\n\n   /a  h1(rw)  h2(bad)', '3:19', /unknown option "bad"/],
    ['/a h1(rw) \\\n   h2(rw,nope)', '2:10', /unknown option "nope"/],
    ['/a\\040b "h 1"(rw)', '1:11', /"h 1" is not a host name/],
  ];
  for (const [text, where, message] of cases) {
    const e = errorOf(text);
    t.equal(`${e.line}:${e.column}`, where, `${JSON.stringify(text)} at ${where}`);
    t.match(e.message, new RegExp(`^/etc/exports:${where}: `), 'message starts with file:line:column');
    t.match(e.message, message, JSON.stringify(text));
    t.ok(e.fix, 'says how to fix it');
  }
});
