import t from 'tap';
import fc from 'fast-check';
import { RpcAcceptError, RpcClient, XdrError } from '@netboot/oncrpc-xdr';
import { NFS_PROGRAM, NFS_V3, procedures, Proc } from '@netboot/nfs3';
import { harness, root } from './harness.js';

t.test('random arguments to every procedure: GARBAGE_ARGS or an NFS reply, and the server keeps serving', async (t) => {
  const h = await harness(t);
  const rpc = await RpcClient.connect({ host: '127.0.0.1', port: h.port, transport: 'tcp', cred: root, timeoutMs: 10_000 });
  t.teardown(() => rpc.close());
  const handle = h.root;
  let garbage = 0;
  let replies = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...(Object.keys(procedures) as (keyof typeof procedures)[])),
      fc.uint8Array({ maxLength: 200 }),
      fc.boolean(),
      async (name, bytes, withHandle) => {
        // Half the calls start with a valid handle, so the garbage reaches the procedure's own fields.
        const prefix = Buffer.alloc(4 + handle.length);
        prefix.writeUInt32BE(handle.length, 0);
        handle.copy(prefix, 4);
        const args = withHandle ? [prefix, Buffer.from(bytes)] : [Buffer.from(bytes)];
        try {
          const r = await rpc.call(NFS_PROGRAM, NFS_V3, Proc[name], args);
          procedures[name].res.read(r, '');
          replies++;
        } catch (e) {
          if (e instanceof RpcAcceptError && e.stat === 4) garbage++;
          else if (!(e instanceof XdrError)) throw e;
        }
        return true;
      },
    ),
    { seed: 42, numRuns: 300 },
  );
  t.ok(garbage > 0 && replies > 0, `${garbage} GARBAGE_ARGS, ${replies} NFS replies`);
  const alive = await rpc.call(NFS_PROGRAM, NFS_V3, 0);
  t.equal(alive.remaining, 0, 'NULL still answers');
});
