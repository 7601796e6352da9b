import type { Test } from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ReplySender, RpcServer, type Credential } from '@netboot/oncrpc-xdr';
import { type AccessOptions, type NfsExport, NfsClient, NfsServer } from '@netboot/nfs3';

export const rw: AccessOptions = { rw: true, rootSquash: false, allSquash: false, anonuid: 65534, anongid: 65534, secure: false };

export const asUser = (uid: number, gid = uid, gids: number[] = []): Credential => ({
  flavor: 1,
  stamp: 1,
  machine: 'test',
  uid,
  gid,
  gids,
});
export const root = asUser(0);

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface Harness {
  dir: string;
  server: NfsServer;
  rpc: RpcServer;
  port: number;
  root: Buffer;
  client(cred?: Credential, transport?: 'tcp' | 'udp'): Promise<NfsClient>;
  restart(): Promise<Harness>;
}

/** An NFS server on 127.0.0.1 exporting a fresh temporary directory (or `dir`). */
export async function harness(
  t: Teardown,
  opts: { options?: AccessOptions; dir?: string; key?: Buffer; extra?: NfsExport[]; attributeCacheMs?: number; portable?: boolean; directReadMax?: number; directWrites?: boolean; replySender?: ReplySender } = {},
): Promise<Harness> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'nfs3-')));
  if (!opts.dir) t.teardown(() => rm(dir, { recursive: true, force: true }));
  const key = opts.key ?? Buffer.alloc(32, 7);
  const options = opts.options ?? rw;
  const exports: NfsExport[] = [{ id: 1, path: dir, optionsFor: () => options }, ...(opts.extra ?? [])];
  const server = await NfsServer.create({ exports, handleKey: key, log: () => {}, attributeCacheMs: opts.attributeCacheMs, portable: opts.portable, directReadMax: opts.directReadMax, directWrites: opts.directWrites });
  const rpc = new RpcServer({ log: () => {}, replySender: opts.replySender });
  server.register(rpc);
  const port = await rpc.listen({ host: '127.0.0.1', port: 0 });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    server.close();
    await rpc.close();
  };
  t.teardown(close);
  const clients: NfsClient[] = [];
  t.teardown(() => clients.forEach((c) => c.close()));
  return {
    dir,
    server,
    rpc,
    port,
    root: server.rootHandle(dir)!,
    async client(cred = root, transport = 'tcp') {
      // Generous: the first READDIRPLUS of a 100,000-entry directory on a loaded CI machine takes long.
      const c = await NfsClient.connect({ host: '127.0.0.1', port, transport, cred, timeoutMs: 120_000 });
      clients.push(c);
      return c;
    },
    async restart() {
      await close();
      return harness(t, { ...opts, dir, key });
    },
  };
}

/** Asserts NFS3_OK and narrows to the resok arm. */
export function ok<T extends { status: number }>(t: Test, r: T, what = 'NFS3_OK'): Extract<T, { status: 0 }> {
  t.equal(r.status, 0, what);
  if (r.status !== 0) throw new Error(`${what}: status ${r.status}`);
  return r as Extract<T, { status: 0 }>;
}
