import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeRpcMessage } from '@netboot/oncrpc-xdr';
import { createNetns } from '../../../test/support/netns.js';
import { run, start } from '../../../test/support/processes.js';
import { requirePrograms, requireNetns } from '../../../test/support/programs.js';

/*
 * Debian's rpcinfo (libtirpc) against an RpcServer. rpcinfo always asks
 * rpcbind on port 111 first, so the server runs inside a network namespace
 * of its own, where port 111 is free.
 */

const script = fileURLToPath(new URL('./fixtures/null-server.mjs', import.meta.url));
const golden = Buffer.from(readFileSync(new URL('./fixtures/rpcinfo-null-v2-udp.hex', import.meta.url), 'utf8').trim(), 'hex');

t.test('rpcinfo reaches RpcServer over UDP and TCP', async (t) => {
  const programs = requirePrograms(t, { rpcinfo: 'rpcbind' });
  if (!programs) return;
  if (!requireNetns(t)) return;
  const ns = createNetns(t, 'rpc');
  const server = start(t, process.execPath, [script, '111'], { ns });
  await server.waitFor(/listening 111/);
  const rpcinfo = (...args: string[]) => run(programs.rpcinfo, args, { ns, timeoutMs: 20_000 });

  const u2 = await rpcinfo('-u', '127.0.0.1', '100000', '2');
  t.equal(u2.stdout.trim(), 'program 100000 version 2 ready and waiting', 'rpcinfo -u 127.0.0.1 100000 2');
  const t3 = await rpcinfo('-T', 'tcp', '127.0.0.1', '100000', '3');
  t.equal(t3.stdout.trim(), 'program 100000 version 3 ready and waiting', 'rpcinfo -T tcp 127.0.0.1 100000 3');
  // Without a version rpcinfo sends version 0, learns 2..4 from PROG_MISMATCH, then tries each.
  for (const flag of ['-u', '-t']) {
    const all = await rpcinfo(flag, '127.0.0.1', '100000');
    t.equal(
      all.stdout.trim(),
      ['2', '3', '4'].map((v) => `program 100000 version ${v} ready and waiting`).join('\n'),
      `rpcinfo ${flag} 127.0.0.1 100000 (PROG_MISMATCH 2..4)`,
    );
  }
  const v9 = await rpcinfo('-u', '127.0.0.1', '100000', '9');
  t.not(v9.code, 0, 'an unregistered version fails');
  t.match(v9.stdout + v9.stderr, /version mismatch|Program\/version mismatch|not available/i, `version 9: ${v9.stderr.trim()}`);

  const nulls = [...server.output().matchAll(/^call udp 2 0 ([0-9a-f]+)$/gm)].map((m) => Buffer.from(m[1], 'hex'));
  t.ok(nulls.length >= 1, 'the server saw the NULL calls');
  t.equal(nulls[0].subarray(4).toString('hex'), golden.subarray(4).toString('hex'), 'same bytes as the committed capture, xid aside');
  const { msg } = decodeRpcMessage(nulls[0]);
  t.match(msg, { type: 0, rpcvers: 2, prog: 100000, vers: 2, proc: 0 });
  t.notMatch(server.output(), /^log /m, 'nothing logged');
});
