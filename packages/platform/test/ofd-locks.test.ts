import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { expectErrno, requireNative } from './require-native.js';

// F_SETLK/F_GETLK from another process, through Python's fcntl.lockf (a
// process-owned POSIX lock): what a program on the master would use.
const PY_PROBE = `
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, int(sys.argv[3]), int(sys.argv[2]))
    print("free")
except OSError:
    print("held")
`;

const n = requireNative(t);
if (n) {
  const c = n.constants;
  const dir = mkdtempSync(join(tmpdir(), 'platform-locks-'));
  const file = join(dir, 'locked');
  writeFileSync(file, 'x'.repeat(100));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const python = spawnSync('python3', ['-c', 'import fcntl'], { stdio: 'ignore' }).status === 0;

  const probe = (start: number, len: number) =>
    spawnSync('python3', ['-c', PY_PROBE, file, String(start), String(len)], { encoding: 'utf8' }).stdout.trim();

  t.test('a lock on one open file description is seen by another and by another process', async (t) => {
    const a = openSync(file, 'r+');
    const b = openSync(file, 'r+');
    t.teardown(() => {
      closeSync(a);
      closeSync(b);
    });
    t.equal(n.ofdSetLock(a, c.F_WRLCK, 10n, 10n), true, 'the first holder gets it');
    t.equal(n.ofdSetLock(b, c.F_WRLCK, 15n, 1n), false, 'a second description conflicts');
    t.equal(n.ofdSetLock(b, c.F_WRLCK, 20n, 5n), true, 'beside the range is free');
    const holder = n.ofdGetLock(b, c.F_RDLCK, 0n, 0n);
    t.match(holder, { type: c.F_WRLCK, start: 10n, len: 10n, pid: -1 }, 'GETLK names the OFD holder');
    t.equal(n.ofdGetLock(a, c.F_WRLCK, 10n, 5n), null, 'its own lock does not conflict');
    if (!python) {
      if (process.env.CI === 'true') t.fail('python3 is needed for the cross-process check');
      else t.skip('python3 missing: no cross-process check', () => {});
    } else {
      t.equal(probe(12, 1), 'held', 'another process cannot lock inside the range');
      t.equal(probe(0, 10), 'free', 'nor is it refused outside');
    }
    t.equal(n.ofdSetLock(a, c.F_UNLCK, 0n, 0n), true);
    t.equal(n.ofdSetLock(b, c.F_UNLCK, 0n, 0n), true);
    if (python) t.equal(probe(12, 1), 'free', 'released');
  });

  t.test('the blocking lock is granted when the holder releases', async (t) => {
    const a = openSync(file, 'r+');
    const b = openSync(file, 'r+');
    t.teardown(() => {
      closeSync(a);
      closeSync(b);
    });
    t.ok(n.ofdSetLock(a, c.F_WRLCK, 0n, 0n));
    let granted = false;
    const waiting = n.ofdSetLockWait(b, c.F_WRLCK, 50n, 10n).then(() => {
      granted = true;
    });
    // The wait is parked on its own thread: the event loop keeps turning.
    await new Promise<void>((resolve) => setImmediate(resolve));
    t.equal(granted, false, 'not granted while held');
    t.ok(n.ofdSetLock(a, c.F_UNLCK, 0n, 0n));
    await waiting;
    t.equal(granted, true);
    t.equal(n.ofdSetLock(a, c.F_WRLCK, 55n, 1n), false, 'the waiter holds it now');
  });

  t.test('the blocking lock waits for another process holding it', { skip: !python && 'python3 missing' }, async (t) => {
    const b = openSync(file, 'r+');
    t.teardown(() => closeSync(b));
    // The child locks, says so, and releases when its stdin closes.
    const child = spawn(
      'python3',
      ['-c', 'import fcntl,os,sys\nfd=os.open(sys.argv[1],os.O_RDWR)\nfcntl.lockf(fd,fcntl.LOCK_EX,0,0)\nprint("locked",flush=True)\nsys.stdin.read()\n', file],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    // Listened for from the start: the child may be gone before the lock wait resolves.
    const exited = once(child, 'exit');
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill();
    });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    t.equal(n.ofdSetLock(b, c.F_RDLCK, 0n, 1n), false, 'the process lock conflicts with an OFD lock');
    const waiting = n.ofdSetLockWait(b, c.F_RDLCK, 0n, 1n);
    child.stdin.end();
    await waiting;
    t.pass('granted once the process let go');
    await exited;
  });

  t.test('bad arguments', async (t) => {
    const a = openSync(file, 'r+');
    t.teardown(() => closeSync(a));
    t.throws(() => n.ofdSetLock(a, 7, 0n, 0n), { code: 'ERR_OUT_OF_RANGE' });
    t.throws(() => n.ofdSetLock(a, c.F_WRLCK, -1n, 0n), { code: 'ERR_OUT_OF_RANGE' });
    t.throws(() => n.ofdGetLock(a, c.F_UNLCK, 0n, 0n), { code: 'ERR_OUT_OF_RANGE' });
    t.throws(() => n.ofdSetLockWait(a, c.F_WRLCK, 0n, 0n, 'yes' as unknown as boolean), { code: 'ERR_INVALID_ARG_TYPE' }, 'keepAlive is a boolean');
    expectErrno(t, () => n.ofdSetLock(a, c.F_WRLCK, (1n << 63n) - 2n, 10n), 'EOVERFLOW', 'fcntl');
    expectErrno(t, () => n.ofdSetLock(-3, c.F_WRLCK, 0n, 0n), 'EBADF', 'fcntl');
    expectErrno(t, () => n.ofdSetLockWait(1 << 29, c.F_WRLCK, 0n, 0n), 'EBADF', 'fcntl');
    const ro = openSync(file, 'r');
    await t.rejects(n.ofdSetLockWait(ro, c.F_WRLCK, 0n, 0n), { code: 'EBADF', syscall: 'fcntl' }, 'a write lock needs a writable fd');
    closeSync(ro);
  });
}
