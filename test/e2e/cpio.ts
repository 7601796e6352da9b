import { gzipSync } from 'node:zlib';

/** One member of an initramfs: a directory, a file, a symlink or a device node. */
export type CpioEntry =
  | { kind: 'dir'; path: string; mode?: number }
  | { kind: 'file'; path: string; data: Buffer; mode?: number }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'chardev'; path: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function pad4(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

/**
 * The "newc" cpio format the kernel unpacks into its rootfs: a 110-byte ASCII
 * header, the NUL-terminated name padded to 4 bytes, the data padded to 4.
 * Written here rather than with cpio(1) so the guest needs no host tool and
 * device nodes need no root.
 */
function member(ino: number, mode: number, name: string, data: Buffer, rdev = { major: 0, minor: 0 }): Buffer[] {
  const nameBytes = Buffer.from(`${name}\0`, 'utf8');
  const header = Buffer.from(
    '070701' +
      [ino, mode, 0, 0, 1, 0, data.length, 0, 0, rdev.major, rdev.minor, nameBytes.length, 0].map(hex8).join(''),
    'ascii',
  );
  return [header, nameBytes, pad4(header.length + nameBytes.length), data, pad4(data.length)];
}

/** A gzip-compressed newc archive of `entries`, in order (parents before children). */
export function initramfs(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const e of entries) {
    const name = e.path.replace(/^\/+/, '');
    switch (e.kind) {
      case 'dir':
        parts.push(...member(ino++, S_IFDIR | (e.mode ?? 0o755), name, Buffer.alloc(0)));
        break;
      case 'file':
        parts.push(...member(ino++, S_IFREG | (e.mode ?? 0o644), name, e.data));
        break;
      case 'symlink':
        parts.push(...member(ino++, S_IFLNK | 0o777, name, Buffer.from(e.target, 'utf8')));
        break;
      case 'chardev':
        parts.push(...member(ino++, S_IFCHR | (e.mode ?? 0o600), name, Buffer.alloc(0), e));
        break;
    }
  }
  parts.push(...member(0, 0, 'TRAILER!!!', Buffer.alloc(0)));
  return gzipSync(Buffer.concat(parts), { level: 6 });
}
