import { MOUNTD_PORT, NFS_PORT } from '@netboot/nfs3';
import { type Command, UsageError, parseFlags, stringFlag, untilSignalled } from '../command.js';
import { serveUntilSignalled } from '../serve/until-signalled.js';
import { startNfs } from '../serve/nfs-runner.js';

const usage = `usage: netboot nfs --exports FILE [flags]

Serves the directories of an exports(5) file over NFSv3 and MOUNT v1/v3 on
UDP and TCP, with file locking (NLM v4 and NSM v1, what rpc.lockd and
rpc.statd serve), registered with the portmapper on port 111 (netboot runs
its own when none answers there). Logs every mount and unmount. SIGHUP
re-reads the exports file; SIGINT/SIGTERM unregister and stop.

flags:
  --exports FILE       the exports file (required), e.g. /etc/exports
  --listen ADDR        address to serve on (default 0.0.0.0)
  --nfs-port N         NFS port (default ${NFS_PORT})
  --mountd-port N      MOUNT port (default ${MOUNTD_PORT})
  --portmap-port N     portmapper port (default 111)
  --nlm-port N         NLM and NSM port (default: one the kernel picks)
  --no-lock            no NLM/NSM: clients must mount with -o nolock
  --state-dir DIR      keeps the handle key and the mount list, so clients
                       survive a restart (default /var/lib/netboot/nfs); a
                       node made with add-node --image and this --state-dir
                       is served as its image under its own writable layer
  --nfs-workers N      threads serving NFS over TCP (default: the number of
                       cores, at most 16); the main thread accepts connections,
                       hands each to the thread serving fewest, and keeps UDP,
                       MOUNT, the portmapper and locking; 1 serves everything
                       on the main thread
  --handle-key FILE    sign file handles with this 32-byte key instead of the
                       state directory's: two servers of the same tree given
                       the same file accept each other's handles`;

export const nfs: Command = {
  name: 'nfs',
  summary: 'serve exports over NFSv3 and MOUNT with NLM/NSM locking, registered with the portmapper',
  usage,
  async run(argv) {
    const flags = parseFlags(argv, {
      exports: { type: 'string' },
      listen: { type: 'string' },
      'nfs-port': { type: 'string' },
      'mountd-port': { type: 'string' },
      'portmap-port': { type: 'string' },
      'state-dir': { type: 'string' },
      'handle-key': { type: 'string' },
      'nlm-port': { type: 'string' },
      'no-lock': { type: 'boolean' },
      'nfs-workers': { type: 'string' },
    });
    const exportsFile = stringFlag(flags, 'exports');
    if (!exportsFile) throw new UsageError('--exports FILE is required');
    const log = (line: string) => console.log(line);
    const signalled = untilSignalled();
    const service = await startNfs(
      {
        exportsFile,
        listen: stringFlag(flags, 'listen'),
        nfsPort: stringFlag(flags, 'nfs-port'),
        mountdPort: stringFlag(flags, 'mountd-port'),
        portmapPort: stringFlag(flags, 'portmap-port'),
        nlmPort: stringFlag(flags, 'nlm-port'),
        noLock: flags.values['no-lock'] === true,
        stateDir: stringFlag(flags, 'state-dir') ?? '/var/lib/netboot/nfs',
        imageStateDir: stringFlag(flags, 'state-dir') ?? '/var/lib/netboot',
        handleKey: stringFlag(flags, 'handle-key'),
        nfsWorkers: stringFlag(flags, 'nfs-workers'),
      },
      log,
    );
    return serveUntilSignalled(service, signalled, log, 'keeping the running exports');
  },
};
