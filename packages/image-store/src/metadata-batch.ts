import { spawn } from 'node:child_process';
import { lutimes } from 'node:fs/promises';

/** What is set on a name of the new generation once all its entries are in. */
export interface FinalMetadata {
  /** Whole seconds and nanoseconds; atime is set to the same. */
  mtime: { sec: number; nsec: number };
  xattrs: Map<string, Uint8Array>;
  /** The archive entry it came from, for errors. */
  entry: string;
}

/** Syscall numbers per Node's `process.arch` (the generic table where a port has one). */
const LSETXATTR: Partial<Record<string, number>> = { x64: 189, arm64: 6, riscv64: 6, loong64: 6, ia32: 227, arm: 227, ppc64: 210, s390x: 225 };
const UTIMENSAT: Partial<Record<string, number>> = { x64: 280, arm64: 88, riscv64: 88, loong64: 88, ia32: 320, arm: 348, ppc64: 304, s390x: 315 };

/*
 * Requests, one a line: "x PATH NAME VALUE" (lsetxattr, hex fields) or
 * "t PATH SEC NSEC" (utimensat with AT_SYMLINK_NOFOLLOW); one reply a line:
 * 0 or the errno. Node has neither call (its utimes family rounds to the
 * microsecond) and the project takes no native addon for this; Debian's
 * essential perl-base has syscall().
 */
const PROGRAM = `
$| = 1;
while (my $line = <STDIN>) {
  chomp $line;
  my ($op, $p, $a, $b) = split ' ', $line;
  my $path = pack('H*', $p) . "\\0";
  my $r;
  if ($op eq 'x') {
    my $value = pack('H*', $b // '');
    $r = syscall($ENV{XATTR}, $path, pack('H*', $a) . "\\0", $value, length($value), 0);
  } else {
    $r = syscall($ENV{TIMES}, -100, $path, pack('l!4', $a, $b, $a, $b), 0x100);
  }
  print $r == 0 ? "0\\n" : ($! + 0) . "\\n";
}
`;

const ENOTSUP = 95;

/**
 * Sets xattrs, then exact times, on every name in `meta` without following
 * symlinks, in one perl process. Returns how many xattrs the file system
 * refused as unsupported (tmpfs without user xattrs, for instance); any
 * other failure throws, naming the entry. Without perl or a known syscall
 * number, times are set with lutimes (to the microsecond) and xattrs are
 * counted as not kept.
 */
export async function applyFinalMetadata(meta: ReadonlyMap<string, FinalMetadata>): Promise<number> {
  const xattrCount = [...meta.values()].reduce((n, m) => n + m.xattrs.size, 0);
  const xattrNr = LSETXATTR[process.arch];
  const timesNr = UTIMENSAT[process.arch];
  if (xattrNr === undefined || timesNr === undefined) return approximate(meta, xattrCount);
  const hex = (s: string | Uint8Array) => Buffer.from(s).toString('hex');
  const lines: string[] = [];
  const entries: string[] = [];
  for (const [path, m] of meta) {
    for (const [name, value] of m.xattrs) {
      lines.push(`x ${hex(path)} ${hex(name)} ${hex(value)}\n`);
      entries.push(`${JSON.stringify(m.entry)}: setting xattr ${name}`);
    }
  }
  for (const [path, m] of meta) {
    lines.push(`t ${hex(path)} ${m.mtime.sec} ${m.mtime.nsec}\n`);
    entries.push(`${JSON.stringify(m.entry)}: setting its mtime`);
  }
  const child = spawn('perl', ['-e', PROGRAM], { env: { XATTR: String(xattrNr), TIMES: String(timesNr), PATH: process.env.PATH ?? '/usr/bin:/bin' }, stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.resume();
  child.stdin.on('error', () => {});
  child.stdin.end(lines.join(''));
  const code = await exited.catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return 'no perl' as const;
    throw err;
  });
  if (code === 'no perl') return approximate(meta, xattrCount);
  const replies = out.split('\n').filter((l) => l !== '');
  if (code !== 0 || replies.length !== lines.length) throw new Error(`setting times and extended attributes failed (perl exited with ${code})`);
  let skipped = 0;
  replies.forEach((r, i) => {
    const errno = Number(r);
    if (errno === 0) return;
    if (errno === ENOTSUP && lines[i]!.startsWith('x')) skipped++;
    else throw new Error(`${entries[i]} failed with errno ${errno}`);
  });
  return skipped;
}

async function approximate(meta: ReadonlyMap<string, FinalMetadata>, xattrCount: number): Promise<number> {
  for (const [path, m] of meta) {
    const t = m.mtime.sec + m.mtime.nsec / 1e9;
    await lutimes(path, t, t);
  }
  return xattrCount;
}
