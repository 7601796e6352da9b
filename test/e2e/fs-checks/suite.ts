import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { START_LOCK_DAEMONS } from '../guest-userland.js';

/**
 * Our file-system check suite (fscheck.c) as the e2e files use it: compiled
 * here, put into a node's root, run by its init; and what no NFSv3 server
 * can pass.
 */
const SOURCE = fileURLToPath(new URL('fscheck.c', import.meta.url));

/** Every check id the checker can print, in its order. */
export const CHECK_IDS = [...new Set([...readFileSync(SOURCE, 'utf8').matchAll(/"([a-z]+-\d\d)"/g)].map((m) => m[1]!))];

/**
 * Checks no NFSv3 server can pass, whatever it does: they run and their
 * outcome is shown, but not asserted.
 */
export const NFS3_CANNOT: Record<string, string> = {
  'special-03':
    'an unlinked file still open keeps a link: the client renames it to .nfsXXXX (silly rename) instead of REMOVE, since NFSv3 has no open state to keep the file alive on the server',
  'special-04': 'the silly-renamed .nfsXXXX name is listed in its directory until the last close',
  'utimensat-13': 'NFSv3 times carry seconds as an unsigned 32-bit number: nothing past 2106-02-07 can be sent',
  'utimensat-14': 'NFSv3 times carry seconds as an unsigned 32-bit number: nothing before 1970 can be sent',
};

/** Compiles the checker statically (the node's root has no C library) into `out`. */
export function compileChecker(gcc: string, out: string): void {
  execFileSync(gcc, ['-static', '-O1', '-Wall', '-Werror', '-o', out, SOURCE]);
}

/**
 * Puts the checker into the node's root and runs it from its init: on
 * /e2e/fs, and when `locks` (server:path) is given, its lock checks on that
 * export mounted with locking at /mnt/locks (the root needs the locking
 * userland of guest-userland.ts).
 */
export function installChecker(root: string, checker: string, locks?: { server: string; path: string }): void {
  execFileSync('cp', [checker, join(root, 'e2e', 'fscheck')]);
  const run = locks
    ? `${START_LOCK_DAEMONS}$B mkdir -p /mnt/locks
$B mount -t nfs -o vers=3,tcp,addr=${locks.server} ${locks.server}:${locks.path} /mnt/locks && echo "FSCHECK-MOUNTED"
/e2e/fscheck /e2e/fs /mnt/locks
$B umount /mnt/locks
`
    : '/e2e/fscheck /e2e/fs\n';
  const init = join(root, 'sbin', 'init');
  writeFileSync(init, readFileSync(init, 'utf8').replace('echo "E2E-DONE"', run + 'echo "E2E-DONE"'));
}

/** What the checker printed on the serial console: passed ids, failed ids with what went wrong. */
export function checkResults(serial: string): { passed: Set<string>; failed: Map<string, string> } {
  return {
    passed: new Set([...serial.matchAll(/FSCHECK-OK (\S+)/g)].map((m) => m[1]!)),
    failed: new Map([...serial.matchAll(/FSCHECK-FAIL (\S+) ([^\r\n]*)/g)].map((m) => [m[1]!, m[2]!])),
  };
}
