// DORA exchanges per second that a DHCP server sustains with under 1% drops,
// for netboot dhcp, Kea (kea-dhcp4, memfile leases) and ISC dhcpd, measured in
// the same run. perfdhcp (Debian kea-admin) is the client: pointed at the
// server's address it acts as a relay (giaddr), so every server sees the same
// relayed traffic. Each server runs alone in a network namespace of its own,
// joined to a client namespace by a veth pair (198.19.0.0/16), and is started
// and stopped by PID (its process group) by this script.
//
//   node bench/dhcp-dora.js [--json] [--seconds N] [--servers netboot,kea,dhcpd]
//   node bench/dhcp-dora.js --store postgres     (= --servers netboot,netboot-pg,kea-pg)
//
// netboot-pg is netboot dhcp with --lease-store on PostgreSQL, kea-pg is Kea
// with its PostgreSQL lease backend (schema by kea-admin db-init), both on a
// cluster this script makes (initdb, unix socket, durable commits as shipped)
// and stops by PID.
//
// Needs root (namespaces), perfdhcp, kea-dhcp4 and dhcpd (and PostgreSQL for -pg).
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { load } from './lib/processes.js';
import { startBenchPostgres } from './lib/postgres.js';
import { cell as jsonCell, report } from './lib/report.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const flag = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const seconds = Number(flag('--seconds', '4'));
const store = flag('--store', 'file');
if (store !== 'file' && store !== 'postgres') {
  console.error('dhcp-dora: --store is file or postgres');
  process.exit(2);
}
const servers = flag('--servers', store === 'postgres' ? 'netboot,netboot-pg,kea-pg' : 'netboot,kea,dhcpd').split(',');
/** The PostgreSQL cluster of this run, when a -pg server is measured. */
let postgres;
const RATES = [25, 50, 100, 150, 200, 250, 500, 1000, 1500, 2000, 2500, 3000, 4000, 6000, 8000];
const cli = fileURLToPath(new URL('../packages/netboot/dist/cli.js', import.meta.url));
const say = (s) => {
  if (!json) console.log(s);
};

function sbin(name) {
  for (const d of ['/usr/sbin', '/usr/bin', '/sbin', '/bin']) if (existsSync(join(d, name))) return join(d, name);
  return undefined;
}

const ip = (...a) => execFileSync('ip', a, { stdio: ['ignore', 'ignore', 'pipe'] });

function makeLink() {
  const tag = randomBytes(3).toString('hex');
  const link = { server: `dorS${tag}`, client: `dorC${tag}`, serverIf: `ds${tag}`, clientIf: `dc${tag}` };
  ip('netns', 'add', link.server);
  ip('netns', 'add', link.client);
  ip('link', 'add', link.serverIf, 'netns', link.server, 'type', 'veth', 'peer', 'name', link.clientIf, 'netns', link.client);
  ip('-n', link.server, 'addr', 'add', '198.19.0.1/16', 'dev', link.serverIf);
  ip('-n', link.client, 'addr', 'add', '198.19.0.2/16', 'dev', link.clientIf);
  for (const [ns, dev] of [[link.server, link.serverIf], [link.client, link.clientIf]]) {
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'link', 'set', dev, 'up');
  }
  return link;
}

function dropLink(link) {
  for (const ns of [link.server, link.client]) {
    try {
      ip('netns', 'del', ns);
    } catch {
      // already gone
    }
  }
}

const DHCPD_CONF = `
ddns-update-style none;
authoritative;
default-lease-time 3600;
max-lease-time 7200;
subnet 198.19.0.0 netmask 255.255.0.0 {
  range 198.19.1.0 198.19.255.254;
  option routers 198.19.0.1;
  option domain-name-servers 198.19.0.1;
}
`;

function keaConf(dir, ifname, leaseDatabase) {
  return JSON.stringify({
    Dhcp4: {
      'interfaces-config': { interfaces: [ifname], 'dhcp-socket-type': 'udp' },
      'lease-database': leaseDatabase ?? { type: 'memfile', persist: true, name: join(dir, 'kea-leases4.csv'), 'lfc-interval': 0 },
      'valid-lifetime': 3600,
      'renew-timer': 1800,
      'rebind-timer': 3150,
      authoritative: true,
      'subnet4': [
        {
          id: 1,
          subnet: '198.19.0.0/16',
          pools: [{ pool: '198.19.1.0 - 198.19.255.254' }],
          'option-data': [
            { name: 'routers', data: '198.19.0.1' },
            { name: 'domain-name-servers', data: '198.19.0.1' },
          ],
        },
      ],
      loggers: [{ name: 'kea-dhcp4', output_options: [{ output: 'stdout' }], severity: 'WARN' }],
    },
  });
}

