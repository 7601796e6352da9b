import t from 'tap';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLink, type Link } from './support/netns.js';
import { netbootCli, repoRoot } from './support/paths.js';
import { run, start } from './support/processes.js';
import { requirePrograms, requireNetns } from './support/programs.js';

/*
 * netboot serve with DHCP next to TFTP in one process: the whole process is
 * relaunched once with device-bound DHCP sockets, and SIGHUP puts a new
 * dhcpd.conf in force while a broken one is refused.
 */

const SLAVE_MAC = '00:40:63:c2:ca:c9';
const guide = readFileSync(join(repoRoot, 'packages/dhcp-wire/test/fixtures/gentoo-dhcpd.conf'), 'utf8');

function bareClient(link: Link): void {
  const ip = (...a: string[]) => execFileSync('ip', ['-n', link.client, ...a]);
  ip('addr', 'flush', 'dev', link.clientIf);
  ip('link', 'set', link.clientIf, 'down');
  ip('link', 'set', link.clientIf, 'address', SLAVE_MAC);
  ip('link', 'set', link.clientIf, 'up');
}

t.test('serve answers DHCP and TFTP, and reloads dhcpd.conf on SIGHUP', async (t) => {
  if (!requireNetns(t)) return;
  const progs = requirePrograms(t, { udhcpc: 'udhcpc', curl: 'curl' });
  if (!progs) return;
  const dir = mkdtempSync(join(tmpdir(), 'serve-dhcp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'tftp'));
  writeFileSync(join(dir, 'tftp', 'pxelinux.0'), 'not really pxelinux\n');
  const conf = join(dir, 'dhcpd.conf');
  writeFileSync(conf, guide);
  const script = join(dir, 'udhcpc.sh');
  writeFileSync(script, `#!/bin/sh\n[ "$1" = bound ] && echo "$boot_file" > "${dir}/boot_file"\nexit 0\n`);
  chmodSync(script, 0o755);

  const link = createLink(t, { subnet: 21, label: 'svd' });
  bareClient(link);
  const serve = start(
    t,
    process.execPath,
    [netbootCli, 'serve', '--dhcp-conf', conf, '--interface', link.serverIf, '--tftp-root', join(dir, 'tftp'), '--state-dir', join(dir, 'state')],
    { ns: link.server },
  );
  await serve.waitFor(/netboot serve: running/, 20_000);
  t.match(serve.output(), new RegExp(`dhcp on ${link.serverIf}\\s+udp\\s+0\\.0\\.0\\.0:67`));

  const dhcp = () =>
    run(progs.udhcpc, ['-i', link.clientIf, '-V', 'PXEClient:Arch:00000:UNDI:002001', '-f', '-q', '-n', '-t', '5', '-T', '2', '-s', script], {
      ns: link.client,
      timeoutMs: 30_000,
    });
  t.equal((await dhcp()).code, 0, 'udhcpc got a lease');
  t.equal(readFileSync(join(dir, 'boot_file'), 'utf8').trim(), 'pxelinux.0');
  t.match(serve.output(), /DHCPACK on 198\.18\.21\.21 to 00:40:63:c2:ca:c9/);

  // The node's side has no address after udhcpc -q without the default script: give it one for TFTP.
  execFileSync('ip', ['-n', link.client, 'addr', 'add', '198.18.21.21/24', 'dev', link.clientIf]);
  const tftp = await run(progs.curl, ['-s', `tftp://${link.serverAddr}/pxelinux.0`], { ns: link.client, timeoutMs: 10_000 });
  t.equal(tftp.stdout, 'not really pxelinux\n', 'the same process serves TFTP');
  execFileSync('ip', ['-n', link.client, 'addr', 'flush', 'dev', link.clientIf]);

  writeFileSync(conf, guide.replace('filename "pxelinux.0";', 'filename "lpxelinux.0";'));
  process.kill(serve.pid, 'SIGHUP');
  await serve.waitFor(/dhcp: reloaded/, 10_000);
  t.equal((await dhcp()).code, 0);
  t.equal(readFileSync(join(dir, 'boot_file'), 'utf8').trim(), 'lpxelinux.0', 'the new dhcpd.conf is in force');

  writeFileSync(conf, `${guide}\nsubnet 198.18.99.0 netmask 255.255.255.0 { rnage 1 2; }\n`);
  process.kill(serve.pid, 'SIGHUP');
  await serve.waitFor(/dhcp: reload failed, the running settings stay in force: .*dhcpd\.conf:\d+:\d+/, 10_000);
  t.equal((await dhcp()).code, 0, 'still serving after a bad reload');
  t.equal(readFileSync(join(dir, 'boot_file'), 'utf8').trim(), 'lpxelinux.0', 'the last good dhcpd.conf stays in force');

  t.equal(await serve.stop(5000), 0, 'SIGTERM reaches the relaunched process and it exits 0');
  t.match(serve.output(), /netboot serve: stopped/);
});
