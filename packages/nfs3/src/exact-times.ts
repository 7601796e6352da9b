import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import type { NfsTime } from './nfs3-types.js';

/** What to do with one of a file's times. */
export type TimeChange = { keep: true } | { now: true } | { at: NfsTime };

/** utimensat(2) numbers per Node's `process.arch` (the generic table where a port has one). */
const UTIMENSAT: Partial<Record<string, number>> = { x64: 280, arm64: 88, riscv64: 88, loong64: 88, ia32: 320, arm: 348, ppc64: 304, s390x: 315 };
const UTIME_NOW = (1 << 30) - 1;
const UTIME_OMIT = (1 << 30) - 2;

/*
 * One request a line: the path in hex, then seconds and nanoseconds of
 * atime and mtime; one reply a line: 0 or the errno. The timespec is two C
 * longs (`l!`), as the plain utimensat of every architecture above takes.
 */
const PROGRAM = `
$| = 1;
while (my $line = <STDIN>) {
  my ($path, $as, $an, $ms, $mn) = split ' ', $line;
  $path = pack('H*', $path);
  my $r = syscall($ENV{NR}, -100, $path, pack('l!4', $as, $an, $ms, $mn), 0x100);
  print $r == 0 ? "0\\n" : ($! + 0) . "\\n";
}
`;

const ERRNO_CODES: Record<number, string> = { 1: 'EPERM', 2: 'ENOENT', 13: 'EACCES', 20: 'ENOTDIR', 22: 'EINVAL', 30: 'EROFS', 36: 'ENAMETOOLONG', 40: 'ELOOP' };

/**
 * Sets a file's times to the nanosecond without following a symlink, as
 * knfsd does for SETATTR. Node's utimes family takes seconds as a double,
 * and libuv cuts that to microseconds, so `touch -d` with nanoseconds,
 * `cp -a` and `rsync -a` would come back changed. Node has no utimensat and
 * we take no native addons; Debian's essential perl-base does have
 * syscall(): one long-lived perl process (started at the first use, about a
 * pipe round trip per call) makes the utimensat(2) call with the exact
 * timespecs, UTIME_NOW for the server's time and UTIME_OMIT for a time left
 * alone (no read-modify-write race). Where perl or the architecture's
 * syscall number is missing, lutimes is used: exact for whole microseconds,
 * rounded below.
 */
export class ExactTimes {
  private child: ChildProcessWithoutNullStreams | undefined;
  private readonly waiting: ((reply: string | Error) => void)[] = [];
  private buffered = '';
  private unavailable: string | undefined;

  constructor(private readonly onFallback: (line: string) => void = () => {}) {}

  /** Sets atime and mtime of `path` (never following a final symlink). */
  async set(path: Buffer, atime: TimeChange, mtime: TimeChange): Promise<void> {
    const child = this.unavailable ? undefined : this.start();
    if (!child) return this.approximate(path, atime, mtime);
    const line = `${path.toString('hex')} ${spec(atime)} ${spec(mtime)}\n`;
    const reply = await new Promise<string | Error>((resolve) => {
      // Idle, the helper keeps nobody's event loop alive; a call in flight does.
      if (this.waiting.push(resolve) === 1) pipe(child.stdout).ref();
      child.stdin.write(line);
    });
    // perl turned out to be missing: this call, and every later one, the approximate way.
    if (reply instanceof Error) return this.unavailable ? this.approximate(path, atime, mtime) : Promise.reject(reply);
    if (reply === '0') return;
    const errno = Number(reply);
    const e = new Error(`utimensat: errno ${errno}`) as NodeJS.ErrnoException;
    e.errno = errno;
    e.code = ERRNO_CODES[errno] ?? 'EIO';
    throw e;
  }

  close(): void {
    this.child?.kill();
    this.child = undefined;
  }

  private start(): ChildProcessWithoutNullStreams | undefined {
    if (this.child) return this.child;
    const nr = UTIMENSAT[process.arch];
    if (nr === undefined) {
      this.fallBack(`no utimensat number known for ${process.arch}`);
      return undefined;
    }
    const child = spawn('perl', ['-e', PROGRAM], { env: { NR: String(nr), PATH: process.env.PATH ?? '/usr/bin:/bin' }, stdio: 'pipe' });
    this.child = child;
    child.unref();
    for (const s of [child.stdin, child.stdout, child.stderr]) pipe(s).unref();
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      this.buffered += d;
      for (let i = this.buffered.indexOf('\n'); i >= 0; i = this.buffered.indexOf('\n')) {
        const reply = this.buffered.slice(0, i);
        this.buffered = this.buffered.slice(i + 1);
        this.waiting.shift()?.(reply);
      }
      if (this.waiting.length === 0) pipe(child.stdout).unref();
    });
    child.stderr.resume();
    child.stdin.on('error', () => {});
    child.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') this.fallBack('perl is not installed');
      this.ended(e);
    });
    child.once('exit', (code, signal) => this.ended(new Error(`the utimensat helper (perl) exited (${signal ?? code})`)));
    return child;
  }

  /** The helper is gone: calls in flight fail with EIO, the next call starts a new one. */
  private ended(e: Error): void {
    if (!this.child) return;
    this.child = undefined;
    this.buffered = '';
    const failed = Object.assign(e, { code: 'EIO' });
    for (const w of this.waiting.splice(0)) w(failed);
  }

  private fallBack(why: string): void {
    this.unavailable = why;
    this.onFallback(`nfs: ${why}: SETATTR times are set with lutimes, to the microsecond`);
  }

  private async approximate(path: Buffer, atime: TimeChange, mtime: TimeChange): Promise<void> {
    const st = 'keep' in atime || 'keep' in mtime ? await fsp.lstat(path, { bigint: true }) : undefined;
    const now = Date.now() / 1000;
    const seconds = (c: TimeChange, keep: bigint | undefined) =>
      'at' in c ? c.at.seconds + c.at.nseconds / 1e9 : 'now' in c ? now : Number(keep) / 1e9;
    await fsp.lutimes(path, seconds(atime, st?.atimeNs), seconds(mtime, st?.mtimeNs));
  }
}

const pipe = (s: unknown) => s as { ref(): void; unref(): void };

function spec(c: TimeChange): string {
  if ('at' in c) return `${c.at.seconds} ${c.at.nseconds}`;
  return `0 ${'now' in c ? UTIME_NOW : UTIME_OMIT}`;
}
