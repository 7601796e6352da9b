import t from 'tap';
import fc from 'fast-check';
import { combinedLogLine, requestedName } from '@netboot/http-boot';

t.test('request targets to names under the root', async (t) => {
  t.same(requestedName('/pxelinux.0'), { ok: true, name: 'pxelinux.0' });
  t.same(requestedName('/pxelinux.cfg/01-52-54-00-e2-e0-01?x=1#f'), { ok: true, name: 'pxelinux.cfg/01-52-54-00-e2-e0-01' });
  t.same(requestedName('/a%20b/%C3%A9'), { ok: true, name: 'a b/é' });
  t.same(requestedName('http://198.18.1.1:8080/boot.ipxe'), { ok: true, name: 'boot.ipxe' }, 'absolute form');
  t.same(requestedName('/'), { ok: true, name: '' });
  t.same(requestedName('//etc/passwd'), { ok: true, name: '/etc/passwd' }, 'left for the secure-root resolver');
});

t.test('refused before any file system access', async (t) => {
  t.match(requestedName('/../etc/passwd'), { ok: false, status: 403 });
  t.match(requestedName('/a/%2e%2e/%2E%2E/etc'), { ok: false, status: 403 }, 'escaped dot segments');
  t.match(requestedName('/a%2f..%2fb'), { ok: false, status: 403 }, 'escaped slashes');
  t.match(requestedName('/..'), { ok: false, status: 403 });
  t.match(requestedName('/a%00b'), { ok: false, status: 400 });
  t.match(requestedName('/%zz'), { ok: false, status: 400 });
  t.match(requestedName('/%C3'), { ok: false, status: 400 }, 'not UTF-8');
  t.match(requestedName('*'), { ok: false, status: 400 });
  t.match(requestedName('pxelinux.0'), { ok: false, status: 400 });
});

t.test('property: no accepted name has a ".." segment or a NUL', async (t) => {
  const segment = fc.oneof(fc.constantFrom('..', '%2e%2e', '%2E.', '.', 'a', '%2f', '%00', '%'), fc.string({ maxLength: 4 }));
  fc.assert(
    fc.property(fc.array(segment, { maxLength: 6 }), (parts) => {
      const r = requestedName(`/${parts.join('/')}`);
      return !r.ok || (!r.name.split('/').includes('..') && !r.name.includes('\0'));
    }),
    { seed: 14, numRuns: 3000 },
  );
  t.pass('3000 targets');
});

t.test('combined log format, quotes and control bytes escaped', async (t) => {
  const line = combinedLogLine({
    client: '198.18.1.10',
    at: new Date(Date.UTC(2026, 11, 3, 7, 5, 9)),
    method: 'GET',
    target: '/vmlinuz',
    httpVersion: '1.1',
    status: 206,
    bytes: 4096,
    userAgent: 'iPXE/1.0.0+',
  });
  t.equal(line, '198.18.1.10 - - [03/Dec/2026:07:05:09 +0000] "GET /vmlinuz HTTP/1.1" 206 4096 "-" "iPXE/1.0.0+"');
  const forged = combinedLogLine({
    client: '198.18.1.10',
    at: new Date(0),
    method: 'GET',
    target: '/x"\n127.0.0.1 - - \\',
    httpVersion: '1.1',
    status: 404,
    bytes: 0,
    referer: '\x1b[31m',
  });
  t.equal(forged, '198.18.1.10 - - [01/Jan/1970:00:00:00 +0000] "GET /x\\"\\x0a127.0.0.1 - - \\\\ HTTP/1.1" 404 - "\\x1b[31m" "-"');
  t.notMatch(forged, /\n/);
});
