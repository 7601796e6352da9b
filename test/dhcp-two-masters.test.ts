import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import pg from 'pg';
import { createNetns } from './support/netns.js';
import { netbootCli, repoRoot } from './support/paths.js';
import { run, start, type Running } from './support/processes.js';
import { requireNetns, requirePrograms } from './support/programs.js';
import { startTestPostgres, type TestPostgres } from './support/postgres.js';

/*
 * Two masters on one network sharing one PostgreSQL (`netboot dhcp
 * --lease-store URL` and `netboot serve` with `lease-store` in its config file): each in a
 * namespace of its own, plugged into one test bridge (198.18.40.0/24) with
 * two client namespaces that act as relays (the relay client below, or
 * perfdhcp), so a test chooses which master a request reaches. The cluster
 * is the test's own (initdb in a temp folder, a unix socket the namespaces
 * reach through the file system).
 */

const NET = '198.18.40';
const FIXED_MAC = '02:00:00:00:40:99';
const CONF = `
authoritative;
default-lease-time 3600;
max-lease-time 7200;
subnet ${NET}.0 netmask 255.255.255.0 {
  range ${NET}.10 ${NET}.250;
  option routers ${NET}.1;
}
host fixed1 { hardware ethernet ${FIXED_MAC}; fixed-address ${NET}.5; }
`;
const relayClient = join(repoRoot, 'test/support/relay-client.mjs');

interface Net {
  masters: { ns: string; dev: string; addr: string }[];
  clients: { ns: string; addr: string }[];
}

/** A bridge in a switch namespace, two masters (.1, .2) and two relay clients (.3, .4) plugged into it. */
function bridge(t: Test): Net {
  const sw = createNetns(t, 'tmw');
  const ip = (...a: string[]) => execFileSync('ip', a, { stdio: ['ignore', 'ignore', 'pipe'] });
  ip('-n', sw, 'link', 'add', 'br0', 'type', 'bridge');
  ip('-n', sw, 'link', 'set', 'br0', 'up');
  const plug = (label: string, addr: string) => {
    const ns = createNetns(t, label);
    const tag = randomBytes(3).toString('hex');
    const dev = `h${tag}`;
    const port = `p${tag}`;
    ip('link', 'add', dev, 'netns', ns, 'type', 'veth', 'peer', 'name', port, 'netns', sw);
    ip('-n', sw, 'link', 'set', port, 'master', 'br0');
    ip('-n', sw, 'link', 'set', port, 'up');
    ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', dev);
    ip('-n', ns, 'link', 'set', dev, 'up');
    return { ns, dev, addr };
  };
  return {
    masters: [plug('tma', `${NET}.1`), plug('tmb', `${NET}.2`)],
    clients: [plug('tmc', `${NET}.3`), plug('tmd', `${NET}.4`)],
  };
}

interface Setup {
  net: Net;
  url: string;
  db: pg.Client;
  conf: string;
  startMaster(i: number): Promise<Running>;
  rows(): Promise<{ ip: string; mac: string; state: string }[]>;
}

let dbs = 0;
async function setup(t: Test, server: TestPostgres, admin: pg.Client): Promise<Setup> {
  const net = bridge(t);
  const name = `masters${++dbs}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const url = server.url.replace('/postgres?', `/${name}?`);
  const db = new pg.Client({ connectionString: url });
  db.on('error', () => {}); // cut when the test stops PostgreSQL
  await db.connect();
  t.teardown(() => db.end());
  const dir = mkdtempSync(join(tmpdir(), 'two-masters-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const conf = join(dir, 'dhcpd.conf');
  writeFileSync(conf, CONF);
  return {
    net,
    url,
    db,
    conf,
    async startMaster(i) {
      const m = net.masters[i];
      // Master A is `netboot dhcp` with the flag, master B `netboot serve` with the key in its --config file.
      let args = [netbootCli, 'dhcp', '--config', conf, '--interface', m.dev, '--lease-store', url];
      if (i === 1) {
        const settings = join(dir, 'netboot-b.conf');
        writeFileSync(settings, `dhcp-conf ${conf}\ninterface ${m.dev}\nlease-store "${url}"\n`);
        args = [netbootCli, 'serve', '--config', settings];
      }
      const p = start(t, process.execPath, args, { ns: m.ns });
      await p.waitFor(/netboot dhcp: serving on/, 20_000);
      return p;
    },
    async rows() {
      // Live rows only: offers and leases that have not ended.
      const r = await db.query(`SELECT host(ip) AS ip, mac, state FROM netboot_lease4 WHERE state = 'active' AND (end_ms IS NULL OR end_ms > $1)`, [Date.now()]);
      return r.rows;
    },
  };
}

type Op = { op: 'dora'; mac: string } | { op: 'renew'; mac: string; ip: string };
interface OpResult {
  mac: string;
  op: string;
  type: string;
  ip: string | null;
}

/** Runs the relay client from client namespace `c` against master `m`. */
async function relay(s: Setup, c: number, m: number, ops: Op[]): Promise<OpResult[]> {
  const r = await run(process.execPath, [relayClient, s.net.masters[m].addr, s.net.clients[c].addr, JSON.stringify(ops)], {
    ns: s.net.clients[c].ns,
    cwd: repoRoot,
    timeoutMs: 30_000 + ops.length * 4000,
  });
  if (r.code !== 0) throw new Error(`relay client failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim()) as OpResult[];
}