/** The command line that runs `name` in the server namespace. */
function serverCommand(name, dir, link) {
  if (name === 'netboot') {
    writeFileSync(join(dir, 'dhcpd.conf'), DHCPD_CONF);
    return { cmd: process.execPath, args: [cli, 'dhcp', '--config', join(dir, 'dhcpd.conf'), '--interface', link.serverIf, '--leases', join(dir, 'netboot.leases')], ready: /serving on/ };
  }
  if (name === 'netboot-pg') {
    writeFileSync(join(dir, 'dhcpd.conf'), DHCPD_CONF);
    const db = `netboot_${randomBytes(3).toString('hex')}`;
    postgres.createDb(db);
    return { cmd: process.execPath, args: [cli, 'dhcp', '--config', join(dir, 'dhcpd.conf'), '--interface', link.serverIf, '--lease-store', postgres.url(db)], ready: /serving on/ };
  }
  if (name === 'kea-pg') {
    const db = `kea_${randomBytes(3).toString('hex')}`;
    postgres.createDb(db);
    execFileSync(sbin('kea-admin'), ['db-init', 'pgsql', '-u', 'netboot', '-n', db, '-h', postgres.socketDir, '-P', String(postgres.port)], { stdio: 'pipe' });
    const leaseDatabase = { type: 'postgresql', name: db, user: 'netboot', host: postgres.socketDir, port: postgres.port };
    writeFileSync(join(dir, 'kea.json'), keaConf(dir, link.serverIf, leaseDatabase));
    return { cmd: sbin('kea-dhcp4'), args: ['-c', join(dir, 'kea.json')], ready: null, env: { KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir } };
  }
  if (name === 'kea') {
    writeFileSync(join(dir, 'kea.json'), keaConf(dir, link.serverIf));
    return { cmd: sbin('kea-dhcp4'), args: ['-c', join(dir, 'kea.json')], ready: null, env: { KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir } };
  }
  // dhcpd pings every address before offering it (a 1 s wait per new lease); the others do not.
  writeFileSync(join(dir, 'isc-dhcpd.conf'), `ping-check false;\n${DHCPD_CONF}`);
  writeFileSync(join(dir, 'isc-dhcpd.leases'), '');
  return {
    cmd: sbin('dhcpd'),
    args: ['-4', '-f', '-cf', join(dir, 'isc-dhcpd.conf'), '-lf', join(dir, 'isc-dhcpd.leases'), '-pf', join(dir, 'isc-dhcpd.pid'), link.serverIf],
    ready: /Sending on\s+Socket\/fallback|Server starting service/,
  };
}

function startServer(name, dir, link) {
  const { cmd, args, ready, env } = serverCommand(name, dir, link);
  if (!cmd) throw new Error(`${name}: program not found`);
  // Output goes to a file, not a pipe: reading a pipe here would take CPU from the server being measured.
  const logPath = join(dir, `${name}.log`);
  const logFd = openSync(logPath, 'w');
  const child = spawn('ip', ['netns', 'exec', link.server, cmd, ...args], { detached: true, stdio: ['ignore', logFd, logFd], env: { ...process.env, ...env } });
  closeSync(logFd);
  const output = () => readFileSync(logPath, 'utf8');
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        return resolve();
      }
      setTimeout(() => {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }, 3000).unref();
    });
  const started = new Promise((resolve, reject) => {
    let waited = 0;
    const poll = setInterval(() => {
      waited += 100;
      if (child.exitCode !== null || child.signalCode !== null) {
        clearInterval(poll);
        reject(new Error(`${name} exited:\n${output()}`));
      } else if (ready ? ready.test(output()) : waited >= 1500) {
        clearInterval(poll);
        resolve();
      } else if (waited >= 15_000) {
        clearInterval(poll);
        reject(new Error(`${name} did not start:\n${output()}`));
      }
    }, 100);
  });
  return { started, stop, output };
}

