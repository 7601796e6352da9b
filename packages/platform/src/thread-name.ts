import { writeFileSync } from 'node:fs';

/** Linux keeps a thread's name in 16 bytes, the terminating NUL included. */
const NAME_MAX = 15;

/**
 * Names the calling thread (Linux: its `comm`, what `top -H`, `ps -L`, `perf`
 * and /proc/PID/task/TID/comm show), so the CPU of a server's worker threads
 * can be told apart from the main thread's and from V8's and libuv's helper
 * threads, which Node leaves all named after the process. The name is cut to
 * 15 bytes. Returns false where it cannot be set (another OS, no /proc): a
 * name is a label for tools, never something a server depends on.
 */
export function nameThread(name: string): boolean {
  try {
    writeFileSync('/proc/thread-self/comm', Buffer.from(name, 'utf8').subarray(0, NAME_MAX));
    return true;
  } catch {
    return false;
  }
}
