import t from 'tap';
import { createServer } from 'node:net';
import { netbootCli } from './support/paths.js';
import { run, start } from './support/processes.js';

/** `netboot portmap` as a user meets it: help, flag mistakes, a taken port, a clean stop. */

t.test('--help prints the usage and exits 0', async (t) => {
  const r = await run(process.execPath, [netbootCli, 'portmap', '--help'], { timeoutMs: 10_000 });
  t.equal(r.code, 0);
  t.match(r.stdout, /usage: netboot portmap \[--listen ADDR\] \[--port N\]/);
  t.match(r.stdout, /loopback/);
});

t.test('flag mistakes exit 2 and say what is wrong', async (t) => {
  const bad = await run(process.execPath, [netbootCli, 'portmap', '--listen', 'example.org'], { timeoutMs: 10_000 });
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--listen must be an IP address, not "example\.org"/);
  const port = await run(process.execPath, [netbootCli, 'portmap', '--port', '70000'], { timeoutMs: 10_000 });
  t.equal(port.code, 2);
  t.match(port.stderr, /--port must be a port number/);
  const unknown = await run(process.execPath, [netbootCli, 'portmap', '--prot', '1'], { timeoutMs: 10_000 });
  t.equal(unknown.code, 2);
});

t.test('a port already taken is explained, exit 1', async (t) => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => blocker.close());
  const taken = (blocker.address() as { port: number }).port;
  const r = await run(process.execPath, [netbootCli, 'portmap', '--listen', '127.0.0.1', '--port', String(taken)], { timeoutMs: 10_000 });
  t.equal(r.code, 1);
  t.match(r.stderr, new RegExp(`127\\.0\\.0\\.1 port ${taken} is already in use.*--port`));
});

t.test('prints one listening line, stops cleanly on SIGTERM and SIGINT', async (t) => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const p = start(t, process.execPath, [netbootCli, 'portmap', '--listen', '127.0.0.1', '--port', '0']);
    await p.waitFor(/portmap: listening on 127\.0\.0\.1 port \d+ \(UDP and TCP\)/);
    process.kill(p.pid, signal);
    t.equal(await p.exited, 0, `${signal}: exit 0`);
    t.match(p.output(), new RegExp(`portmap: ${signal}: stopping`));
    t.equal(p.output().match(/listening/g)?.length, 1);
  }
});
