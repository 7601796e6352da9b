import t from 'tap';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { createNetns } from './support/netns.js';
import { netbootCli } from './support/paths.js';
import { start, run } from './support/processes.js';
import { requireNetns, requirePrograms } from './support/programs.js';
import { NODE_MAC, STATUS_PORT, nodeDhcp, nodeNfsRead, nodeTftp, startBootLab, statusJson } from './support/boot-lab.js';

/*
 * The dashboard in a real headless Chromium (Debian's chromium, driven by
 * playwright-core): a node booted by real clients goes through every stage
 * in its row live, over server-sent events, without a reload; its
 * waterfall shows each step; and the page stays usable with 1,000 nodes.
 * Screenshots are kept as artifacts (their paths are printed).
 */

const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** A fresh headless Chromium inside network namespace `ns` (where the status port is), closed by the test. */
async function browserIn(t: Parameters<typeof startBootLab>[0], ns: string, dir: string): Promise<BrowserContext> {
  const wrapper = join(dir, 'chromium-in-netns');
  // ip netns exec execs chromium in place: the same process, its DevTools pipe kept.
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns} /usr/bin/chromium "$@"\n`);
  chmodSync(wrapper, 0o755);
  const profile = mkdtempSync(join(dir, 'profile-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: wrapper, headless: true, args: FLAGS, viewport: { width: 1400, height: 800 } });
  t.teardown(() => context.close());
  return context;
}

function artifactDir(): string {
  const dir = join(tmpdir(), 'netboot-dashboard-artifacts');
  mkdirSync(dir, { recursive: true });
  return dir;
}

const row = (page: Page, stage: string) => page.waitForSelector(`.row[data-key="${NODE_MAC}"][data-stage="${stage}"]`, { timeout: 30_000 });

t.test('a node goes through every stage live in the dashboard', async (t) => {
  if (!requirePrograms(t, { chromium: 'chromium', 'nfs-ls': 'libnfs-utils' })) return;
  const lab = await startBootLab(t, { label: 'bdc' });
  if (!lab) return;
  const context = await browserIn(t, lab.link.server, lab.dir);
  const page = await context.newPage();
  await page.goto(`${lab.statusUrl}/`);
  await page.waitForSelector('#conn:text("live")');
  const seen: string[] = [];
  await page.exposeFunction('stageSeen', (s: string) => seen.push(s));
  // Every stage the row shows, as the page renders it (the page is never reloaded).
  await page.evaluate(`(() => {
    let last = '';
    new MutationObserver(() => {
      const s = document.querySelector('.row[data-key="${NODE_MAC}"]')?.dataset.stage;
      if (s && s !== last) {
        last = s;
        window.stageSeen(s);
      }
    }).observe(document.getElementById('spacer'), { childList: true, subtree: true });
  })()`);

  await nodeDhcp(lab);
  await row(page, 'dhcp');
  await nodeTftp(lab, 'pxelinux.0');
  await row(page, 'loader');
  await nodeTftp(lab, 'pxelinux.cfg/default');
  await nodeTftp(lab, 'vmlinuz');
  await row(page, 'kernel');
  await nodeTftp(lab, 'initrd.img');
  const ls = await run('nfs-ls', [`nfs://${lab.link.serverAddr}${lab.exportRoot}?version=3&nfsport=12049&mountport=12048`], { ns: lab.link.client, timeoutMs: 20_000 });
  t.match(ls.stdout, /init/, 'nfs-ls mounts the root and lists it');
  await row(page, 'mounted');
  await nodeNfsRead(lab, '/init');
  await row(page, 'init');
  // `up` is NFS activity going on 2 s after init was read: keep reading until the row shows it. On a quiet
  // machine one nfs-cat takes about 15 ms, so the bound is on time first and on count only as a backstop.
  const deadline = Date.now() + 60_000;
  for (let i = 0; i < 4000 && Date.now() < deadline && !(await page.$(`.row[data-key="${NODE_MAC}"][data-stage="up"]`)); i++) await nodeNfsRead(lab, '/init');
  await row(page, 'up');
  t.same(seen, ['dhcp', 'loader', 'kernel', 'mounted', 'init', 'up'], 'the row went through every stage, in order, live');
  t.equal(await page.textContent('[data-stage-count="up"] b'), '1');

  // The status, the dashboard and the metrics agree.
  const status = (await statusJson(lab)).nodes[0];
  t.equal(status.stage, 'up');

  await page.click(`.row[data-key="${NODE_MAC}"]`);
  await page.waitForSelector('.wf-row[data-what="init"]');
  const bars = await page.$$eval('.wf-row', (rows) => rows.map((r) => `${r.getAttribute('data-what')} ${r.querySelector('.wf-label')!.textContent}`));
  // nfs-ls mounted and listed the root, then nfs-cat mounted it again and read init.
  t.match(bars.slice(0, 10), [
    'dhcp DHCP DHCP (BIOS) 198.18.21.21',
    'tftp TFTP pxelinux.0',
    'tftp TFTP pxelinux.cfg/default',
    'tftp TFTP vmlinuz',
    'tftp TFTP initrd.img',
    /^mount MOUNT MNT \//,
    'nfs NFS first NFS call',
    /^mount MOUNT MNT \//,
    'nfs NFS first NFS call',
    'init INIT READ /init',
  ]);
  t.match(await page.textContent('#log'), /dhcp mac=00:40:63:c2:ca:c9 message=DISCOVER/);
  const shot = join(artifactDir(), 'dashboard-boot.png');
  await page.screenshot({ path: shot, fullPage: true });
  t.comment(`screenshot: ${shot}`);
});

