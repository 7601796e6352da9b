import t from 'tap';
import { acceptOack, negotiateOptions, OackRefused } from '@netboot/tftp-wire';

const limits = { blksizeMax: 65464, windowMax: 64 };

t.test('what the clients send, and what they get back', async (t) => {
  // curl: tsize 0, blksize N, timeout 6
  t.same(negotiateOptions([{ name: 'tsize', value: '0' }, { name: 'blksize', value: '1024' }, { name: 'timeout', value: '6' }], 'read', limits, 4000), {
    settings: { blksize: 1024, windowsize: 1, tsize: 4000, timeoutMs: 6000 },
    oack: [{ name: 'tsize', value: '4000' }, { name: 'blksize', value: '1024' }, { name: 'timeout', value: '6' }],
  });
  // tftp-hpa: nothing, so no OACK
  t.same(negotiateOptions([], 'read', limits, 10).oack, []);
  // atftp's word for tsize, and a blksize above the maximum
  t.same(negotiateOptions([{ name: 'tsize', value: 'enable' }, { name: 'blksize', value: '65535' }], 'read', limits, 7).oack, [
    { name: 'tsize', value: '7' },
    { name: 'blksize', value: '65464' },
  ]);
  t.same(negotiateOptions([{ name: 'windowsize', value: '16' }], 'read', { blksizeMax: 1468, windowMax: 8 }).oack, [{ name: 'windowsize', value: '8' }]);
});

t.test('unknown, malformed and out-of-range options are left out, not fatal', async (t) => {
  const n = negotiateOptions(
    [
      { name: 'multicast', value: '' },
      { name: 'blksize', value: '7' },
      { name: 'timeout', value: '256' },
      { name: 'windowsize', value: '0' },
      { name: 'blksize2', value: '512' },
      { name: 'tsize', value: '-1' },
      { name: 'timeout', value: ' 5' },
    ],
    'write',
    limits,
  );
  t.same(n.oack, []);
  t.same(n.settings, { blksize: 512, windowsize: 1 });
  t.same(negotiateOptions([{ name: 'blksize', value: '1000' }, { name: 'BlkSize', value: '2000' }], 'read', limits, 1).oack, [
    { name: 'blksize', value: '1000' },
  ], 'the first of duplicated options counts');
});

t.test('an empty file gets no tsize in the OACK (curl refuses tsize 0)', async (t) => {
  t.same(negotiateOptions([{ name: 'tsize', value: '0' }, { name: 'blksize', value: '1468' }], 'read', limits, 0).oack, [
    { name: 'blksize', value: '1468' },
  ]);
});

t.test('WRQ echoes the announced tsize', async (t) => {
  t.same(negotiateOptions([{ name: 'tsize', value: '12345' }], 'write', limits).oack, [{ name: 'tsize', value: '12345' }]);
});

t.test('a client accepts lowered values and refuses raised or unrequested ones', async (t) => {
  const asked = [{ name: 'blksize', value: '1468' }, { name: 'windowsize', value: '16' }, { name: 'tsize', value: '0' }];
  t.same(acceptOack(asked, [{ name: 'blksize', value: '1024' }, { name: 'tsize', value: '99' }]), { blksize: 1024, windowsize: 1, tsize: 99 });
  t.throws(() => acceptOack(asked, [{ name: 'blksize', value: '2000' }]), OackRefused);
  t.throws(() => acceptOack(asked, [{ name: 'timeout', value: '3' }]), OackRefused);
  t.throws(() => acceptOack(asked, [{ name: 'windowsize', value: 'x' }]), OackRefused);
});
