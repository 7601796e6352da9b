import { createNfsService, MOUNTD_PORT, NFS_PORT } from '@netboot/nfs3';
import { portFlag } from '../command.js';
import type { Log, RunningService } from './running-service.js';

export interface NfsSettings {
  exportsFile: string;
  listen?: string;
  nfsPort?: string;
  mountdPort?: string;
  portmapPort?: string;
  stateDir: string;
}

/** portmap (unless one already answers), mountd and NFS, from an exports file. */
export async function startNfs(s: NfsSettings, log: Log): Promise<RunningService> {
  const service = await createNfsService({
    exportsFile: s.exportsFile,
    listen: s.listen,
    nfsPort: portFlag(s.nfsPort, '--nfs-port', NFS_PORT),
    mountdPort: portFlag(s.mountdPort, '--mountd-port', MOUNTD_PORT),
    portmapPort: portFlag(s.portmapPort, '--portmap-port', 111),
    stateDir: s.stateDir,
    log,
  });
  const address = s.listen ?? '0.0.0.0';
  return {
    name: 'nfs',
    endpoints: [
      ...(service.ownPortmap ? [{ service: 'portmap (100000 v2-4)', proto: 'udp+tcp' as const, address, port: service.portmapPort }] : []),
      { service: 'mountd (100005 v1,v3)', proto: 'udp+tcp', address, port: service.mountdPort },
      { service: 'nfs (100003 v3)', proto: 'udp+tcp', address, port: service.nfsPort },
    ],
    reload: () => service.reload(),
    close: () => service.close(),
  };
}
