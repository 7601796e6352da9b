import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { RpcServer } from '@netboot/oncrpc-xdr';
import { PortmapClient, PortmapServer } from '@netboot/portmap';
import { NLM_PROGRAM, NSM_PROGRAM, startLockDaemon } from '@netboot/nlm';

/** A port that was free a moment ago, with nothing on it now. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

t.test('startLockDaemon registers NLM v4 and NSM v1, takes over a dead registration, leaves a live one alone', async (t) => {
  const pmap = new PortmapServer({ log: () => {} });
  const portmapPort = await pmap.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => pmap.close());
  const stateDir = mkdtempSync(join(tmpdir(), 'nlm-daemon-'));
  t.teardown(() => rmSync(stateDir, { recursive: true, force: true }));
  const reg = await PortmapClient.connect({ port: portmapPort });
  t.teardown(() => reg.close());

  // What a killed run leaves behind: registered, nobody there.
  await reg.registerService(NSM_PROGRAM, [1], await deadPort());
  const lines: string[] = [];
  const daemon = await startLockDaemon({ listen: '127.0.0.1', portmapPort, stateDir, log: (l) => lines.push(l) });
  t.match(lines.join('\n'), /program 100024 is registered on port \d+, where nothing answers: taking the registration over/);
  t.equal(await reg.getport(NLM_PROGRAM, 4, 'udp'), daemon.port);
  t.equal(await reg.getport(NSM_PROGRAM, 1, 'tcp'), daemon.port);
  await daemon.close();
  t.equal(await reg.getport(NLM_PROGRAM, 4, 'tcp'), 0, 'unregistered on close');

  // Another lock manager that answers: refused, its registration kept.
  const other = new RpcServer({ log: () => {} });
  other.register(NLM_PROGRAM, 4, { 0: () => ({ stat: 0, body: [] }) });
  const otherPort = await other.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => other.close());
  await reg.registerService(NLM_PROGRAM, [4], otherPort);
  await t.rejects(startLockDaemon({ listen: '127.0.0.1', portmapPort, stateDir, log: () => {} }), /another lock manager .* is registered with the portmapper \(program 100021, port \d+\); stop it .* or serve without locking \(--no-lock\)/);
  t.equal(await reg.getport(NLM_PROGRAM, 4, 'tcp'), otherPort);
});