/** Every "DHCPACK on IP to MAC" a master logged. */
function acks(out: string): [string, string][] {
  return [...out.matchAll(/DHCPACK on (\S+) to (\S+) via/g)].map((m) => [m[1], m[2]]);
}

/** Addresses ACKed to more than one MAC, over all the logs given. */
function doubles(...outs: string[]): string[] {
  const macs = new Map<string, Set<string>>();
  for (const out of outs) for (const [ip, mac] of acks(out)) (macs.get(ip) ?? macs.set(ip, new Set()).get(ip)!).add(mac);
  return [...macs].filter(([, m]) => m.size > 1).map(([ip, m]) => `${ip}: ${[...m].join(', ')}`);
}

/** ACKed (ip, mac) pairs with no live row for that MAC on that address. */
async function missingRows(s: Setup, pairs: [string, string][]): Promise<string[]> {
  const rows = new Map((await s.rows()).map((r) => [r.ip, r.mac]));
  return [...new Set(pairs.map(([ip, mac]) => `${ip} ${mac}`))].filter((k) => {
    const [ip, mac] = k.split(' ');
    return rows.get(ip) !== mac;
  });
}

function perfdhcp(t: Test, s: Setup, prog: string, c: number, m: number, args: string[]): Running {
  // The same client population (base MAC, -R 180) from both client namespaces: the same machines reach both masters.
  return start(t, prog, ['-4', '-b', 'mac=02:00:00:40:00:00', '-R', '180', ...args, s.net.masters[m].addr], { ns: s.net.clients[c].ns });
}

