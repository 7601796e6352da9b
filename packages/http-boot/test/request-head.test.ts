// The request-head decoder without sockets: the heads boot clients send,
// every refusal with its status, field and offset, and properties over
// generated heads and arbitrary bytes (any prefix of a valid head waits for
// more, bytes after a head are not its business, garbage is refused at once
// and stays refused whatever follows, nothing but RequestHeadError is thrown).
import t from 'tap';
import fc from 'fast-check';
import { decodeRequestHead, MAX_HEAD, MAX_REQUEST_LINE, RequestHeadError, type RequestHead } from '@netboot/http-boot';

const decode = (text: string | Buffer) => {
  const buf = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
  return decodeRequestHead(buf, 0, buf.length);
};

function refusal(text: string | Buffer): RequestHeadError {
  try {
    decode(text);
  } catch (err) {
    if (err instanceof RequestHeadError) return err;
    throw err;
  }
  throw new Error(`not refused: ${JSON.stringify(text.toString())}`);
}

t.test('the heads boot clients send', async (t) => {
  const curl = 'GET /boot.cfg HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n';
  t.same(decode(curl), {
    method: 'GET',
    target: '/boot.cfg',
    minor: 1,
    host: '127.0.0.1:8080',
    range: undefined,
    userAgent: 'curl/7.88.1',
    referer: undefined,
    close: false,
    hasBody: false,
    length: curl.length,
  });
  const ipxe = 'GET /vmlinuz HTTP/1.1\r\nConnection: keep-alive\r\nHost: 198.18.0.1\r\nRange: bytes=0-4095\r\nUser-Agent: iPXE/1.21.1+\r\n\r\n';
  t.match(decode(ipxe), { target: '/vmlinuz', range: 'bytes=0-4095', userAgent: 'iPXE/1.21.1+', close: false, length: ipxe.length });
  const uefi = 'GET /EFI/BOOT/BOOTX64.EFI HTTP/1.1\r\nHost: 198.18.0.1\r\nAccept: */*\r\nUser-Agent: UefiHttpBoot/1.0\r\n\r\n';
  t.match(decode(uefi), { target: '/EFI/BOOT/BOOTX64.EFI', userAgent: 'UefiHttpBoot/1.0' });
  t.match(decode('HEAD http://198.18.0.1/x HTTP/1.1\r\nhOsT:x\r\n\r\n'), { method: 'HEAD', target: 'http://198.18.0.1/x', host: 'x' }, 'absolute form; field names in any case');
});

