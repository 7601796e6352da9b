import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseConfig } from '@netboot/dhcp-wire';
import { createLink } from './support/netns.js';
import { netbootCli, repoRoot } from './support/paths.js';
import { run, start, type Running } from './support/processes.js';
import { requireNetns, requirePrograms } from './support/programs.js';
import { CLIENT_KINDS, probe, replyDifferences, startIscDhcpd, type ProbeClient, type ProbeReply, type ProbeResult } from './support/isc-compare.js';

/*
 * dhcpd.conf files written in the styles real clusters, labs and installers
 * use (test/dhcpd-corpus, one style each, named in its first line). Each one
 * ISC dhcpd accepts (dhcpd -t) netboot must read, and for a host of the file
 * and an unknown client, as BIOS PXE, UEFI PXE, iPXE, UEFI HTTP Boot and
 * plain DHCP clients, netboot's OFFER and ACK must match ISC dhcpd's option by
 * option. One link per server: ISC dhcpd is started per file; netboot runs
 * once and is reloaded (SIGHUP) with each file in turn, included from its own
 * dhcpd.conf so that relative includes resolve from the corpus directory, as
 * they do for dhcpd run from there.
 */

const corpus = join(repoRoot, 'test/dhcpd-corpus');
const files = readdirSync(corpus).filter((f) => f.endsWith('.conf')).sort();

