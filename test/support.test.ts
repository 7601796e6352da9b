import t from 'tap';
import { run, start } from './support/processes.js';
import { createLink } from './support/netns.js';
import { requireNetns, requirePrograms } from './support/programs.js';

t.test('run() bounds a command in time and reports its output', async (t) => {
  const r = await run('sh', ['-c', 'echo hi; sleep 5'], { timeoutMs: 300 });
  t.equal(r.timedOut, true);
  t.match(r.stdout, /hi/);
});

t.test('start() stops a whole process group', async (t) => {
  const p = start(t, 'sh', ['-c', 'sleep 30 & echo ready; wait']);
  await p.waitFor(/ready/);
  const r = await p.stop(500);
  t.not(r, null);
});

t.test('a link between two test namespaces carries traffic', async (t) => {
  if (!requireNetns(t)) return;
  const progs = requirePrograms(t, { ping: 'iputils-ping' });
  if (!progs) return;
  const link = createLink(t, { subnet: 7 });
  const r = await run(progs.ping, ['-c', '1', '-W', '2', link.serverAddr], { ns: link.client, timeoutMs: 5000 });
  t.equal(r.code, 0, r.stderr);
});
