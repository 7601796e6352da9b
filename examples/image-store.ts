import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageStore, TarParser } from '@netboot/image-store';

const dir = await mkdtemp(join(tmpdir(), 'image-store-example-'));
await mkdir(join(dir, 'rootfs/etc'), { recursive: true });
await writeFile(join(dir, 'rootfs/etc/os-release'), 'ID=debian\n');

// Two generations of one image: the second shares every unchanged file with the first.
const store = new ImageStore(join(dir, 'state'));
const first = await store.import('debian', { kind: 'directory', path: join(dir, 'rootfs') });
await writeFile(join(dir, 'rootfs/etc/motd'), 'updated\n');
const second = await store.import('debian', { kind: 'directory', path: join(dir, 'rootfs') });
console.log(first.generation, second.generation, second.stats.filesShared); // 1 2 1
await store.promote('debian', second.generation);
console.log(await store.list()); // [ { name: 'debian', generations: [ 1, 2 ], promoted: 2 } ]

// The tar reader alone: sans-I/O, events whose data are views into the chunk pushed.
const parser = new TarParser();
const events = parser.push(new Uint8Array(1024)); // two zero blocks: an empty archive
parser.end();
console.log(events.length); // 0
await rm(dir, { recursive: true });
