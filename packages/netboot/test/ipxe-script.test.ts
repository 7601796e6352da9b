import t from 'tap';
import { ipxeImages, isIpxeScript } from '../src/doctor/ipxe-script.js';

t.test('the images an iPXE script fetches, as iPXE reads its commands', (t) => {
  const script = [
    '#!ipxe',
    'dhcp',
    ':retry',
    'kernel --name vmlinuz http://198.18.0.1/vmlinuz console=ttyS0 ip=dhcp || goto retry',
    'initrd -n initrd initrd.img',
    '# initrd commented.img',
    'imgfetch --timeout 5000 ${base}/extra.cpio',
    'boot',
    'chain --autofree tftp://198.18.0.1/next.ipxe',
  ].join('\n');
  t.ok(isIpxeScript(script));
  t.notOk(isIpxeScript('\x7fELF'));
  t.same(ipxeImages(script), [
    { command: 'kernel', uri: 'http://198.18.0.1/vmlinuz', line: 4 },
    { command: 'initrd', uri: 'initrd.img', line: 5 },
    { command: 'imgfetch', uri: '${base}/extra.cpio', line: 7 },
    { command: 'chain', uri: 'tftp://198.18.0.1/next.ipxe', line: 9 },
  ]);
  t.end();
});