/** A history of `n` nodes, each stopped at some stage of its boot, as the state directory keeps it. */
function syntheticHistory(n: number, now: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const mac = `52:54:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
    const ip = `198.18.${100 + (i >> 8)}.${(i & 0xff) + 1}`;
    const at = now - 20_000 + (i % 50);
    const steps = [
      { kind: 'dhcp', at, mac, message: 'DISCOVER', arch: 7, vendorClass: 'PXEClient:Arch:00007:UNDI:003016' },
      { kind: 'dhcp', at: at + 100, mac, message: 'ACK', ip, hostName: `node${i}` },
      { kind: 'file-request', at: at + 200, protocol: 'tftp', ip, file: 'syslinux.efi' },
      { kind: 'file-request', at: at + 300, protocol: 'tftp', ip, file: 'vmlinuz' },
      { kind: 'mount', at: at + 400, ip, op: 'MNT', path: `/diskless/${ip}`, version: 3, ok: true },
      { kind: 'nfs', at: at + 500, ip, what: 'init-read', path: '/sbin/init' },
    ];
    for (const s of steps.slice(0, 1 + (i % steps.length))) lines.push(JSON.stringify(s));
  }
  return `${lines.join('\n')}\n`;
}

t.test('the dashboard is usable with 1,000 nodes', async (t) => {
  if (!requireNetns(t)) return;
  if (!requirePrograms(t, { chromium: 'chromium' })) return;
  const dir = mkdtempSync(join(tmpdir(), 'dashboard-1000-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'state'));
  mkdirSync(join(dir, 'tftp'));
  writeFileSync(join(dir, 'state', 'boot-events.jsonl'), syntheticHistory(1000, Date.now()));
  const ns = createNetns(t, 'bd1k');
  const serve = start(t, process.execPath, [netbootCli, 'serve', '--listen', '127.0.0.1', '--tftp-root', join(dir, 'tftp'), '--tftp-port', '16969', '--state-dir', join(dir, 'state'), '--status-port', String(STATUS_PORT)], { ns });
  await serve.waitFor(/netboot serve: running/, 30_000);
  t.match(serve.output(), /1000 nodes/);

  const context = await browserIn(t, ns, dir);
  const page = await context.newPage();
  await page.goto(`http://127.0.0.1:${STATUS_PORT}/`);
  await page.waitForSelector('[data-stage-count="all"] b:text("1000")');
  const counts = await page.$$eval('[data-stage-count]', (chips) => Object.fromEntries(chips.map((c) => [c.getAttribute('data-stage-count'), Number(c.querySelector('b')!.textContent)])));
  t.same(counts, { all: 1000, off: 0, dhcp: 334, loader: 167, kernel: 167, mounted: 166, init: 166, up: 0, lost: 0 }, 'counts per stage');
  const rendered = await page.$$eval('#spacer .row', (rows) => rows.length);
  t.ok(rendered > 10 && rendered < 100, `only the rows in view are in the page (${rendered} of 1000)`);
  // The last node is reachable by scrolling, the filter finds one node among a thousand.
  await page.$eval('#viewport', (v) => (v.scrollTop = v.scrollHeight));
  await page.waitForSelector('.row[data-key="52:54:00:00:03:e7"]');
  await page.fill('#filter', 'node999');
  await page.waitForFunction(`document.querySelectorAll('#spacer .row').length === 1`);
  await page.fill('#filter', '');
  await page.$eval('#viewport', (v) => (v.scrollTop = 0));
  await page.click('.row[data-key="52:54:00:00:00:05"]');
  await page.waitForSelector('.wf-row[data-what="init"]');
  const shot = join(artifactDir(), 'dashboard-1000.png');
  await page.screenshot({ path: shot });
  t.comment(`screenshot: ${shot}`);
  // It stops in tens of ms here; one CI run saw it killed after 10 s, so a stop that needs the kill says what serve printed.
  const stopped = await serve.stop(10_000);
  t.equal(stopped, 0, stopped === 0 ? 'serve stopped on SIGTERM' : `serve was still running 10 s after SIGTERM; its output:\n${serve.output().slice(-4000)}`);
});
