import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { isRoot, requireThat, which } from './programs.js';
import { start, type Running } from './processes.js';

/**
 * A PostgreSQL cluster of the test's own: made by initdb in a temp folder,
 * served by `postgres` on a unix socket in that folder only (no TCP), so it
 * is reached from inside any network namespace through the file system and
 * never meets a system cluster. Stopped by PID at teardown.
 */
export interface TestPostgres {
  /** postgres://netboot@/netboot?host=<socket dir>&port=<port> */
  url: string;
  socketDir: string;
  port: number;
  /** The cluster's data folder. */
  readonly dataDir: string;
  /** The running postmaster's PID (undefined while stopped). */
  pid(): number | undefined;
  /** Fast shutdown (SIGINT to the postmaster), resolved once it has exited. */
  stop(): Promise<void>;
  /** Starts it again on the same folder and socket. */
  start(): Promise<void>;
}

/** The directory of the newest installed PostgreSQL's server programs (Debian: /usr/lib/postgresql/N/bin). */
export function postgresBin(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const versions = readdirSync(base)
      .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions.length > 0) return join(base, versions[0], 'bin');
  }
  const initdb = which('initdb');
  return initdb ? join(initdb, '..') : undefined;
}

/**
 * A fresh cluster for the test, or undefined after a local skip / CI failure
 * when PostgreSQL (Debian package postgresql) is not installed. As root, the
 * cluster runs as the `postgres` user (initdb refuses root).
 */
export async function startTestPostgres(t: Test, port = 5432): Promise<TestPostgres | undefined> {
  const bin = postgresBin();
  if (!requireThat(t, bin !== undefined, 'missing PostgreSQL server programs (Debian package postgresql): apt-get install it to run this test')) return undefined;
  let asUser: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'netboot-pg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  if (isRoot()) {
    const ids = execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim();
    const gid = execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim();
    chownSync(dir, Number(ids), Number(gid));
    asUser = ['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', '--'];
  }
  chmodSync(dir, 0o755);
  const dataDir = join(dir, 'data');
  const run = (prog: string, args: string[]) =>
    asUser.length ? execFileSync(asUser[0], [...asUser.slice(1), join(bin!, prog), ...args], { stdio: 'pipe' }) : execFileSync(join(bin!, prog), args, { stdio: 'pipe' });
  run('initdb', ['-D', dataDir, '-U', 'netboot', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  let server: Running | undefined;
  const launch = async () => {
    const args = [join(bin!, 'postgres'), '-D', dataDir, '-k', dir, '-p', String(port), '-c', 'listen_addresses=', '-c', 'max_connections=200', '-c', 'shared_buffers=32MB'];
    server = asUser.length ? start(t, asUser[0], [...asUser.slice(1), ...args]) : start(t, args[0], args.slice(1));
    await server.waitFor(/database system is ready to accept connections/, 30_000);
  };
  const pg: TestPostgres = {
    url: `postgres://netboot@/postgres?host=${encodeURIComponent(dir)}&port=${port}`,
    socketDir: dir,
    port,
    dataDir,
    pid: () => (server && server.child.exitCode === null && server.child.signalCode === null ? server.pid : undefined),
    async stop() {
      if (!server) return;
      const s = server;
      server = undefined;
      try {
        process.kill(s.pid, 'SIGINT'); // fast shutdown: clients are disconnected, nothing waits for them
      } catch {
        // already gone
      }
      const timer = setTimeout(() => void s.kill(), 15_000);
      await s.exited;
      clearTimeout(timer);
    },
    start: launch,
  };
  await launch();
  t.teardown(() => pg.stop());
  return pg;
}

