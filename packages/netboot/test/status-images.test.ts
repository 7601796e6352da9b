import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeRoots } from '@netboot/image-store';
import { BootMonitor } from '../src/observe/boot-monitor.js';
import { statusTable } from '../src/observe/status-client.js';

const IP = '198.18.4.21';

t.test('status shows the image generation a node runs, and a node still on an old one', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'status-images-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const src = join(dir, 'rootfs');
  mkdirSync(join(src, 'etc'), { recursive: true });
  writeFileSync(join(src, 'etc/motd'), 'one\n');
  const state = join(dir, 'state');
  const roots = new NodeRoots(state);
  await roots.store.import('deb', { kind: 'directory', path: src });
  await roots.add({ ip: IP, image: 'deb', root: `/diskless/${IP}` });
  const monitor = await BootMonitor.open({ stateDir: state, log: () => {} });
  t.teardown(() => monitor.close());
  const fs = (await roots.open(`/diskless/${IP}`))!;
  const mount = async () => {
    await fs.mounted!(IP);
    monitor.hooks.mount({ op: 'MNT', address: IP, path: `/diskless/${IP}`, version: 3, granted: true });
    await monitor.images.refresh();
  };
  await mount();
  const node = () => monitor.nodes().find((n) => n.ip === IP)!;
  t.same(node().image, { name: 'deb', generation: 1, next: 1, promoted: 1, pinned: false, old: false });
  t.match(statusTable(monitor.nodes(), Date.now()), /198\.18\.4\.21\s+-\s+\S+\s+deb:1\s/);

  writeFileSync(join(src, 'etc/motd'), 'two\n');
  await roots.store.import('deb', { kind: 'directory', path: src });
  await roots.store.promote('deb', 2);
  await monitor.images.refresh();
  t.same(node().image, { name: 'deb', generation: 1, next: 2, promoted: 2, pinned: false, old: true }, 'promoted: the running node is on an old generation');
  t.match(statusTable(monitor.nodes(), Date.now()), /deb:1 old \(next boot 2\)/);
  await mount();
  t.match(node().image, { generation: 2, old: false }, 'its boot picks up generation 2');
  await roots.pin(IP, 1);
  await mount();
  t.match(statusTable(monitor.nodes(), Date.now()), /deb:1 pinned/, 'a canary pinned to 1');
  t.equal(monitor.nodes().filter((n) => n.ip !== IP).length, 0);
});
