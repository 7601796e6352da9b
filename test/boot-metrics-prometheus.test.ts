import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, start } from './support/processes.js';
import { requirePrograms } from './support/programs.js';
import { untilAsync } from './support/until.js';
import { STATUS_PORT, bootNode, startBootLab } from './support/boot-lab.js';

/*
 * A real Prometheus (Debian's prometheus) scrapes netboot serve's /metrics
 * on loopback while a node boots, and its query API returns the series:
 * the text format, names and labels are what Prometheus itself accepts.
 */

const PROM_PORT = 19090;

interface QueryResult {
  status: string;
  data: { result: { metric: Record<string, string>; value: [number, string] }[] };
}

t.test('Prometheus scrapes /metrics and answers queries over it', async (t) => {
  const progs = requirePrograms(t, { prometheus: 'prometheus', curl: 'curl' });
  if (!progs) return;
  const lab = await startBootLab(t, { label: 'bpm' });
  if (!lab) return;
  const config = join(lab.dir, 'prometheus.yml');
  writeFileSync(
    config,
    ['global:', '  scrape_interval: 1s', 'scrape_configs:', '  - job_name: netboot', '    static_configs:', `      - targets: ['127.0.0.1:${STATUS_PORT}']`, ''].join('\n'),
  );
  start(
    t,
    progs.prometheus,
    [`--config.file=${config}`, `--storage.tsdb.path=${join(lab.dir, 'prom-data')}`, `--web.listen-address=127.0.0.1:${PROM_PORT}`, '--log.level=warn'],
    { ns: lab.link.server },
  );
  await bootNode(lab);

  const query = async (q: string): Promise<QueryResult> => {
    const r = await run(progs.curl, ['-s', '--get', '--data-urlencode', `query=${q}`, `http://127.0.0.1:${PROM_PORT}/api/v1/query`], { ns: lab.link.server, timeoutMs: 10_000 });
    return r.stdout ? (JSON.parse(r.stdout) as QueryResult) : { status: 'down', data: { result: [] } };
  };
  // Prometheus scrapes once a second and announces nothing: its query API is asked until the node shows.
  let up: QueryResult | undefined;
  await untilAsync(
    async () => {
      up = await query('netboot_nodes{stage="up"}');
      return up.status === 'success' && up.data.result[0]?.value[1] === '1';
    },
    'Prometheus to have scraped the node up',
    60_000,
  );
  t.equal(up?.data.result[0]?.value[1], '1', 'netboot_nodes{stage="up"} is 1 in Prometheus');
  t.equal(up?.data.result[0]?.metric.job, 'netboot');

  const reads = await query('netboot_requests_total{protocol="nfs",operation="READ",status="OK"}');
  t.ok(Number(reads.data.result[0]?.value[1]) >= 1, 'NFS READs counted');
  const boot = await query('netboot_boot_duration_seconds_count');
  t.equal(boot.data.result[0]?.value[1], '1', 'one boot timed');
  const stages = await query('sum by (stage) (netboot_stage_duration_seconds_count)');
  t.same(
    stages.data.result.map((r) => r.metric.stage).sort(),
    ['dhcp', 'init', 'kernel', 'loader', 'mounted'],
    'a duration for every stage the node left',
  );
  const targets = await run(progs.curl, ['-s', `http://127.0.0.1:${PROM_PORT}/api/v1/targets`], { ns: lab.link.server, timeoutMs: 10_000 });
  t.match(targets.stdout, /"health":"up"/, 'the scrape target is healthy (the text format parsed)');
});
