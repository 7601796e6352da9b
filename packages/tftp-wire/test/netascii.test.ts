import t from 'tap';
import fc from 'fast-check';
import { fromNetascii, netasciiLength, NetasciiDecoder, toNetascii } from '@netboot/tftp-wire';

t.test('conversion both ways', async (t) => {
  t.same(toNetascii(Buffer.from('a\nb\rc')), Buffer.from('a\r\nb\r\0c', 'latin1'));
  t.same(fromNetascii(Buffer.from('a\r\nb\r\0c\rd', 'latin1')), Buffer.from('a\nb\rc\rd'), 'a bare CR is kept');
  t.same(fromNetascii(Buffer.from('x\r', 'latin1')), Buffer.from('x\r'), 'a CR at the very end is flushed');
});

t.test('property: local → netascii → local is the identity, split anywhere', async () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 6 }), (a, cuts) => {
      const local = Buffer.from(a);
      const wire = toNetascii(local);
      if (wire.length !== netasciiLength(local)) return false;
      const points = [...new Set(cuts.map((c) => Math.min(c, wire.length)))].sort((x, y) => x - y);
      const d = new NetasciiDecoder();
      const parts: Buffer[] = [];
      let at = 0;
      for (const p of [...points, wire.length]) {
        parts.push(d.push(wire.subarray(at, p)));
        at = p;
      }
      parts.push(d.end());
      return Buffer.concat(parts).equals(local);
    }),
    { seed: 42, numRuns: 200 },
  );
});