t.test('two netboot dhcp masters on one PostgreSQL', async (t) => {
  if (!requireNetns(t)) return;
  const server = await startTestPostgres(t, 5442);
  if (!server) return;
  const admin = new pg.Client({ connectionString: server.url });
  admin.on('error', () => {});
  await admin.connect();
  t.teardown(() => admin.end());

  t.test('both answer; a client keeps its address whichever answers; fixed hosts on both', async (t) => {
    const s = await setup(t, server, admin);
    const [a, b] = [await s.startMaster(0), await s.startMaster(1)];
    const first = await relay(s, 0, 0, [
      { op: 'dora', mac: '02:00:00:00:40:01' },
      { op: 'dora', mac: FIXED_MAC },
    ]);
    const second = await relay(s, 1, 1, [
      { op: 'dora', mac: '02:00:00:00:40:01' },
      { op: 'dora', mac: '02:00:00:00:40:02' },
      { op: 'dora', mac: FIXED_MAC },
    ]);
    const third = await relay(s, 0, 0, [
      { op: 'dora', mac: '02:00:00:00:40:02' },
      { op: 'renew', mac: '02:00:00:00:40:01', ip: first[0].ip! },
    ]);
    t.equal(first[0].type, 'ack', 'master A answers');
    t.equal(second[1].type, 'ack', 'master B answers');
    t.equal(second[0].ip, first[0].ip, `a client bound by A gets the same address from B (${first[0].ip})`);
    t.equal(third[0].ip, second[1].ip, `a client bound by B gets the same address from A (${second[1].ip})`);
    t.same([third[1].type, third[1].ip], ['ack', first[0].ip], 'A renews what it gave, after B re-bound it');
    t.same([first[1].ip, second[2].ip], [`${NET}.5`, `${NET}.5`], 'the fixed host gets its address from both');
    t.not(first[0].ip, second[1].ip, 'two clients, two addresses');
    t.match(a.output(), `DHCPACK on ${first[0].ip} to 02:00:00:00:40:01`);
    t.match(b.output(), `DHCPACK on ${first[0].ip} to 02:00:00:00:40:01`);
    t.same(await missingRows(s, [...acks(a.output()), ...acks(b.output())]), [], 'every ACK of both is a row');
  });

  t.test('perfdhcp against both at once: no address ACKed to two MACs; kill -9 of one: the other renews its clients; restart of both loses nothing', async (t) => {
    const progs = requirePrograms(t, { perfdhcp: 'kea-admin' });
    if (!progs) return;
    const s = await setup(t, server, admin);
    const a = await s.startMaster(0);
    const b = await s.startMaster(1);
    const loadA = perfdhcp(t, s, progs.perfdhcp, 0, 0, ['-r', '150', '-p', '6']);
    const loadB = perfdhcp(t, s, progs.perfdhcp, 1, 1, ['-r', '150', '-p', '6']);
    await a.waitForOutput((out) => acks(out).length >= 150, '150 DHCPACK lines');
    await a.kill(); // kill -9 of master A in the middle of the run
    await Promise.all([loadA.exited, loadB.exited]);
    const ackedByA = acks(a.output());
    t.ok(ackedByA.length > 0, `A ACKed ${ackedByA.length} before kill -9`);
    t.ok(acks(b.output()).length > 0, `B ACKed ${acks(b.output()).length}`);
    t.same(doubles(a.output(), b.output()), [], 'zero addresses ACKed to two MACs, over both logs');
    const rows = await s.rows();
    const byMac = new Map<string, string[]>();
    for (const r of rows) (byMac.get(r.mac) ?? byMac.set(r.mac, []).get(r.mac)!).push(r.ip);
    t.same([...byMac].filter(([, ips]) => ips.length > 1), [], 'and in the table no MAC holds two addresses');
    t.same(await missingRows(s, ackedByA), [], `every one of the ${new Set(ackedByA.map((p) => p[0])).size} addresses A logged as ACKed is in the table for that MAC`);
    // The other master renews A's clients (REBINDING: ciaddr, no server identifier).
    const lastOfA = new Map(ackedByA.map(([ip, mac]) => [mac, ip]));
    const sample = [...lastOfA].slice(0, 40);
    const renewed = await relay(s, 1, 1, sample.map(([mac, ip]) => ({ op: 'renew', mac, ip })));
    t.same(
      renewed.filter((r, i) => r.type !== 'ack' || r.ip !== sample[i][1]),
      [],
      `B renewed all ${sample.length} of A's clients tried, at their addresses`,
    );
    // Restart both: nothing lost, each returning client gets its address again.
    await b.stop();
    const before = await s.rows();
    const a2 = await s.startMaster(0);
    const b2 = await s.startMaster(1);
    t.match(a2.output(), /read \d+ leases from postgres:/);
    const back = [...byMac].slice(0, 30).map(([mac, ips]) => ({ mac, ip: ips[0] }));
    const viaA = await relay(s, 0, 0, back.slice(0, 15).map(({ mac }) => ({ op: 'dora', mac })));
    const viaB = await relay(s, 1, 1, back.slice(15).map(({ mac }) => ({ op: 'dora', mac })));
    t.same(
      [...viaA, ...viaB].filter((r, i) => r.type !== 'ack' || r.ip !== back[i].ip),
      [],
      `after restarting both, ${back.length} returning clients got their addresses back`,
    );
    t.ok((await s.rows()).length >= before.length, 'no row lost over the restart');
    t.same(doubles(a.output(), b.output(), a2.output(), b2.output()), [], 'still no address ACKed to two MACs');
  });

  t.test('PostgreSQL stopped under load: no ACK without a row, logged once, service resumes', async (t) => {
    const progs = requirePrograms(t, { perfdhcp: 'kea-admin' });
    if (!progs) return;
    const s = await setup(t, server, admin);
    const a = await s.startMaster(0);
    const b = await s.startMaster(1);
    const loadA = perfdhcp(t, s, progs.perfdhcp, 0, 0, ['-r', '60', '-p', '16']);
    const loadB = perfdhcp(t, s, progs.perfdhcp, 1, 1, ['-r', '60', '-p', '16']);
    for (const m of [a, b]) await m.waitForOutput((out) => acks(out).length >= 20, '20 DHCPACK lines');
    await server.stop();
    const stoppedAt = Date.now();
    // Down until both masters have met the outage; requests go on arriving until the restart below.
    for (const m of [a, b]) await m.waitFor(/answering nothing that cannot be recorded/);
    await server.start();
    t.comment(`PostgreSQL was down ${((Date.now() - stoppedAt) / 1000).toFixed(1)} s`);
    await Promise.all([loadA.exited, loadB.exited]);
    for (const [name, m] of [['A', a], ['B', b]] as const) {
      const out = m.output();
      const unanswered = Number(/(\d+) requests were left unanswered/.exec(out)?.[1]);
      t.ok(unanswered > 1, `${name} left ${unanswered} requests unanswered during the outage`);
      t.equal(out.split('answering nothing that cannot be recorded').length - 1, 1, `${name} logged the outage once`);
      const backAt = out.indexOf(' is back after ');
      t.ok(backAt > 0, `${name} logged that the store is back`);
      t.ok(acks(out.slice(backAt)).length > 0, `${name} ACKed again after it came back (${acks(out.slice(backAt)).length})`);
    }
    // The admin connection was cut by the shutdown: a new one.
    const db = new pg.Client({ connectionString: s.url });
    await db.connect();
    t.teardown(() => db.end());
    const rows = new Map((await db.query(`SELECT host(ip) AS ip, mac FROM netboot_lease4 WHERE state = 'active'`)).rows.map((r) => [r.ip, r.mac]));
    const all = [...acks(a.output()), ...acks(b.output())];
    t.same(all.filter(([ip, mac]) => rows.get(ip) !== mac), [], `no ACK without a row (${all.length} ACKs)`);
    t.same(doubles(a.output(), b.output()), [], 'zero addresses ACKed to two MACs');
  });
});
