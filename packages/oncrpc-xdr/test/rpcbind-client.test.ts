import t from 'tap';
import { fileURLToPath } from 'node:url';
import { createNetns } from '../../../test/support/netns.js';
import { run } from '../../../test/support/processes.js';
import { requirePrograms, requireNetns } from '../../../test/support/programs.js';
import { startRpcbind } from '../../../test/support/rpcbind.js';

/*
 * RpcClient against Debian's rpcbind (libtirpc), over UDP and TCP. rpcbind
 * runs in a network namespace of its own, with a private /run for its
 * socket and lock files; the probe runs in the same namespace.
 */

const probe = fileURLToPath(new URL('./fixtures/rpcbind-probe.mjs', import.meta.url));

interface Outcome {
  ok: boolean;
  first?: number | null;
  remaining?: number;
  name?: string;
  stat?: number;
  low?: number;
  high?: number;
}

t.test('RpcClient talks to rpcbind: results, every status it sends, reserved ports', async (t) => {
  const programs = requirePrograms(t, { rpcbind: 'rpcbind', rpcinfo: 'rpcbind', unshare: 'util-linux' });
  if (!programs) return;
  if (!requireNetns(t)) return;
  const ns = createNetns(t, 'rpcb');
  await startRpcbind(t, ns, programs);
  const result = await run(process.execPath, [probe], { ns, timeoutMs: 30_000 });
  t.equal(result.code, 0, `probe ran: ${result.stderr}`);
  const out = JSON.parse(result.stdout) as { client: Record<'udp' | 'tcp', Record<string, Outcome> & { localPort: number }>; raw: Record<string, string | null> };
  for (const transport of ['udp', 'tcp'] as const) {
    const c = out.client[transport];
    t.match(c.null, { ok: true, remaining: 0 }, `${transport}: NULL with AUTH_SYS`);
    t.match(c.authNone, { ok: true }, `${transport}: NULL with AUTH_NONE`);
    t.match(c.getport, { ok: true, first: 111, remaining: 4 }, `${transport}: GETPORT(100000, 2) = 111`);
    t.match(c.progMismatch, { name: 'RpcAcceptError', stat: 2, low: 2, high: 4 }, `${transport}: PROG_MISMATCH 2..4`);
    t.match(c.procUnavail, { name: 'RpcAcceptError', stat: 3 }, `${transport}: PROC_UNAVAIL`);
    t.match(c.progUnavail, { name: 'RpcAcceptError', stat: 1 }, `${transport}: PROG_UNAVAIL`);
    t.ok(c.localPort >= 600 && c.localPort <= 1023, `${transport}: reserved source port ${c.localPort}`);
  }
  // Over UDP libtirpc decodes from a reused receive buffer, so short arguments may "succeed"; TCP shows the status.
  t.match(out.client.tcp.garbageArgs, { name: 'RpcAcceptError', stat: 4 }, 'tcp: GARBAGE_ARGS');
  t.equal(out.raw.progMismatch, '0000010200000001000000000000000000000000000000020000000200000004', 'raw PROG_MISMATCH bytes as committed');
  t.equal(out.raw.badAuthSys, '0000010800000001000000010000000100000001', 'raw AUTH_BADCRED bytes as committed');
});