t.test('heads one after another: each decodes to its own target, Host and User-Agent', async (t) => {
  // The decoder keeps the last strings it cut to hand them out again for the same bytes: values of the
  // same length that differ, and values longer than it keeps, must still come out as sent.
  const long = `/${'n'.repeat(300)}`;
  const heads: Array<[string, string, string]> = [
    ['/boot.cfg', 'h1', 'curl/7.88.1'],
    ['/boot.cfg', 'h1', 'curl/7.88.1'],
    ['/boot.cfh', 'h2', 'curl/7.88.2'],
    [long, 'h2', 'a'.repeat(400)],
    [`${long.slice(0, -1)}m`, 'h2', `${'a'.repeat(399)}b`],
    ['/boot.cfg', 'h1', 'curl/7.88.1'],
  ];
  for (const [target, host, agent] of heads) {
    t.match(decode(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: ${agent}\r\n\r\n`), { target, host, userAgent: agent });
  }
});

t.test('versions, Connection and framing', async (t) => {
  t.match(decode('GET / HTTP/1.0\r\n\r\n'), { minor: 0, close: true, host: undefined }, 'HTTP/1.0: no Host needed, closes by default');
  t.match(decode('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n'), { minor: 0, close: false });
  t.match(decode('GET / HTTP/1.1\r\nHost: x\r\nConnection: TE, close\r\n\r\n'), { close: true });
  t.match(decode('GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n'), { close: false }, 'keep-alive is 1.1 default');
  t.match(decode('GET / HTTP/1.2\r\nHost: x\r\n\r\n'), { minor: 1 }, 'a later 1.x is read as 1.1');
  t.match(decode('GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n'), { hasBody: false });
  t.match(decode('GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n'), { hasBody: true });
  t.match(decode('GET / HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\nRange: bytes=5-6\r\n\r\n'), { range: 'bytes=0-1, bytes=5-6' });
  t.match(decode('GET / HTTP/1.1\nHost: x\n\n'), { target: '/', length: 24 }, 'bare LF line ends');
  t.match(decode('\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n'), { target: '/', length: 31 }, 'empty lines before the request line');
  t.match(decode('GET / HTTP/1.1\r\nHost: x \t\r\nX-Empty:\r\nX-Obs: caf\xe9\r\n\r\n'), { host: 'x' }, 'OWS trimmed; empty and obs-text values');
});

t.test('an unfinished head waits for more', async (t) => {
  for (const text of ['', '\r\n', 'G', 'GET', 'GET /', 'GET / HTTP/1.', 'GET / HTTP/1.1', 'GET / HTTP/1.1\r', 'GET / HTTP/1.1\r\nHost: x', 'GET / HTTP/1.1\r\nHost: x\r\n', 'GET / HTTP/1.1\r\nHost: x\r\n\r']) {
    t.equal(decode(text), undefined, JSON.stringify(text));
  }
});

t.test('refusals name their status, field and offset', async (t) => {
  const cases: Array<[string, number, string, number]> = [
    ['\x16\x03\x01\x02\x00', 400, 'method', 0],
    ['GET  / HTTP/1.1\r\n', 400, 'target', 4],
    ['GET /\x00 HTTP/1.1\r\n', 400, 'target', 5],
    ['GET /caf\xe9 HTTP/1.1\r\n', 400, 'target', 8],
    ['GET / HTTP/9.9\r\n', 400, 'version', 11],
    ['GET / HTTP/1.x\r\n', 400, 'version', 13],
    ['GET /\r\n', 400, 'target', 5],
    ['GET / HTTP/1.1 \r\n', 400, 'version', 14],
    ['GET / HTTP/1.1\rX', 400, 'version', 15],
    ['GET / HTTP/1.1\r\nHost : x\r\n\r\n', 400, 'line', 20],
    ['GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n', 400, 'line', 25],
    ['GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n', 400, 'host', 23],
    ['GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n', 400, 'host', 24],
    ['GET / HTTP/1.1\r\n\r\n', 400, 'host', 18],
    ['GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400, 'host', 25],
    ['GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n', 400, 'content-length', 41],
    ['GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 400, 'content-length', 44],
    ['GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n', 400, 'transfer-encoding', 25],
    ['GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', 501, 'transfer-encoding', 25],
    ['ABCDEFGHIJKLMNOPQRSTUVWXYZ', 501, 'method', 0],
  ];
  for (const [text, status, field, offset] of cases) {
    const err = refusal(text);
    t.same({ status: err.status, field: err.field, offset: err.offset }, { status, field, offset }, JSON.stringify(text));
    t.match(err.message, new RegExp(`\\(${field}, offset ${err.offset}\\)$`));
  }
});

t.test('size limits: 414 for a long request line, 431 for a long head, whatever follows', async (t) => {
  const longLine = `GET /${'a'.repeat(MAX_REQUEST_LINE)} HTTP/1.1\r\nHost: x\r\n\r\n`;
  t.match(refusal(longLine), { status: 414, field: 'target' });
  t.match(refusal(longLine.slice(0, MAX_REQUEST_LINE + 1)), { status: 414 }, 'refused before the line ends');
  t.ok(decode(`GET /${'a'.repeat(MAX_REQUEST_LINE - 20)} HTTP/1.1\r\nHost: x\r\n\r\n`), 'a line just under the limit is read');
  const pad = `X-Pad: ${'a'.repeat(MAX_HEAD)}\r\n`;
  t.match(refusal(`GET / HTTP/1.1\r\nHost: x\r\n${pad}\r\n`), { status: 431, field: 'head', offset: MAX_HEAD });
  t.match(refusal(Buffer.alloc(MAX_HEAD, '\r\n')), { status: 431 }, 'nothing but empty lines');
  const many = `GET / HTTP/1.1\r\nHost: x\r\n${'X-A: b\r\n'.repeat(MAX_HEAD / 8)}\r\n`;
  t.match(refusal(many), { status: 431 }, 'many short fields');
});

// Generated heads: the grammar's characters, the fields the server reads and others.
const TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const tchar = fc.constantFrom(...TCHARS);
const token = (max: number) => fc.string({ unit: tchar, minLength: 1, maxLength: max });
const vchar = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));
const valueChar = fc.oneof(vchar, fc.constant(' '), fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)));
const value = fc.tuple(vchar, fc.string({ unit: valueChar, maxLength: 40 }), vchar).map(([a, b, c]) => `${a}${b}${c}`);
const field = fc.tuple(
  fc.oneof(token(20).filter((n) => !/^(host|content-length|transfer-encoding|connection)$/i.test(n)), fc.constantFrom('User-Agent', 'Range', 'Referer', 'Accept')),
  value,
);

interface Generated {
  text: string;
  method: string;
  target: string;
  minor: 0 | 1;
  host: string;
  eol: string;
  fields: Array<[string, string]>;
}

const generatedHead: fc.Arbitrary<Generated> = fc
  .record({
    method: token(16),
    target: fc.string({ unit: vchar, minLength: 1, maxLength: 200 }),
    minor: fc.constantFrom<0 | 1>(0, 1),
    host: value,
    eol: fc.constantFrom('\r\n', '\n'),
    fields: fc.array(field, { maxLength: 12 }),
  })
  .map((g) => {
    const lines = [`${g.method} ${g.target} HTTP/1.${g.minor}`, `Host: ${g.host}`, ...g.fields.map(([n, v]) => `${n}:${v.length % 2 ? ' ' : ''}${v}`)];
    return { ...g, text: lines.join(g.eol) + g.eol + g.eol };
  });

function expected(g: Generated): Partial<RequestHead> {
  const first = (name: string) => g.fields.find(([n]) => n.toLowerCase() === name)?.[1];
  const ranges = g.fields.filter(([n]) => n.toLowerCase() === 'range').map(([, v]) => v);
  return {
    method: g.method,
    target: g.target,
    minor: g.minor,
    host: g.host,
    userAgent: first('user-agent'),
    referer: first('referer'),
    range: ranges.length ? ranges.join(', ') : undefined,
    close: g.minor === 0,
    hasBody: false,
    length: Buffer.byteLength(g.text, 'latin1'),
  };
}

t.test('property: a generated head decodes to what was sent; every prefix of it waits; bytes after it change nothing', async (t) => {
  fc.assert(
    fc.property(generatedHead, fc.uint8Array({ maxLength: 64 }), (g, after) => {
      const bytes = Buffer.from(g.text, 'latin1');
      const want = expected(g);
      const got = decode(bytes);
      if (!got) return false;
      for (const [k, v] of Object.entries(want)) if (got[k as keyof RequestHead] !== v) return false;
      for (let cut = 0; cut < bytes.length; cut++) if (decodeRequestHead(bytes, 0, cut) !== undefined) return false;
      const more = decode(Buffer.concat([bytes, after]));
      return more !== undefined && more.length === got.length && more.target === got.target;
    }),
    { numRuns: 300 },
  );
});

t.test('property: a head decodes the same at any offset of a larger buffer (pipelined requests)', async (t) => {
  fc.assert(
    fc.property(generatedHead, generatedHead, fc.array(fc.constantFrom('\r\n', '\n'), { maxLength: 4 }), (a, b, empty) => {
      const buf = Buffer.from(empty.join('') + a.text + b.text, 'latin1');
      const h1 = decodeRequestHead(buf, 0, buf.length);
      if (!h1) return false;
      const h2 = decodeRequestHead(buf, h1.length, buf.length);
      return h1.target === a.target && h2 !== undefined && h2.target === b.target && h1.length + h2.length === buf.length;
    }),
    { numRuns: 200 },
  );
});

t.test('property: arbitrary bytes are a head, a wait, or a RequestHeadError; a refusal stays one whatever follows', async (t) => {
  const bytesArb = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    // Near-valid heads with one byte changed: errors deep in a head, not only at its first byte.
    fc.tuple(generatedHead, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([g, at, b]) => {
      const buf = Buffer.from(g.text, 'latin1');
      buf[at % buf.length] = b;
      return new Uint8Array(buf);
    }),
  );
  fc.assert(
    fc.property(bytesArb, fc.uint8Array({ minLength: 1, maxLength: 64 }), (raw, more) => {
      const buf = Buffer.from(raw);
      let err: RequestHeadError | undefined;
      let head: RequestHead | undefined;
      try {
        head = decode(buf);
      } catch (e) {
        if (!(e instanceof RequestHeadError)) throw e;
        err = e;
      }
      if (head) return head.length <= buf.length && head.length <= MAX_HEAD;
      if (!err) return buf.length < MAX_HEAD;
      if (![400, 414, 431, 501].includes(err.status) || err.offset < 0 || err.offset > MAX_HEAD) return false;
      try {
        decode(Buffer.concat([buf, more]));
      } catch (e) {
        const again = e as RequestHeadError;
        return again.status === err.status && again.field === err.field && again.offset === err.offset;
      }
      return false;
    }),
    { numRuns: 2000 },
  );
});
