import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';

/**
 * Two hosts on one link, each in a network namespace the test creates:
 * `server` and `client`, joined by a veth pair with addresses in
 * 198.18.0.0/15 (RFC 2544 benchmarking space, never routed). Both ends are
 * namespaces, so parallel tests may reuse the same addresses safely.
 */
export interface Link {
  server: string;
  client: string;
  serverAddr: string;
  clientAddr: string;
  serverIf: string;
  clientIf: string;
  prefix: number;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Removes a namespace, killing whatever still runs inside it. */
export function removeNetns(ns: string): void {
  try {
    const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean);
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone
      }
    }
  } catch {
    // namespace already gone
  }
  try {
    ip('netns', 'del', ns);
  } catch {
    // already gone
  }
}

/** Creates a namespace with `lo` up, removed at teardown. */
export function createNetns(t: Teardown, label = 'nb'): string {
  const ns = `${label}-${randomBytes(4).toString('hex')}`;
  ip('netns', 'add', ns);
  t.teardown(() => removeNetns(ns));
  ip('-n', ns, 'link', 'set', 'lo', 'up');
  return ns;
}

/**
 * Creates the server and client namespaces joined by a veth pair.
 * `subnet` is the third octet in 198.18.<subnet>.0/24.
 */
export function createLink(t: Teardown, opts: { subnet?: number; label?: string } = {}): Link {
  const subnet = opts.subnet ?? 1;
  const label = opts.label ?? 'nb';
  const server = createNetns(t, `${label}s`);
  const client = createNetns(t, `${label}c`);
  const tag = randomBytes(3).toString('hex');
  const serverIf = `vs${tag}`;
  const clientIf = `vc${tag}`;
  ip('link', 'add', serverIf, 'netns', server, 'type', 'veth', 'peer', 'name', clientIf, 'netns', client);
  const serverAddr = `198.18.${subnet}.1`;
  const clientAddr = `198.18.${subnet}.2`;
  ip('-n', server, 'addr', 'add', `${serverAddr}/24`, 'dev', serverIf);
  ip('-n', client, 'addr', 'add', `${clientAddr}/24`, 'dev', clientIf);
  ip('-n', server, 'link', 'set', serverIf, 'up');
  ip('-n', client, 'link', 'set', clientIf, 'up');
  return { server, client, serverAddr, clientAddr, serverIf, clientIf, prefix: 24 };
}
