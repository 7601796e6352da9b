import { spawn, type ChildProcess } from 'node:child_process';

/** A process a test started, stopped by the test by killing its whole process group. */
export interface Running {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves with the first output match of `pattern`, or rejects after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves once `check` holds of the output so far (e.g. a count of lines), or rejects after `timeoutMs` naming `what`. */
  waitForOutput(check: (output: string) => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves with the exit code or signal. */
  stop(graceMs?: number): Promise<number | NodeJS.Signals | null>;
  /** SIGKILL to the group at once (a crash). */
  kill(): Promise<number | NodeJS.Signals | null>;
  readonly exited: Promise<number | NodeJS.Signals | null>;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** Prefix for commands that must run inside a network namespace. */
export function inNetns(ns: string | undefined, command: string, args: string[]): [string, string[]] {
  return ns ? ['ip', ['netns', 'exec', ns, command, ...args]] : [command, args];
}

/**
 * Starts a long-running program in its own process group (so `ip netns exec`
 * and anything it forks are stopped together) and registers its stop with
 * the test's teardown.
 */
export function start(
  t: Teardown,
  command: string,
  args: string[],
  opts: { ns?: string; env?: NodeJS.ProcessEnv; cwd?: string; /** Keep stdin open for the test to write to (child.stdin). */ stdin?: boolean } = {},
): Running {
  const [cmd, argv] = inNetns(opts.ns, command, args);
  const child = spawn(cmd, argv, {
    detached: true,
    stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
    cwd: opts.cwd,
  });
  let text = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    text += chunk.toString('utf8');
    if (text.length > 4_000_000) text = text.slice(-2_000_000);
    for (const w of waiters) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => {
    child.on('exit', (code, signal) => {
      for (const w of waiters) w();
      resolve(code ?? signal);
    });
    child.on('error', () => resolve(null));
  });
  let done = false;
  exited.then(() => (done = true));
  const signalGroup = (sig: NodeJS.Signals) => {
    if (done || child.pid === undefined) return;
    try {
      process.kill(-child.pid, sig);
    } catch {
      // already gone
    }
  };
  const stop = async (graceMs = 3000) => {
    signalGroup('SIGTERM');
    const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
    const r = await exited;
    clearTimeout(timer);
    signalGroup('SIGKILL'); // children that outlived the leader
    return r;
  };
  const kill = async () => {
    signalGroup('SIGKILL');
    return exited;
  };
  // A bound, not an expectation: a starting server on a busy CI machine can take seconds to print.
  const waitOn = <T>(test: () => T | undefined, what: string, timeoutMs = 30_000) =>
    new Promise<T>((resolve, reject) => {
      const check = () => {
        const found = test();
        if (found !== undefined) {
          cleanup();
          resolve(found);
        } else if (done) {
          cleanup();
          reject(new Error(`${command} exited before printing ${what}; output:\n${text}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${command} did not print ${what} within ${timeoutMs} ms; output:\n${text}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  const running: Running = {
    child,
    pid: child.pid ?? -1,
    output: () => text,
    exited,
    stop,
    kill,
    waitFor: (pattern, timeoutMs) => waitOn(() => text.match(pattern) ?? undefined, String(pattern), timeoutMs),
    waitForOutput: (check, what, timeoutMs) => waitOn(() => check(text) || undefined, what, timeoutMs).then(() => {}),
  };
  t.teardown(() => stop());
  return running;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** stdout as bytes (file names that are not UTF-8 survive here, not in `stdout`). */
  stdoutBytes: Buffer;
  stderr: string;
  timedOut: boolean;
}

/**
 * Runs a program to completion with a hard time limit; on timeout the whole
 * process group is killed and `timedOut` is set. Never rejects on a non-zero
 * exit: the test asserts on the result.
 */
export function run(
  command: string,
  args: string[],
  opts: { ns?: string; timeoutMs?: number; input?: string | Buffer; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<RunResult> {
  const [cmd, argv] = inNetns(opts.ns, command, args);
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, {
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }, opts.timeoutMs ?? 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, stdout: '', stdoutBytes: Buffer.alloc(0), stderr: String(e), timedOut });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      try {
        process.kill(-child.pid!, 'SIGKILL'); // leftovers in the group
      } catch {
        // none
      }
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stdoutBytes: Buffer.concat(out),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
      });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}
