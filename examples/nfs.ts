import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MountClient } from '@netboot/mountd';
import { NfsClient, createNfsService } from '@netboot/nfs3';

const dir = await mkdtemp(join(tmpdir(), 'nfs-example-'));
const exported = join(dir, 'export');
await mkdir(exported);
await writeFile(join(exported, 'hello.txt'), 'Hello over NFSv3.\n');
await writeFile(join(dir, 'exports'), `${exported} 127.0.0.1(ro,insecure)\n`);

// NFS and mountd in this process, registered with the portmapper on portmapPort (one is started
// when none answers there); port 0 picks a free port (the defaults are 2049, 20048 and 111).
const service = await createNfsService({
  exportsFile: join(dir, 'exports'),
  listen: '127.0.0.1',
  nfsPort: 0,
  mountdPort: 0,
  portmapPort: 0,
  stateDir: join(dir, 'state'), // handle key and mount list, so handles survive a restart
  log: () => {},
});

// A client mounts the export (MOUNT v3), then looks up and reads a file (NFSv3).
const mount = await MountClient.connect({ host: '127.0.0.1', port: service.mountdPort, transport: 'udp' });
const mounted = await mount.mnt(exported);
mount.close();
if (mounted.status !== 0) throw new Error(`MNT refused: status ${mounted.status}`);
const nfs = await NfsClient.connect({ host: '127.0.0.1', port: service.nfsPort, transport: 'tcp' });
const found = await nfs.lookup(Buffer.from(mounted.fhandle), 'hello.txt');
if (found.status !== 0) throw new Error(`LOOKUP failed: status ${found.status}`);
const read = await nfs.read(found.object, 0n, 4096);
if (read.status !== 0) throw new Error(`READ failed: status ${read.status}`);
process.stdout.write(read.data);

nfs.close();
await service.reload(); // after the exports file changed (SIGHUP in netboot); a file with errors changes nothing
await service.close(); // unregisters from the portmapper, closes every socket
await rm(dir, { recursive: true });
