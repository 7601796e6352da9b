import t from 'tap';
import { Mountd, parseExports, subpathBytes } from '@netboot/mountd';

// A directory below an export may have any bytes in its name (Latin-1, Shift-JIS, no encoding at
// all): libnfs mounts the directory of every file it opens, so MNT hands the bytes on exactly.

const b = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));

t.test('subpathBytes: the components below the export, normalized as the text is', async (t) => {
  t.same(subpathBytes(b('/srv/nfs/a/', [0xe9], '/c'), '/srv/nfs'), b('a/', [0xe9], '/c'));
  t.same(subpathBytes(b('/srv//nfs/./', [0x93, 0xfa], '/x/../', [0xff]), '/srv/nfs'), b([0x93, 0xfa], '/', [0xff]), 'empty, . and .. as posix.normalize');
  t.same(subpathBytes(b('/srv/nfs/', [0xc0, 0xaf]), '/srv/nfs'), b([0xc0, 0xaf]), 'an overlong "/" is two bytes of a name');
  t.same(subpathBytes(b('/a'), '/'), b('a'), 'below the root export');
  t.same(subpathBytes(b('/café/d'), '/café'), b('d'), 'a UTF-8 export path');
});

t.test('MNT of a directory with a non-UTF-8 name gets its bytes to the handle lookup', async (t) => {
  const exports = parseExports('/srv/nfs 198.18.0.2(rw,insecure)\n', 'exports');
  const asked: Buffer[] = [];
  const lines: string[] = [];
  const mountd = new Mountd({
    exports,
    subdirectoryMounts: true,
    rootHandle: async (_exp, subpath) => {
      if (subpath) asked.push(subpath);
      return Buffer.alloc(24, 1);
    },
    log: (l) => lines.push(l),
  });
  const raw = b('/srv/nfs/', [0x93, 0xfa, 0x96, 0x7b], '/', [0xff, 0x0a]);
  const d = await mountd.decide(raw.toString('utf8'), '198.18.0.2', 900, raw);
  t.equal(d.granted, true);
  t.same(asked, [b([0x93, 0xfa, 0x96, 0x7b], '/', [0xff, 0x0a])], 'the subpath as its bytes');
});
