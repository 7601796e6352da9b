import t from 'tap';
import fc from 'fast-check';
import { bytesText, printable } from '@netboot/log-text';

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

t.test('printable: control characters as \\xNN, the rest as it is', (t) => {
  t.equal(printable('RRQ from 198.18.1.21 filename a\nforged line'), 'RRQ from 198.18.1.21 filename a\\x0aforged line');
  t.equal(printable('\u001b[31mred\u009b2J\u007f'), '\\x1b[31mred\\x9b2J\\x7f');
  t.equal(printable('/diskless/ü/ファイル'), '/diskless/ü/ファイル');
  t.end();
});

t.test('bytesText: UTF-8 as text, other bytes as \\xNN, controls escaped either way', (t) => {
  t.equal(bytesText(Buffer.from('/export/ü')), '/export/ü');
  t.equal(bytesText(Buffer.from('/a\nb')), '/a\\x0ab');
  t.equal(bytesText(Buffer.from([0x2f, 0x61, 0xe9, 0x0a, 0x62])), '/a\\xe9\\x0ab', 'Latin-1 é is not UTF-8');
  t.equal(bytesText(new Uint8Array(0)), '');
  t.end();
});

t.test('property: no control character ever reaches the log, and escaping twice changes nothing', (t) => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (s) => {
      const p = printable(s);
      return !CONTROL.test(p) && printable(p) === p && (CONTROL.test(s) || p === s);
    }),
    { seed: 20, numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
      const text = bytesText(b);
      return !CONTROL.test(text) && printable(text) === text && !text.includes('\ufffd');
    }),
    { seed: 20, numRuns: 2000 },
  );
  t.pass('printable and bytesText hold for random input');
  t.end();
});