t.test('the corpus has at least 40 files, each saying which style it imitates', async (t) => {
  t.ok(files.length >= 40, `${files.length} files`);
  for (const f of files) t.match(readFileSync(join(corpus, f), 'utf8'), /^# Style: \S/, `${f} names its style`);
});

/** Waits until `re` (global) has matched `n` times in the process's output, and returns the n-th match. */
function nthLine(p: Running, re: RegExp, n: number, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const all = p.output().match(re) ?? [];
      if (all.length < n) return false;
      done();
      resolve(all[n - 1]);
      return true;
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no ${n}th ${re} within ${timeoutMs} ms; output:\n${p.output()}`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      p.child.stdout?.off('data', onData);
      p.child.stderr?.off('data', onData);
    };
    // After the process's own listeners: output() already holds the chunk.
    const onData = () => setImmediate(check);
    p.child.stdout?.on('data', onData);
    p.child.stderr?.on('data', onData);
    check();
  });
}

/**
 * dhcpd's OFFER, with each option its own ACK then sent differently taken from
 * that ACK: dhcpd evaluates `hardware` in an OFFER against the lease's old
 * record (another client's MAC, or stale bytes), so where its OFFER and ACK
 * disagree, its ACK's options (in its order) are what it means and what
 * netboot's OFFER is held to.
 */
function offerAsAcked(r: ProbeResult): ProbeReply | null {
  if (!r.offer || !r.ack) return r.offer;
  const rest = (x: ProbeReply) => JSON.stringify(x.options.filter(([c]) => c !== 53));
  if (rest(r.offer) === rest(r.ack) && r.offer.file === r.ack.file) return r.offer;
  const options = r.ack.options.map(([code, data]): [number, string] => (code === 53 ? [code, r.offer!.options.find(([c]) => c === 53)?.[1] ?? data] : [code, data]));
  return { ...r.offer, file: r.ack.file, sname: r.ack.sname, options };
}

/** A host of the file with a hardware address (one with a fixed address on the test link first). */
function hostMac(file: string): string | undefined {
  const c = parseConfig(readFileSync(join(corpus, file), 'utf8'), join(corpus, file));
  const withMac = c.hosts.filter((h) => h.mac);
  return (withMac.find((h) => h.fixedAddresses.length > 0) ?? withMac[0])?.mac;
}

t.test('every corpus file ISC dhcpd accepts, netboot reads, and both answer alike', async (t) => {
  // About 2-3 s a file (probe processes, a dhcpd start, unanswered clients waiting out 2 s).
  t.setTimeout(files.length * 6_000);
  const progs = requirePrograms(t, { dhcpd: 'isc-dhcp-server' });
  if (!progs || !requireNetns(t)) return;
  const dir = mkdtempSync(join(tmpdir(), 'dhcpd-corpus-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const iscLink = createLink(t, { subnet: 10, label: 'dci' });
  const nbLink = createLink(t, { subnet: 10, label: 'dcn' });
  const nbConf = join(dir, 'netboot-dhcpd.conf');
  const includeOf = (f: string) => writeFileSync(nbConf, `include "${join(corpus, f)}";\n`);
  includeOf(files[0]);
  const nb = start(t, process.execPath, [netbootCli, 'dhcp', '--config', nbConf, '--interface', nbLink.serverIf, '--leases', join(dir, 'netboot.leases')], { ns: nbLink.server });
  await nb.waitFor(/netboot dhcp: serving on/);
  t.match(nb.output(), /dhcp: \S*01-warewulf3-static\.conf:2: ddns-update-style: read, has no effect here, because netboot makes no dynamic DNS updates/, 'at start-up netboot lists what it read that has no effect, with file:line');
  let reloads = 0;

  /** The clients asked about a file: a host of it (when it has one) and an unknown MAC, as each kind of client. */
  const clientsOf = (i: number, host: string | undefined): ProbeClient[] => {
    const out: ProbeClient[] = [];
    CLIENT_KINDS.forEach((kind, k) => {
      if (host) out.push({ mac: host, kind });
      out.push({ mac: `02:99:${(i + 1).toString(16).padStart(2, '0')}:00:00:${k.toString(16).padStart(2, '0')}`, kind });
    });
    return out;
  };
  // ISC dhcpd's side of a file: dhcpd -t, then its answers. It runs one file ahead of netboot's side (the two
  // servers are on links of their own), which halves the test's time.
  const iscSide = async (i: number) => {
    const path = join(corpus, files[i]);
    const check = await run(progs.dhcpd, ['-t', '-cf', path], { cwd: corpus, timeoutMs: 20_000 });
    if (check.code !== 0) return { check, results: [] };
    const isc = await startIscDhcpd(t, progs.dhcpd, iscLink.server, iscLink.serverIf, path, dir, corpus);
    try {
      return { check, results: await probe(iscLink.client, iscLink.serverAddr, iscLink.clientAddr, clientsOf(i, hostMac(files[i]))) };
    } finally {
      await isc.stop();
    }
  };
  const settle = <T>(p: Promise<T>) => p.then((value) => ({ value }), (error: unknown) => ({ error }));
  let ahead = settle(iscSide(0));

  for (const [i, f] of files.entries()) {
    const mine = await ahead;
    if (i + 1 < files.length) ahead = settle(iscSide(i + 1));
    await t.test(f, async (t) => {
      if ('error' in mine) throw mine.error;
      const { check, results: fromIsc } = mine.value;
      const path = join(corpus, f);
      if (!t.equal(check.code, 0, `ISC dhcpd accepts it${check.code === 0 ? '' : `:\n${check.stderr}`}`)) return;
      if (i > 0) {
        includeOf(f);
        reloads++;
        process.kill(nb.pid, 'SIGHUP');
        const last = await nthLine(nb, /dhcp: (?:reloaded|reload failed)[^\n]*/g, reloads);
        if (!t.match(last, /^dhcp: reloaded/, 'netboot reads it')) return;
      }
      const host = hostMac(f);
      const clients = clientsOf(i, host);
      const fromNb = await probe(
        nbLink.client,
        nbLink.serverAddr,
        nbLink.clientAddr,
        clients.map((c, k) => ({ ...c, request: fromIsc[k].offer?.yiaddr })),
      );
      // dhcpd with a failover peer it cannot reach (here: none) waits for it before handing out pool addresses;
      // netboot has no failover (masters share the PostgreSQL lease store), so only the hosts are compared there.
      const failover = /^\s*failover peer "[^"]+";/m.test(readFileSync(path, 'utf8'));
      const diffs: string[] = [];
      clients.forEach((c, k) => {
        if (failover && c.mac !== host) return;
        const who = `${c.kind} ${c.mac}`;
        diffs.push(...replyDifferences(`${who} OFFER`, offerAsAcked(fromIsc[k]), fromNb[k].offer), ...replyDifferences(`${who} ACK`, fromIsc[k].ack, fromNb[k].ack));
      });
      t.same(diffs, [], `netboot's OFFERs and ACKs match ISC dhcpd's for ${clients.length} clients (${fromIsc.filter((r) => r.ack).length} acked)`);
    });
  }
  await ahead;
  await nb.stop();
});
