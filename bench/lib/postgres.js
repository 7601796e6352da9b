// A PostgreSQL cluster of the benchmark's own: initdb in a temp folder, served
// on a unix socket in that folder only (no TCP), which the servers in their
// network namespaces reach through the file system. As root it runs as the
// `postgres` user (initdb refuses root). Stopped by PID (fast shutdown).
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function postgresBin() {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const v = readdirSync(base)
    .filter((d) => existsSync(join(base, d, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a))[0];
  return v ? join(base, v, 'bin') : undefined;
}

export async function startBenchPostgres(port = 5439) {
  const bin = postgresBin();
  if (!bin) throw new Error('PostgreSQL server programs are missing (Debian package postgresql)');
  const dir = mkdtempSync(join(tmpdir(), 'bench-pg-'));
  const asPostgres = process.getuid?.() === 0 ? ['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', '--'] : [];
  if (asPostgres.length) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
    chownSync(dir, uid, gid);
  }
  chmodSync(dir, 0o755);
  const data = join(dir, 'data');
  const cmd = (prog, args) => (asPostgres.length ? [asPostgres[0], [...asPostgres.slice(1), join(bin, prog), ...args]] : [join(bin, prog), args]);
  execFileSync(...cmd('initdb', ['-D', data, '-U', 'netboot', '--auth=trust', '-E', 'UTF8', '--locale=C']), { stdio: 'ignore' });
  // Durable commits as shipped (fsync, synchronous_commit on): a lease is only as safe as its commit.
  const [c, a] = cmd('postgres', ['-D', data, '-k', dir, '-p', String(port), '-c', 'listen_addresses=', '-c', 'max_connections=200']);
  const logPath = join(dir, 'postgres.log');
  const child = spawn('sh', ['-c', 'exec "$@" >"$0" 2>&1', logPath, c, ...a], { detached: true, stdio: 'ignore' });
  for (let waited = 0; !/ready to accept connections/.test(safeRead(logPath)); waited += 100) {
    if (waited > 30_000 || child.exitCode !== null) throw new Error(`PostgreSQL did not start:\n${safeRead(logPath)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const psql = (db, sql) => execFileSync('psql', ['-h', dir, '-p', String(port), '-U', 'netboot', '-d', db, '-v', 'ON_ERROR_STOP=1', '-qc', sql], { stdio: 'pipe' });
  return {
    socketDir: dir,
    port,
    url: (db) => `postgres://netboot@/${db}?host=${encodeURIComponent(dir)}&port=${port}`,
    createDb: (name) => psql('postgres', `CREATE DATABASE ${name}`),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        try {
          process.kill(child.pid, 'SIGINT');
        } catch {
          // gone
        }
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function safeRead(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