function perfdhcp(link, rate) {
  // -R: a client population far larger than rate × seconds, so every exchange is a fresh lease.
  try {
    return execFileSync(
      'ip',
      ['netns', 'exec', link.client, sbin('perfdhcp'), '-4', '-r', String(rate), '-R', '50000', '-p', String(seconds), '-W', '1000000', '198.19.0.1'],
      { encoding: 'utf8', timeout: (seconds + 20) * 1000, stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } catch (e) {
    // perfdhcp exits 3 when some exchanges did not complete: its report is still on stdout.
    if (typeof e.stdout === 'string' && e.stdout.includes('sent packets')) return e.stdout;
    throw e;
  }
}

function parse(out) {
  const nums = (re) => [...out.matchAll(re)].map((m) => Number(m[1]));
  const sent = nums(/sent packets: (\d+)/g);
  const received = nums(/received packets: (\d+)/g);
  // Completed exchanges over the sending period (perfdhcp's own "Rate:" also divides by the -W wait).
  const rate = (received[1] ?? 0) / seconds;
  const drop = sent.length === 2 && sent[0] > 0 ? 1 - received[1] / sent[0] : 1;
  return { rate, sent: sent[0] ?? 0, acks: received[1] ?? 0, drop };
}

async function measure(name) {
  const link = makeLink();
  const dir = mkdtempSync(join(tmpdir(), `dora-${name}-`));
  const server = startServer(name, dir, link);
  try {
    await server.started;
    await new Promise((r) => setTimeout(r, 300));
    let best = { rate: 0, offered: 0, drop: 1 };
    const steps = [];
    for (const offered of RATES) {
      const r = parse(perfdhcp(link, offered));
      steps.push({ offered, achieved: Math.round(r.rate), dropPercent: +(r.drop * 100).toFixed(2) });
      say(`  ${name.padEnd(10)} offered ${String(offered).padStart(5)}/s: ${Math.round(r.rate)} DORA/s, ${(r.drop * 100).toFixed(2)}% without an ACK`);
      if (r.drop >= 0.01) break;
      best = { rate: Math.round(r.rate), offered, drop: r.drop };
    }
    return { server: name, doraPerSecond: best.rate, atOfferedRate: best.offered, steps };
  } finally {
    await server.stop();
    dropLink(link);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.getuid?.() !== 0) {
  console.error('dhcp-dora: needs root for network namespaces');
  process.exit(2);
}
const keaToo = servers.includes('kea') || servers.includes('kea-pg');
for (const p of ['perfdhcp', ...(keaToo ? ['kea-dhcp4'] : []), ...(servers.includes('kea-pg') ? ['kea-admin', 'psql'] : []), ...(servers.includes('dhcpd') ? ['dhcpd'] : [])]) {
  if (!sbin(p)) {
    console.error(`dhcp-dora: ${p} is missing (Debian packages kea-admin, kea-dhcp4-server, isc-dhcp-server, postgresql)`);
    process.exit(2);
  }
}
say(`DORA/s sustained with <1% drops, perfdhcp relayed traffic, ${seconds} s per step`);
const loadAtStart = load();
const results = [];
if (servers.some((n) => n.endsWith('-pg'))) postgres = await startBenchPostgres();
try {
  for (const name of servers) results.push(await measure(name));
} finally {
  await postgres?.stop();
}
// With --store postgres the figure of interest is netboot on PostgreSQL: beside its own file store and beside Kea on PostgreSQL.
const oursName = store === 'postgres' ? 'netboot-pg' : 'netboot';
const ours = results.find((r) => r.server === oursName);
const summary = {
  seconds,
  results,
  ratios: Object.fromEntries(results.filter((r) => r !== ours && ours).map((r) => [`${oursName}/${r.server}`, r.doraPerSecond ? +(ours.doraPerSecond / r.doraPerSecond).toFixed(2) : null])),
};
if (json) {
  // The cells' "netboot" is the netboot measured (on PostgreSQL with --store postgres; its file store is then "netboot-file").
  const column = (name) => (name === oursName ? 'netboot' : name === 'netboot' ? 'netboot-file' : name);
  const values = Object.fromEntries(results.map((r) => [column(r.server), r.doraPerSecond ?? null]));
  const cells = results
    .filter((r) => r.server !== oursName)
    .map((r) =>
      jsonCell({ key: `dora-vs-${column(r.server)}`, label: `DORA/s with <1% unanswered, ${oursName} beside ${r.server}`, unit: 'DORA/s', values, reference: column(r.server) }),
    );
  console.log(JSON.stringify(report({ benchmark: 'dhcp-dora', params: { seconds, servers, store }, loadAtStart, cells, detail: { results } })));
}
else {
  for (const r of results) console.log(`${r.server.padEnd(10)} ${String(r.doraPerSecond).padStart(6)} DORA/s (offered ${r.atOfferedRate}/s)`);
  for (const [k, v] of Object.entries(summary.ratios)) console.log(`${k}: ${v}`);
}
