import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { native } from '@netboot/platform';
import { createNfsService } from '@netboot/nfs3';
import { run } from './support/processes.js';
import { requirePrograms, requireThat } from './support/programs.js';

/*
 * libnfs' programs (each run is one MOUNT and one NFS connection) against a
 * service on two NFS worker threads, on loopback: connections spread over
 * both workers, a file written through one is read whole through the other,
 * and an export added by a reload is served by both.
 */

t.test('libnfs against NFS on two worker threads', async (t) => {
  if (!requireThat(t, native !== undefined, 'NFS worker threads need the platform module (npm rebuild @netboot/platform)')) return;
  const progs = requirePrograms(t, { 'nfs-cat': 'libnfs-utils', 'nfs-cp': 'libnfs-utils', 'nfs-ls': 'libnfs-utils' });
  if (!progs) return;
  const dir = mkdtempSync(join(tmpdir(), 'nfs-libnfs-workers-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const exp = join(dir, 'export');
  const later = join(dir, 'later');
  mkdirSync(join(exp, 'etc'), { recursive: true });
  mkdirSync(later);
  writeFileSync(join(exp, 'etc', 'hostname'), 'node-1\n');
  writeFileSync(join(later, 'new.txt'), 'later\n');
  const exportsFile = join(dir, 'exports');
  writeFileSync(exportsFile, `${exp} 127.0.0.1(rw,no_root_squash,insecure)\n`);
  const lines: string[] = [];
  const svc = await createNfsService({
    exportsFile,
    listen: '127.0.0.1',
    nfsPort: 0,
    mountdPort: 0,
    portmapPort: 0,
    stateDir: join(dir, 'state'),
    log: (l) => lines.push(l),
    workers: 2,
  });
  t.teardown(() => svc.close());
  const url = (path: string) => `nfs://127.0.0.1${path}?version=3&nfsport=${svc.nfsPort}&mountport=${svc.mountdPort}`;
  const client = (name: 'nfs-cat' | 'nfs-cp' | 'nfs-ls', args: string[]) => run(progs[name], args, { timeoutMs: 60_000 });

  const payload = Buffer.alloc(3 * 1024 * 1024 + 123);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + (i >> 12)) & 0xff;
  writeFileSync(join(dir, 'up.bin'), payload);
  const up = await client('nfs-cp', [join(dir, 'up.bin'), url(`${exp}/up.bin`)]);
  t.equal(up.code, 0, `nfs-cp up: ${up.stderr}`);
  const handedAfterUp = svc.workers!.handed();
  const cats = [];
  for (let i = 0; i < 4; i++) cats.push(await client('nfs-cat', [url(`${exp}/etc/hostname`)]));
  for (const c of cats) t.equal(c.stdout, 'node-1\n', 'nfs-cat reads the file');
  const down = await client('nfs-cp', [url(`${exp}/up.bin`), join(dir, 'down.bin')]);
  t.equal(down.code, 0, `nfs-cp down: ${down.stderr}`);
  t.ok(readFileSync(join(dir, 'down.bin')).equals(payload), 'the file written through one connection reads back whole through another');
  const handed = svc.workers!.handed();
  t.ok(handed.every((n) => n >= 3), `six connections went to both workers (${handed.join(' and ')})`);
  t.not(handedAfterUp[0], handedAfterUp[1], 'the upload was one connection, on one worker');

  writeFileSync(exportsFile, `${exp} 127.0.0.1(rw,no_root_squash,insecure)\n${later} 127.0.0.1(ro,insecure)\n`);
  await svc.reload();
  const before = svc.workers!.handed();
  for (let i = 0; i < 2; i++) {
    const ls = await client('nfs-ls', [url(later)]);
    t.equal(ls.code, 0, ls.stderr);
    t.match(ls.stdout, /new\.txt/, `nfs-ls ${i + 1} lists the export added by the reload`);
  }
  const after = svc.workers!.handed();
  t.same(after.map((n, i) => n - before[i]), [1, 1], 'the two listings were served by different workers');
  t.match(lines.join('\n'), /NFS over TCP on 2 worker threads/);
});
