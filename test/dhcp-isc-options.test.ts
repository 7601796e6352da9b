import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { createLink } from './support/netns.js';
import { netbootCli } from './support/paths.js';
import { start } from './support/processes.js';
import { requireNetns, requirePrograms } from './support/programs.js';
import { CLIENT_KINDS, probe, replyDifferences, startIscDhcpd, type ProbeClient } from './support/isc-compare.js';

/*
 * Which options go in a reply, decided as ISC dhcpd decides: the same
 * DISCOVERs and REQUESTs from BIOS PXE, UEFI PXE, iPXE, HTTP Boot and plain
 * clients go to ISC dhcpd and to netboot dhcp, each on a link of its own with
 * the same addresses, and their OFFERs and ACKs are compared option by option.
 */

const CONF = `
authoritative;
default-lease-time 3600;
max-lease-time 7200;
option domain-name "lab.example";
option domain-name-servers 198.18.10.1;
option ntp-servers 198.18.10.1;
option broadcast-address 198.18.10.255;
option time-offset 3600;
option space PXE;
option PXE.mtftp-ip code 1 = ip-address;
option space pxelinux;
option pxelinux.magic code 208 = string;
option pxelinux.configfile code 209 = text;
option pxelinux.pathprefix code 210 = text;
option pxelinux.reboottime code 211 = unsigned integer 32;
option site-blob code 224 = string;
option arch code 93 = unsigned integer 16;
subnet 198.18.10.0 netmask 255.255.255.0 {
  range 198.18.10.100 198.18.10.150;
  option routers 198.18.10.1;
  next-server 198.18.10.1;
  class "pxe" {
    match if substring(option vendor-class-identifier, 0, 9) = "PXEClient";
    vendor-option-space PXE;
    option PXE.mtftp-ip 0.0.0.0;
    site-option-space "pxelinux";
    option pxelinux.magic f1:00:74:7e;
    option pxelinux.configfile "pxelinux.cfg/default";
    option pxelinux.reboottime 30;
    if exists dhcp-parameter-request-list {
      option dhcp-parameter-request-list = concat(option dhcp-parameter-request-list, d0, d1, d3);
    }
    if option arch = 00:07 { filename "bootx64.efi"; } else { filename "pxelinux.0"; }
  }
  if substring(option vendor-class-identifier, 0, 10) = "HTTPClient" {
    option vendor-class-identifier "HTTPClient";
    filename "http://198.18.10.1/boot/bootx64.efi";
    option site-blob ${Array.from({ length: 300 }, (_, k) => (k % 256).toString(16).padStart(2, '0')).join(':')};
    option dhcp-parameter-request-list 1, 3, 6, 224, 60, 67;
  }
  if exists user-class and option user-class = "iPXE" {
    filename "http://198.18.10.1/boot.ipxe";
  }
  host n1 { hardware ethernet 02:00:00:10:00:01; fixed-address 198.18.10.21; option host-name "n1"; option root-path "/srv/nfs/n1"; }
}
`;

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'dhcp-isc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('netboot sends the options ISC dhcpd sends, for each kind of client', async (t) => {
  const progs = requirePrograms(t, { dhcpd: 'isc-dhcp-server' });
  if (!progs || !requireNetns(t)) return;
  const dir = tempDir(t);
  const conf = join(dir, 'dhcpd.conf');
  writeFileSync(conf, CONF);
  const iscLink = createLink(t, { subnet: 10, label: 'dio' });
  const nbLink = createLink(t, { subnet: 10, label: 'dno' });
  const clients: ProbeClient[] = [];
  [...CLIENT_KINDS, 'minimal' as const, 'nolist' as const].forEach((kind, k) => {
    clients.push({ mac: '02:00:00:10:00:01', kind });
    clients.push({ mac: `02:00:00:10:01:0${k}`, kind });
  });
  const isc = await startIscDhcpd(t, progs.dhcpd, iscLink.server, iscLink.serverIf, conf, dir, dir);
  const fromIsc = await probe(iscLink.client, iscLink.serverAddr, iscLink.clientAddr, clients);
  await isc.stop();
  const nb = start(t, process.execPath, [netbootCli, 'dhcp', '--config', conf, '--interface', nbLink.serverIf, '--leases', join(dir, 'nb.leases')], { ns: nbLink.server });
  await nb.waitFor(/netboot dhcp: serving on/);
  const asked = clients.map((c, k) => ({ ...c, request: fromIsc[k].offer?.yiaddr }));
  const fromNb = await probe(nbLink.client, nbLink.serverAddr, nbLink.clientAddr, asked);
  await nb.stop();
  clients.forEach((c, k) => {
    const who = `${c.kind} ${c.mac}`;
    t.ok(fromIsc[k].ack, `${who}: ISC acked`);
    const diffs = [...replyDifferences(`${who} OFFER`, fromIsc[k].offer, fromNb[k].offer), ...replyDifferences(`${who} ACK`, fromIsc[k].ack, fromNb[k].ack)];
    t.same(diffs, [], `${who}: netboot's OFFER and ACK match ISC's`);
  });
});
