import t from 'tap';
import { netbootCli } from './support/paths.js';
import { run } from './support/processes.js';
import { NODE_IP, NODE_MAC, bootNode, nodeNfsRead, startBootLab, statusJson } from './support/boot-lab.js';

/*
 * netboot serve --status-port: a node booted by real clients (udhcpc, curl
 * over TFTP, nfs-cat) leaves its whole timeline in order in `netboot status
 * --json`, in /metrics and in the history a restart reads back; a refused
 * MOUNT shows in the status and in `netboot doctor --live`.
 */

t.test('a node boots stage by stage; status, metrics and the live doctor say so', async (t) => {
  const lab = await startBootLab(t, { label: 'bst' });
  if (!lab) return;
  const node = await bootNode(lab);

  // The contract: {"nodes":[{"mac","ip","stage","stages":[{"name","start","end"}],...}]}
  t.equal(node.mac, NODE_MAC);
  t.equal(node.ip, NODE_IP);
  t.equal(node.stage, 'up');
  t.equal(node.firmware, 'BIOS', 'from option 60/93');
  t.equal(node.bootCount, 1);
  t.same(
    node.stages.map((s) => s.name),
    ['dhcp', 'loader', 'kernel', 'mounted', 'init', 'up'],
    'every stage, in order',
  );
  for (let i = 0; i < node.stages.length; i++) {
    const s = node.stages[i];
    t.ok(typeof s.start === 'number' && (s.end === null ? i === node.stages.length - 1 : s.end >= s.start), `${s.name}: start ${s.start}, end ${s.end}`);
    if (i > 0) t.equal(s.start, node.stages[i - 1].end, `${s.name} starts where ${node.stages[i - 1].name} ended`);
  }
  const timeline = node.boot!.timeline.map((x) => `${x.what} ${x.label}`);
  t.match(timeline, ['dhcp DHCP (BIOS) 198.18.21.21', 'tftp pxelinux.0', 'tftp pxelinux.cfg/01-00-40-63-c2-ca-c9', 'tftp pxelinux.cfg/default', 'tftp vmlinuz', 'tftp initrd.img', /^mount MNT /, 'nfs first NFS call', 'init READ /init']);
  t.equal(node.lastError, null, 'a missing pxelinux.cfg candidate is normal');

  const metrics = await run(lab.progs.curl, ['-s', `${lab.statusUrl}/metrics`], { ns: lab.link.server, timeoutMs: 10_000 });
  t.match(metrics.stdout, /netboot_nodes\{stage="up"\} 1/);
  t.match(metrics.stdout, /netboot_requests_total\{protocol="dhcp",operation="ACK",status="ok"\} [1-9]/);
  t.match(metrics.stdout, /netboot_requests_total\{protocol="tftp",operation="GET",status="complete"\} 4/);
  t.match(metrics.stdout, /netboot_requests_total\{protocol="nfs",operation="READ",status="OK"\} [1-9]/);
  t.match(metrics.stdout, /netboot_boot_duration_seconds_count 1/);
  t.match(metrics.stdout, /netboot_leases 1/);

  // A MOUNT of a path not exported to the node: the refusal, its reason and the doctor's finding.
  await nodeNfsRead(lab, '/init', '/not/exported');
  const refused = (await statusJson(lab)).nodes.find((n) => n.mac === NODE_MAC)!;
  t.match(refused.lastError?.text, /MOUNT \/not\/exported(\/init)? refused: not exported/);
  t.same(refused.diagnosis.map((d) => d.code), ['mount-refused']);
  const doctor = await run(process.execPath, [netbootCli, 'doctor', '--live', '--url', lab.statusUrl], { ns: lab.link.server, timeoutMs: 20_000 });
  t.equal(doctor.code, 1, 'doctor --live exits 1 with a finding');
  t.match(doctor.stdout, /00:40:63:c2:ca:c9 198\.18\.21\.21: up, boot 1\n {2}mount-refused: MOUNT of \/not\/exported/);

  const table = await run(process.execPath, [netbootCli, 'status', '--url', lab.statusUrl], { ns: lab.link.server, timeoutMs: 20_000 });
  t.match(table.stdout, /^MAC\s+IP\s+NAME\s+FIRMWARE\s+IMAGE\s+STAGE/);
  t.match(table.stdout, /00:40:63:c2:ca:c9\s+198\.18\.21\.21\s+-\s+BIOS\s+-\s+up\s+dhcp [\d.]+ loader [\d.]+ kernel [\d.]+ mounted [\d.]+ init [\d.]+ up [\d.]+\s+1\s+MOUNT of/);

});

t.test('the history in the state directory survives a restart', async (t) => {
  const lab = await startBootLab(t, { label: 'bsh' });
  if (!lab) return;
  await bootNode(lab);
  t.equal(await lab.serve.stop(10_000), 0);
  const { start } = await import('./support/processes.js');
  const args = lab.serve.child.spawnargs.slice(lab.serve.child.spawnargs.indexOf(netbootCli) + 1);
  const serve = start(t, process.execPath, [netbootCli, ...args], { ns: lab.link.server });
  await serve.waitFor(/netboot serve: running/, 30_000);
  t.match(serve.output(), /status: \d+ boot events read back from .*boot-events\.jsonl, 1 nodes/);
  const node = (await statusJson(lab)).nodes.find((n) => n.mac === NODE_MAC)!;
  t.equal(node.stage, 'up');
  t.same(
    node.stages.map((s) => s.name),
    ['dhcp', 'loader', 'kernel', 'mounted', 'init', 'up'],
  );
  t.equal(await serve.stop(10_000), 0);
});

t.test('the status port refuses another address without a token, and a request without the token', async (t) => {
  const bad = await run(process.execPath, [netbootCli, 'serve', '--tftp-root', '/tmp', '--status-port', '19470', '--status-address', '198.18.0.1'], { timeoutMs: 20_000 });
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--status-address 198\.18\.0\.1 is reachable from other hosts: give --status-token/);
  const lab = await startBootLab(t, { label: 'bsk', token: 'a-long-secret' });
  if (!lab) return;
  const denied = await run(lab.progs.curl, ['-s', '-o', '/dev/null', '-w', '%{http_code}', `${lab.statusUrl}/api/nodes`], { ns: lab.link.server, timeoutMs: 10_000 });
  t.equal(denied.stdout, '403');
  const allowed = await run(lab.progs.curl, ['-s', '-H', 'Authorization: Bearer a-long-secret', `${lab.statusUrl}/api/nodes`], { ns: lab.link.server, timeoutMs: 10_000 });
  t.same(JSON.parse(allowed.stdout).nodes, []);
  t.same((await statusJson(lab, 'a-long-secret')).nodes, []);
});
